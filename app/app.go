// Package app assembles keycard from a config.Config: database, migrations,
// signing keys, the auth service, background work and the HTTP handler. It
// is the only package that knows every other one; server.go and the
// integration tests both start keycard through it.
package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/metrics"
	"github.com/keycard/keycard/passkey"
	"github.com/keycard/keycard/ratelimit"
	"github.com/keycard/keycard/requestlog"
	"github.com/keycard/keycard/store"
)

// Options are what tests and benchmarks may swap; zero values mean the
// production choice.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for token times, sessions and revocations.
	Now func() time.Time
	// PasswordParams overrides the argon2id cost (tests use a cheap one).
	PasswordParams *auth.Argon2Params
	// ObserveQueries, when set, is called with every statement keycard
	// runs against the database (tests count them).
	ObserveQueries func(ctx context.Context, statement string)
	// NoBackground leaves the background work (revocation sync, audit
	// writer, janitor) unstarted, for one-shot commands.
	NoBackground bool
	// Build is what the binary knows about its build, for the
	// keycard_build_info metric.
	Build metrics.BuildInfo
}

// App is a running keycard.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	store   *store.Store
	service *auth.Service
	tokens  *auth.Tokens
	signer  auth.SigningKey
	// generatedKey is set when the signing key is development's, made and
	// kept in the database rather than configured.
	generatedKey bool
	revocations  *auth.Revocations
	metrics      *metrics.Metrics
	handler      http.Handler

	stopBackground context.CancelFunc
	background     sync.WaitGroup
	closeOnce      sync.Once
	// closers release what init opened besides the database.
	closers []func() error
}

// devSecretSetting names the settings row that keeps the generated
// development secret, so tokens survive restarts and every process sharing
// the database signs with the same key.
const devSecretSetting = "jwt_secret_development"

// New opens the database, migrates it as cfg.Migrate says and starts
// keycard's background work. Close releases it all.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Every line logged with a request's context carries its request id,
	// trace id, and the user and session once known.
	log := slog.New(requestlog.NewHandler(opts.Logger.Handler()))
	// Checked before anything is opened: a typo in an override must stop
	// the start, not loosen a limit. server.go reports these with the
	// configuration's own errors; this is for every other caller.
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	limits, _ := rateLimits(cfg)
	open := store.Open
	if cfg.Migrate != config.MigrateAuto {
		// The schema is someone else's job: create no database, and fail
		// on a missing one rather than serve an empty one.
		open = store.OpenExisting
	}
	db, err := open(ctx, cfg.DatabaseURL, opts.Now)
	if err != nil {
		return nil, err
	}
	if opts.ObserveQueries != nil {
		db.Observe(opts.ObserveQueries)
	}
	a := &App{cfg: cfg, log: log, db: db, store: store.New(db, cfg.DatabaseTimeout)}
	if err := a.init(ctx, opts, limits); err != nil {
		a.Close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	a.stopBackground = cancel
	if !opts.NoBackground {
		a.goBackground(func() { a.revocations.Run(bg, a.store, cfg.RevocationSyncInterval, log) })
		a.goBackground(func() { a.service.RunBackground(bg) })
		a.goBackground(func() { a.service.RunJanitor(bg, cfg.JanitorInterval, log) })
	}
	return a, nil
}

func (a *App) goBackground(fn func()) {
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		fn()
	}()
}

func (a *App) init(ctx context.Context, opts Options, limits auth.RateLimits) error {
	a.warnReadableDatabase()
	// Served by the caller (server.go), but checked here with the other
	// key files, before anything is started.
	if err := a.checkPrivateFile("KEYCARD_TLS_KEY", a.cfg.TLSKey); err != nil {
		return err
	}
	if err := a.migrate(ctx); err != nil {
		return err
	}
	signer, verifiers, err := a.signingKeys(ctx)
	if err != nil {
		return err
	}
	a.signer = signer
	tokens, err := auth.NewTokens(auth.TokenConfig{
		Issuer:    a.cfg.Issuer,
		Audience:  a.cfg.Audience,
		TTL:       a.cfg.AccessTTL,
		Leeway:    a.cfg.TokenLeeway,
		Signer:    signer,
		Verifiers: verifiers,
		Now:       opts.Now,
	})
	if err != nil {
		return err
	}
	a.tokens = tokens
	params := auth.OWASPParams()
	if opts.PasswordParams != nil {
		params = *opts.PasswordParams
	}
	passwords, err := auth.NewPasswords(params, a.cfg.HashConcurrency)
	if err != nil {
		return err
	}
	limiter, err := a.limiter(ctx, opts.Now)
	if err != nil {
		return err
	}
	// The user cache is made first: the service reads through it and the
	// revocation sync drops users that other processes changed.
	users := auth.NewUserCache()
	a.revocations = auth.NewRevocations(opts.Now, a.cfg.RevocationMaxStaleness, users.Forget)
	pools := map[string]*sql.DB{"keycard": a.db.SQL}
	if a.db.ReadSQL != a.db.SQL {
		pools["keycard_read"] = a.db.ReadSQL
	}
	a.metrics = metrics.New(pools, opts.Build)
	relyingParty, err := a.relyingParty(ctx)
	if err != nil {
		return err
	}
	a.service, err = auth.NewService(a.store, passwords, tokens, a.revocations, users, auth.Options{
		RefreshTTL:           a.cfg.RefreshTTL,
		RefreshReuseInterval: a.cfg.RefreshReuseInterval,
		AuditRetention:       a.cfg.AuditRetention,
		MaxSessionsPerUser:   a.cfg.MaxSessionsPerUser,
		Limiter:              limiter,
		RateLimits:           limits,
		IPv6Prefix:           a.cfg.RateLimitIPv6Prefix,
		Observer:             a.metrics,
		RelyingParty:         relyingParty,
		Now:                  opts.Now,
		Logger:               a.log,
	})
	if err != nil {
		return err
	}
	a.metrics.WatchService(a.service.Stats, a.cfg.RevocationMaxStaleness)
	if err := a.revocations.Sync(ctx, a.store); err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	a.handler = a.routes()
	return nil
}

