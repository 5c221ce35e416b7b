// Package app assembles keycard from a config.Config: database, migrations,
// signing keys, the auth service, background work and the HTTP handler. It
// is the only package that knows every other one; server.go and the
// integration tests both start keycard through it.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
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
}

// App is a running keycard.
type App struct {
	cfg         config.Config
	log         *slog.Logger
	db          *store.DB
	store       *store.Store
	service     *auth.Service
	revocations *auth.Revocations
	handler     http.Handler

	stopBackground context.CancelFunc
	background     sync.WaitGroup
	closeOnce      sync.Once
}

// devSecretSetting names the settings row that keeps the generated
// development secret, so tokens survive restarts and every process sharing
// the database signs with the same key.
const devSecretSetting = "jwt_secret_development"

// New opens the database, applies pending migrations and starts keycard's
// background work. Close releases it all.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	db, err := store.Open(ctx, cfg.DatabaseURL, opts.Now)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if opts.ObserveQueries != nil {
		db.Observe(opts.ObserveQueries)
	}
	a := &App{cfg: cfg, log: log, db: db, store: store.New(db)}
	if err := a.init(ctx, opts); err != nil {
		db.Close()
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

func (a *App) init(ctx context.Context, opts Options) error {
	migrator, err := a.db.Migrator(nil)
	if err != nil {
		return err
	}
	applied, err := migrator.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, m := range applied {
		a.log.Info("migration applied", "version", m.Source.Version, "file", m.Source.Path)
	}
	secret, err := a.signingSecret(ctx)
	if err != nil {
		return err
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{
		Issuer:   a.cfg.Issuer,
		Audience: a.cfg.Audience,
		TTL:      a.cfg.AccessTTL,
		Leeway:   a.cfg.TokenLeeway,
		Signer:   auth.NewHMACKey(secret),
		Now:      opts.Now,
	})
	if err != nil {
		return err
	}
	params := auth.OWASPParams()
	if opts.PasswordParams != nil {
		params = *opts.PasswordParams
	}
	passwords, err := auth.NewPasswords(params, 0)
	if err != nil {
		return err
	}
	a.revocations = auth.NewRevocations(opts.Now, a.cfg.RevocationMaxStaleness)
	a.service, err = auth.NewService(a.store, passwords, tokens, a.revocations, auth.Options{
		RefreshTTL:           a.cfg.RefreshTTL,
		RefreshReuseInterval: a.cfg.RefreshReuseInterval,
		AuditRetention:       a.cfg.AuditRetention,
		Now:                  opts.Now,
		Logger:               a.log,
	})
	if err != nil {
		return err
	}
	if err := a.revocations.Sync(ctx, a.store); err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	a.handler = a.routes()
	return nil
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
	a.log.Warn("development mode: using the signing secret generated and stored in the database; set KEYCARD_JWT_SECRET and KEYCARD_ENV=production for real deployments")
	return secret, nil
}

// Handler is keycard's HTTP interface.
func (a *App) Handler() http.Handler { return a.handler }

// Service is the auth service, for in-process callers.
func (a *App) Service() *auth.Service { return a.service }

// Close stops background work and closes the database. It is safe to call
// more than once.
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		a.stopBackground()
		a.background.Wait()
		err = a.db.Close()
	})
	return err
}