// relyingParty is the passkeys' WebAuthn relying party, or nil when
// passkeys are off (production without KEYCARD_WEBAUTHN_RP_ID and
// KEYCARD_WEBAUTHN_ORIGINS): their operations then answer UNAVAILABLE. But
// when passkeys are registered already, a relying party that went missing
// is a deployment mistake that would lock their owners out of passkey
// login, so the start stops instead.
func (a *App) relyingParty(ctx context.Context) (auth.RelyingParty, error) {
	w := a.cfg.WebAuthn
	if w.Enabled() {
		rp, err := passkey.New(passkey.Config{RPID: w.RPID, RPName: w.RPName, Origins: w.Origins})
		if err != nil {
			return nil, err
		}
		return rp, nil
	}
	registered, err := a.store.HasPasskeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("check for passkeys: %w", err)
	}
	if registered {
		return nil, errors.New("passkeys are registered but KEYCARD_WEBAUTHN_RP_ID and KEYCARD_WEBAUTHN_ORIGINS are not set: set them to the values the passkeys were registered with (the RP ID cannot change without making them unusable)")
	}
	a.log.Info("passkeys are off: set KEYCARD_WEBAUTHN_RP_ID and KEYCARD_WEBAUTHN_ORIGINS to turn them on")
	return nil, nil
}

// migrate does what KEYCARD_MIGRATE says: apply pending migrations (auto),
// refuse to start while some are pending (check), or nothing (off).
func (a *App) migrate(ctx context.Context) error {
	if a.cfg.Migrate == config.MigrateOff {
		return nil
	}
	migrator, err := a.db.Migrator(nil)
	if err != nil {
		return err
	}
	if a.cfg.Migrate == config.MigrateCheck {
		pending, err := migrator.Pending(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			names := make([]string, len(pending))
			for i, p := range pending {
				names[i] = p.Path
			}
			return fmt.Errorf("KEYCARD_MIGRATE=check: %d migration(s) pending (%s); run keycard migrate up with a user allowed to change the schema, then start again", len(pending), strings.Join(names, ", "))
		}
		return nil
	}
	applied, err := migrator.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, m := range applied {
		a.log.Info("migration applied", "version", m.Source.Version, "file", m.Source.Path)
	}
	return nil
}

// CheckConfig reports what config.LoadEnv cannot know is wrong: names
// that only auth knows (rate-limit operations and dimensions) and the
// database URL's syntax. Nothing is opened, so a caller can report these
// together with the configuration's own errors before starting anything.
func CheckConfig(cfg config.Config) error {
	_, limitsErr := rateLimits(cfg)
	return errors.Join(limitsErr, store.CheckURL(cfg.DatabaseURL))
}

// limiter is where rate-limit buckets live: Redis when configured (shared
// by every instance), else this process.
func (a *App) limiter(ctx context.Context, now func() time.Time) (auth.Limiter, error) {
	switch {
	case a.cfg.RateLimitsOff:
		return nil, nil
	case a.cfg.RedisURL != "":
		r, err := ratelimit.NewRedis(ctx, a.cfg.RedisURL, now, a.log)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, r.Close)
		return r, nil
	default:
		return ratelimit.NewMemory(now), nil
	}
}

// rateLimits are the built-in rate limits with KEYCARD_RATE_LIMITS
// applied; auth refuses an override of an operation or dimension it does
// not know, naming the ones it does.
func rateLimits(cfg config.Config) (auth.RateLimits, error) {
	limits := auth.DefaultRateLimits()
	overrides := make([]auth.RateLimitOverride, len(cfg.RateLimits))
	for i, l := range cfg.RateLimits {
		overrides[i] = auth.RateLimitOverride{Operation: l.Operation, Dimension: l.Dimension, Rate: auth.Rate{Events: l.Events, Per: l.Per}}
	}
	if err := limits.Override(overrides); err != nil {
		return nil, fmt.Errorf("KEYCARD_RATE_LIMITS: %w", err)
	}
	return limits, nil
}

// signingKeys returns the key that signs new tokens and the earlier keys
// that still verify. HS256 signs with KEYCARD_JWT_SECRET; the others with
// the PEM key in KEYCARD_JWT_KEY_FILE. In development either is generated
// once and kept in the database when not configured.
func (a *App) signingKeys(ctx context.Context) (auth.SigningKey, []auth.SigningKey, error) {
	alg := a.cfg.JWTAlg
	if alg == auth.AlgHS256 {
		secret, err := a.signingSecret(ctx)
		return auth.NewHMACKey(secret), nil, err
	}
	var pemKey []byte
	var err error
	if a.cfg.JWTKeyFile != "" {
		if err := a.checkPrivateFile("KEYCARD_JWT_KEY_FILE", a.cfg.JWTKeyFile); err != nil {
			return auth.SigningKey{}, nil, err
		}
		if pemKey, err = os.ReadFile(a.cfg.JWTKeyFile); err != nil {
			return auth.SigningKey{}, nil, fmt.Errorf("KEYCARD_JWT_KEY_FILE: %w", err)
		}
	} else {
		if pemKey, err = a.devPrivateKey(ctx, alg); err != nil {
			return auth.SigningKey{}, nil, err
		}
	}
	signer, err := auth.ParseSigningKey(alg, pemKey)
	if err != nil {
		return auth.SigningKey{}, nil, fmt.Errorf("signing key for %s: %w", alg, err)
	}
	var verifiers []auth.SigningKey
	for _, file := range a.cfg.JWTVerifyKeyFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return auth.SigningKey{}, nil, fmt.Errorf("KEYCARD_JWT_VERIFY_KEY_FILES: %w", err)
		}
		if err := a.checkVerifyKeyFile(file, data); err != nil {
			return auth.SigningKey{}, nil, err
		}
		key, err := auth.ParseVerificationKey(alg, data)
		if err != nil {
			return auth.SigningKey{}, nil, fmt.Errorf("verification key %s: %w", file, err)
		}
		if key.ID != signer.ID && !slices.ContainsFunc(verifiers, func(k auth.SigningKey) bool { return k.ID == key.ID }) {
			verifiers = append(verifiers, key) // each key once, however often listed
		}
	}
	return signer, verifiers, nil
}

// devPrivateKey is a private key generated once per algorithm and kept in
// the database, for development without a key file.
func (a *App) devPrivateKey(ctx context.Context, alg string) ([]byte, error) {
	if a.cfg.Mode == config.Production {
		return nil, errors.New("KEYCARD_JWT_KEY_FILE is required in production")
	}
	fresh, err := auth.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	stored, err := a.store.SettingOrInit(ctx, "jwt_private_key_development_"+alg, string(fresh))
	if err != nil {
		return nil, fmt.Errorf("development signing key: %w", err)
	}
	a.generatedKey = true
	return []byte(stored), nil
}

// signingSecret is KEYCARD_JWT_SECRET, or in development a secret generated
// once and kept in the database.
func (a *App) signingSecret(ctx context.Context) ([]byte, error) {
	if a.cfg.JWTSecret != "" {
		return []byte(a.cfg.JWTSecret), nil
	}
	if a.cfg.Mode == config.Production {
		return nil, errors.New("KEYCARD_JWT_SECRET is required in production")
	}
	var fresh [48]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, err
	}
	stored, err := a.store.SettingOrInit(ctx, devSecretSetting, base64.RawURLEncoding.EncodeToString(fresh[:]))
	if err != nil {
		return nil, fmt.Errorf("development signing secret: %w", err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(stored)
	if err != nil || len(secret) < config.MinSecretBytes {
		return nil, errors.New("stored development signing secret is corrupt; delete the settings row " + devSecretSetting)
	}
	a.generatedKey = true
	return secret, nil
}

// Startup is what a running keycard decided from its configuration, for
// the start-up log line.
type Startup struct {
	// SigningAlg and KeyID are the key that signs new tokens.
	SigningAlg, KeyID string
	// GeneratedKey is set when that key is development's, generated and
	// kept in the database: fine on a laptop, never for real deployments.
	GeneratedKey bool
	// RateLimits is where rate-limit buckets live: memory, redis (with
	// the URL, password masked), or off.
	RateLimits string
}

// Startup describes the running keycard.
func (a *App) Startup() Startup {
	limits := "memory"
	switch {
	case a.cfg.RateLimitsOff:
		limits = "off"
	case a.cfg.RedisURL != "":
		limits = "redis " + store.Redact(a.cfg.RedisURL)
	}
	return Startup{SigningAlg: a.signer.Method.Alg(), KeyID: a.signer.ID, GeneratedKey: a.generatedKey, RateLimits: limits}
}

// Handler is keycard's HTTP interface.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves the Prometheus metrics (for a separate listener).
func (a *App) MetricsHandler() http.Handler { return a.metrics.Handler() }

// Service is the auth service, for in-process callers.
func (a *App) Service() *auth.Service { return a.service }

// Close stops background work and closes the database. It is safe to call
// more than once.
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		if a.stopBackground != nil {
			a.stopBackground()
		}
		a.background.Wait()
		for _, c := range a.closers {
			err = errors.Join(err, c())
		}
		err = errors.Join(err, a.db.Close())
	})
	return err
}
