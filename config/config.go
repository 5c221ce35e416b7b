// Package config reads keycard's settings from the environment, once, into
// a Config that the rest of the program is built from. It checks syntax and
// the rules between settings; what a value means to a package is that
// package's to check (the rate-limit names are auth's). It imports only the
// standard library.
//
// The parsing is written by hand rather than with caarlos0/env for two
// reasons. The environment is injected: LoadEnv reads through a lookup
// function and a listing of the names (os.LookupEnv and os.Environ in main,
// a map in tests), so tests never touch the process environment and still
// tell an unset variable from an empty one. And every problem is reported
// at once, syntax and cross-setting rules
// alike (a refresh TTL shorter than the access TTL, production without a
// key), each saying how to fix it: a library would aggregate only its own
// parse errors and leave the rules, and their wording, to a second pass.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Mode is development or production.
type Mode string

const (
	Development Mode = "development"
	Production  Mode = "production"
)

// Migrate says what start-up does about the database schema.
type Migrate string

const (
	// MigrateAuto creates a missing database and applies pending
	// migrations: one command from nothing to serving.
	MigrateAuto Migrate = "auto"
	// MigrateOff touches neither: the schema is a separate job's
	// (keycard migrate up with an administrator's URL), and keycard runs
	// with a user that may only read and write rows.
	MigrateOff Migrate = "off"
	// MigrateCheck is MigrateOff that refuses to start while migrations
	// are pending, so a rollout that forgot the migration job fails at
	// once rather than at the first query of a new column.
	MigrateCheck Migrate = "check"
)

// MinSecretBytes is the shortest HMAC secret accepted: HS256 keys shorter
// than the hash output weaken it (RFC 7518 §3.2).
const MinSecretBytes = 32

// Config is every setting of the server.
type Config struct {
	Addr        string
	DatabaseURL string
	// Migrate is what start-up does about the schema.
	Migrate   Migrate
	JWTSecret string
	// JWTAlg is the signing algorithm; JWTKeyFile the PEM private key for
	// EdDSA, ES256 and RS256; JWTVerifyKeyFiles earlier keys that still
	// verify.
	JWTAlg            string
	JWTKeyFile        string
	JWTVerifyKeyFiles []string
	Mode              Mode
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	Issuer            string
	Audience          string
	// TokenLeeway tolerates clock skew when checking exp, nbf and iat.
	TokenLeeway time.Duration
	// DatabaseTimeout bounds one database call (a transaction counts as
	// one): past it the request answers UNAVAILABLE.
	DatabaseTimeout time.Duration
	// RevocationSyncInterval is how often revocations made by other
	// processes are pulled from the database.
	RevocationSyncInterval time.Duration
	// RevocationMaxStaleness is how old the in-memory revocation list may
	// get (sync failing) before requests bearing tokens answer UNAVAILABLE.
	RevocationMaxStaleness time.Duration
	// RefreshReuseInterval is how long a just-rotated refresh token is
	// still accepted (0: never; any reuse revokes the session).
	RefreshReuseInterval time.Duration
	// JanitorInterval is how often expired rows are deleted.
	JanitorInterval time.Duration
	// AuditRetention is how long audit events are kept (0: forever).
	AuditRetention time.Duration
	// MaxSessionsPerUser caps one user's live sessions; a sign-in beyond
	// it ends the oldest.
	MaxSessionsPerUser int
	// HashConcurrency is how many password hashes may run at once (0:
	// half the cores, at least one).
	HashConcurrency int
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration

	// RateLimits override the built-in limits; RateLimitsOff disables
	// rate limiting altogether.
	RateLimits    []RateLimit
	RateLimitsOff bool
	// RateLimitIPv6Prefix is the prefix length per-address limits group
	// IPv6 clients by.
	RateLimitIPv6Prefix int
	// RedisURL, when set, shares rate-limit buckets between instances.
	RedisURL string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// Introspection enables GraphQL introspection (default: on in
	// development, off in production).
	Introspection bool
	// Playground serves GraphiQL at GET / (default: on in development,
	// off in production).
	Playground bool
	GraphQL    GraphQLLimits

	// TLSCert and TLSKey, together, make keycard serve HTTPS itself.
	TLSCert, TLSKey string
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// RefreshCookie turns on browser cookie mode.
	RefreshCookie bool
	// IntrospectionToken guards /oauth/introspect (empty: disabled).
	IntrospectionToken string
	// MetricsAddr is where Prometheus metrics are served (empty: off).
	MetricsAddr string
	// PublicURL is keycard's external base URL, for the absolute URLs of
	// the OAuth metadata and the default Issuer (see publicURLs).
	PublicURL string
	// WebAuthn is the passkeys' relying party (see webAuthn).
	WebAuthn WebAuthn

	// Unknown are the KEYCARD_* variables set that keycard does not read:
	// refused in production, warned about in development.
	Unknown []UnknownVar
}

// UnknownVar is a KEYCARD_* variable that no setting reads, with the known
// name nearest to it (empty when none is near), so KEYCARD_JWT_SECERT is
// reported instead of silently leaving the secret unset.
type UnknownVar struct {
	Name, Suggestion string
}

func (u UnknownVar) String() string {
	if u.Suggestion == "" {
		return u.Name + " is not a keycard variable"
	}
	return u.Name + " is not a keycard variable; did you mean " + u.Suggestion + "?"
}

// RateLimit is one override of KEYCARD_RATE_LIMITS: Events per Per for an
// operation counted per a dimension (Events 0: unlimited). Only the syntax
// is checked here; auth knows the operations and dimensions.
type RateLimit struct {
	Operation, Dimension string
	Events               int
	Per                  time.Duration
}

// GraphQLLimits bound what one GraphQL request may ask for.
type GraphQLLimits struct {
	MaxDepth              int
	MaxIntrospectionDepth int
	MaxComplexity         int
	MaxAliases            int
	MaxSelections         int
	MaxDocumentBytes      int
	MaxBatch              int
}

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
}

// Vars lists every environment variable keycard reads, for --help and the
// README.
func Vars() []Var {
	return []Var{
		{"KEYCARD_ADDR", ":8080", "listen address"},
		{"KEYCARD_DATABASE_URL", "sqlite:keycard.db", "sqlite:PATH, sqlite::memory: or mysql://USER:PASSWORD@HOST:PORT/DBNAME?PARAMS"},
		{"KEYCARD_MIGRATE", "auto", "auto: create the database and apply migrations at start-up; off: neither (a separate job runs keycard migrate up); check: as off, and refuse to start while migrations are pending"},
		{"KEYCARD_DATABASE_TIMEOUT", "5s", "longest a database call may take before the request answers UNAVAILABLE"},
		{"KEYCARD_JWT_SECRET", "", "HS256 signing secret, at least 32 bytes; required in production, generated and stored in the database in development"},
		{"KEYCARD_ENV", "development", "development or production (strict checks)"},
		{"KEYCARD_JWT_ALG", "HS256", "signing algorithm: HS256, EdDSA, ES256 or RS256"},
		{"KEYCARD_JWT_KEY_FILE", "", "PEM private key for EdDSA/ES256/RS256 (keycard keys generate --alg EdDSA); required in production, generated and stored in the database in development"},
		{"KEYCARD_JWT_VERIFY_KEY_FILES", "", "comma-separated PEM keys (public or private) of earlier signing keys that still verify until their tokens expire"},
		{"KEYCARD_ACCESS_TTL", "15m", "access token lifetime (durations: s, m, h, d, e.g. 15m, 720h, 30d)"},
		{"KEYCARD_REFRESH_TTL", "720h", "refresh token lifetime (720h = 30d); each refresh starts a new one"},
		{"KEYCARD_ISSUER", "", "iss of access tokens and issuer of the OAuth metadata, a URL (default: KEYCARD_PUBLIC_URL)"},
		{"KEYCARD_AUDIENCE", "keycard", "aud claim of access tokens"},
		{"KEYCARD_TOKEN_LEEWAY", "5s", "clock skew tolerated when checking exp, nbf and iat"},
		{"KEYCARD_REVOCATION_SYNC_INTERVAL", "1s", "how often revocations by other instances are pulled from the database"},
		{"KEYCARD_REVOCATION_MAX_STALENESS", "5s", "requests with tokens answer UNAVAILABLE when revocations could not be synced for this long"},
		{"KEYCARD_REFRESH_REUSE_INTERVAL", "0s", "grace period in which the previous refresh token still works (two tabs refreshing at once); 0s: any reuse revokes the session"},
		{"KEYCARD_JANITOR_INTERVAL", "10m", "how often expired sessions, refresh tokens and revocations are deleted"},
		{"KEYCARD_AUDIT_RETENTION", "2160h", "how long audit events are kept (0s: forever)"},
		{"KEYCARD_HASH_CONCURRENCY", "", "password hashes run at once (default half the cores, at least 1); the rest of the CPU stays for other requests, and a login the hash queue cannot serve before its deadline answers RATE_LIMITED at once"},
		{"KEYCARD_MAX_SESSIONS_PER_USER", "100", "live sessions one user may have; a sign-in beyond it ends the oldest (revoked like a logout)"},
		{"KEYCARD_RATE_LIMITS", "", "overrides of the built-in rate limits as operation.dimension=N/duration, comma-separated, e.g. login.username=20/1m (0/1m: unlimited); off disables all"},
		{"KEYCARD_RATE_LIMIT_IPV6_PREFIX", "64", "per-address rate limits count an IPv6 client by this many leading bits (32 to 128; a subscriber usually holds a whole /64)"},
		{"KEYCARD_REDIS_URL", "", "redis://HOST:PORT/DB: rate limits shared by every instance (default: per process)"},
		{"KEYCARD_TRUSTED_PROXIES", "", "comma-separated CIDRs of proxies whose X-Forwarded-For gives the client address"},
		{"KEYCARD_INTROSPECTION", "", "on/off; default on in development, off in production"},
		{"KEYCARD_PLAYGROUND", "", "on/off: the GraphiQL playground at GET /; default on in development, off in production"},
		{"KEYCARD_GRAPHQL_MAX_DEPTH", "12", "deepest selection nesting a query may have (introspection aside)"},
		{"KEYCARD_GRAPHQL_MAX_INTROSPECTION_DEPTH", "20", "deepest nesting inside __schema and __type (the standard GraphiQL and graphql-codegen introspection queries need 15)"},
		{"KEYCARD_GRAPHQL_MAX_COMPLEXITY", "1000", "most fields (weighted) one operation may select"},
		{"KEYCARD_GRAPHQL_MAX_ALIASES", "64", "most aliased fields one operation may have"},
		{"KEYCARD_GRAPHQL_MAX_SELECTIONS", "150", "most selections (fields, fragment spreads, inline fragments) written in one request's documents, a batch's together; counted before validation, whose work grows with their square"},
		{"KEYCARD_GRAPHQL_MAX_DOCUMENT_BYTES", "32768", "longest query document accepted, a batch's documents together; also the most bytes of variables and extensions one operation may have (a POST body may be twice as long)"},
		{"KEYCARD_GRAPHQL_MAX_BATCH", "10", "most operations in one batched (JSON array) request"},
		{"KEYCARD_TLS_CERT", "", "PEM certificate file: serve HTTPS (TLS 1.2+) with KEYCARD_TLS_KEY"},
		{"KEYCARD_TLS_KEY", "", "PEM private key file of KEYCARD_TLS_CERT"},
		{"KEYCARD_CORS_ORIGINS", "", "comma-separated browser origins allowed to call the API, e.g. https://app.example.com"},
		{"KEYCARD_INTROSPECTION_TOKEN", "", "bearer token resource servers present to POST /oauth/introspect (unset: endpoint disabled)"},
		{"KEYCARD_PUBLIC_URL", "", "the URL clients reach keycard at, e.g. https://auth.example.com: the default issuer and the base of every URL in the OAuth metadata; required in production (development: http://localhost:PORT, PORT from KEYCARD_ADDR)"},
		{"KEYCARD_WEBAUTHN_RP_ID", "", "the domain passkeys are bound to, e.g. example.com (every origin is on it or a subdomain); development: localhost; production: required for passkeys (unset with KEYCARD_WEBAUTHN_ORIGINS: passkeys are off). Changing it later makes every registered passkey unusable"},
		{"KEYCARD_WEBAUTHN_ORIGINS", "", "comma-separated origins of the pages that register and sign in with passkeys, e.g. https://app.example.com; development: http://localhost:5173 and http://localhost:PORT (PORT from KEYCARD_ADDR); production: required with KEYCARD_WEBAUTHN_RP_ID, https only"},
		{"KEYCARD_WEBAUTHN_RP_NAME", "keycard", "the relying party's name, shown by some browsers in their passkey dialogs"},
		{"KEYCARD_REFRESH_COOKIE", "off", "on: browser cookie mode; the refresh token travels in an httpOnly cookie, not in the response body"},
		{"KEYCARD_METRICS_ADDR", "127.0.0.1:9090", "listen address of the Prometheus /metrics endpoint; empty disables it"},
		{"KEYCARD_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"KEYCARD_LOG_FORMAT", "text", "text or json"},
		{"KEYCARD_SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may take to finish on SIGINT/SIGTERM"},
	}
}

// LoadEnv reads the configuration through lookupEnv (os.LookupEnv), which
// tells a variable set to "" (KEYCARD_METRICS_ADDR= turns metrics off) from
// an unset one, and validates it. environ (os.Environ) lists the
// environment, so that a KEYCARD_* variable no setting reads is caught: an
// error in production, Config.Unknown in development. A nil environ skips
// that check, for callers that build the environment themselves.
func LoadEnv(lookupEnv func(string) (string, bool), environ func() []string) (Config, error) {
	getenv := func(name string) string {
		v, _ := lookupEnv(name)
		return v
	}
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return defaultOf(name)
	}
	var errs []error
	// Each message gives the variable's default as the example, so the
	// refresh lifetime is explained in hours (720h), not as a bare 15m.
	duration := func(name string) time.Duration {
		d, err := ParseDuration(get(name))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as %s (units: s, m, h, d)", name, get(name), defaultOf(name)))
		}
		return d
	}
	durationOrZero := func(name string) time.Duration {
		d, err := ParseDuration(get(name))
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 0s or %s (units: s, m, h, d)", name, get(name), defaultOf(name)))
		}
		return d
	}
	cfg := Config{
		Addr:                   get("KEYCARD_ADDR"),
		DatabaseURL:            get("KEYCARD_DATABASE_URL"),
		Migrate:                Migrate(strings.ToLower(get("KEYCARD_MIGRATE"))),
		JWTSecret:              getenv("KEYCARD_JWT_SECRET"),
		Mode:                   Mode(strings.ToLower(get("KEYCARD_ENV"))),
		AccessTTL:              duration("KEYCARD_ACCESS_TTL"),
		RefreshTTL:             duration("KEYCARD_REFRESH_TTL"),
		Audience:               get("KEYCARD_AUDIENCE"),
		TokenLeeway:            duration("KEYCARD_TOKEN_LEEWAY"),
		DatabaseTimeout:        duration("KEYCARD_DATABASE_TIMEOUT"),
		RevocationSyncInterval: duration("KEYCARD_REVOCATION_SYNC_INTERVAL"),
		RevocationMaxStaleness: duration("KEYCARD_REVOCATION_MAX_STALENESS"),
		RefreshReuseInterval:   durationOrZero("KEYCARD_REFRESH_REUSE_INTERVAL"),
		JanitorInterval:        duration("KEYCARD_JANITOR_INTERVAL"),
		AuditRetention:         durationOrZero("KEYCARD_AUDIT_RETENTION"),
		LogLevel:               strings.ToLower(get("KEYCARD_LOG_LEVEL")),
		LogFormat:              strings.ToLower(get("KEYCARD_LOG_FORMAT")),
		ShutdownTimeout:        duration("KEYCARD_SHUTDOWN_TIMEOUT"),
	}
	if err := checkAddr("KEYCARD_ADDR", cfg.Addr); err != nil {
		errs = append(errs, err)
	}
	switch cfg.Migrate {
	case MigrateAuto, MigrateOff, MigrateCheck:
	default:
		errs = append(errs, fmt.Errorf("KEYCARD_MIGRATE: %q is not auto, off or check", cfg.Migrate))
	}
	positive := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive number", name, get(name)))
		}
		return n
	}
	onOff := func(name string, def bool) bool {
		switch strings.ToLower(get(name)) {
		case "":
			return def
		case "on", "true", "1", "yes":
			return true
		case "off", "false", "0", "no":
			return false
		}
		errs = append(errs, fmt.Errorf("%s: %q is neither on nor off", name, get(name)))
		return def
	}
	cfg.GraphQL = GraphQLLimits{
		MaxDepth:              positive("KEYCARD_GRAPHQL_MAX_DEPTH"),
		MaxIntrospectionDepth: positive("KEYCARD_GRAPHQL_MAX_INTROSPECTION_DEPTH"),
		MaxComplexity:         positive("KEYCARD_GRAPHQL_MAX_COMPLEXITY"),
		MaxAliases:            positive("KEYCARD_GRAPHQL_MAX_ALIASES"),
		MaxSelections:         positive("KEYCARD_GRAPHQL_MAX_SELECTIONS"),
		MaxDocumentBytes:      positive("KEYCARD_GRAPHQL_MAX_DOCUMENT_BYTES"),
		MaxBatch:              positive("KEYCARD_GRAPHQL_MAX_BATCH"),
	}
	cfg.MaxSessionsPerUser = positive("KEYCARD_MAX_SESSIONS_PER_USER")
	if get("KEYCARD_HASH_CONCURRENCY") != "" {
		cfg.HashConcurrency = positive("KEYCARD_HASH_CONCURRENCY")
	}
	cfg.Introspection = onOff("KEYCARD_INTROSPECTION", cfg.Mode != Production)
	cfg.Playground = onOff("KEYCARD_PLAYGROUND", cfg.Mode != Production)
	cfg.RateLimitIPv6Prefix = positive("KEYCARD_RATE_LIMIT_IPV6_PREFIX")
	if cfg.RateLimitIPv6Prefix > 0 && (cfg.RateLimitIPv6Prefix < 32 || cfg.RateLimitIPv6Prefix > 128) {
		errs = append(errs, fmt.Errorf("KEYCARD_RATE_LIMIT_IPV6_PREFIX: %d is not a prefix length from 32 to 128", cfg.RateLimitIPv6Prefix))
	}
	// Removed rather than ignored: a deployment that relied on loopback
	// peers being exempt (a proxy on this host) would now put all its
	// clients in the proxy's one bucket, and should hear how to fix that.
	for name, advice := range removedVars {
		if _, set := lookupEnv(name); set {
			errs = append(errs, fmt.Errorf("%s is no longer supported: %s", name, advice))
		}
	}
	cfg.RefreshCookie = onOff("KEYCARD_REFRESH_COOKIE", false)
	cfg.IntrospectionToken = getenv("KEYCARD_INTROSPECTION_TOKEN")
	if cfg.IntrospectionToken != "" && len(cfg.IntrospectionToken) < 16 {
		errs = append(errs, errors.New("KEYCARD_INTROSPECTION_TOKEN must be at least 16 characters"))
	}
	// An explicitly empty KEYCARD_METRICS_ADDR disables metrics, so the
	// default applies only when the variable is unset.
	cfg.MetricsAddr = "127.0.0.1:9090"
	if v, set := lookupEnv("KEYCARD_METRICS_ADDR"); set {
		cfg.MetricsAddr = strings.TrimSpace(v)
	}
	if cfg.MetricsAddr != "" {
		if err := checkAddr("KEYCARD_METRICS_ADDR", cfg.MetricsAddr); err != nil {
			errs = append(errs, err)
		}
	}
	cfg.RedisURL = get("KEYCARD_REDIS_URL")
	cfg.TLSCert, cfg.TLSKey = get("KEYCARD_TLS_CERT"), get("KEYCARD_TLS_KEY")
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		errs = append(errs, errors.New("KEYCARD_TLS_CERT and KEYCARD_TLS_KEY must be set together"))
	}
	for _, origin := range splitList(get("KEYCARD_CORS_ORIGINS")) {
		if origin != "*" && !strings.HasPrefix(origin, "http://") && !strings.HasPrefix(origin, "https://") {
			errs = append(errs, fmt.Errorf("KEYCARD_CORS_ORIGINS: %q is not an origin such as https://app.example.com", origin))
			continue
		}
		if origin == "*" {
			errs = append(errs, errors.New("KEYCARD_CORS_ORIGINS: * is not allowed for an authentication API; list the frontends' origins"))
			continue
		}
		cfg.CORSOrigins = append(cfg.CORSOrigins, strings.TrimSuffix(origin, "/"))
	}
	for _, cidr := range splitList(get("KEYCARD_TRUSTED_PROXIES")) {
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			addr, addrErr := netip.ParseAddr(cidr)
			if addrErr != nil {
				errs = append(errs, fmt.Errorf("KEYCARD_TRUSTED_PROXIES: %q is not an address or CIDR", cidr))
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix.Masked())
	}
	if limits := get("KEYCARD_RATE_LIMITS"); strings.EqualFold(limits, "off") {
		cfg.RateLimitsOff = true
	} else {
		for _, item := range splitList(limits) {
			limit, err := parseRateLimit(item)
			if err != nil {
				errs = append(errs, fmt.Errorf("KEYCARD_RATE_LIMITS: %w", err))
				continue
			}
			cfg.RateLimits = append(cfg.RateLimits, limit)
		}
	}
	errs = append(errs, publicURLs(&cfg, get("KEYCARD_PUBLIC_URL"), get("KEYCARD_ISSUER"))...)
	errs = append(errs, webAuthn(&cfg, get("KEYCARD_WEBAUTHN_RP_ID"), get("KEYCARD_WEBAUTHN_ORIGINS"), get("KEYCARD_WEBAUTHN_RP_NAME"))...)
	if cfg.Mode != Development && cfg.Mode != Production {
		errs = append(errs, fmt.Errorf("KEYCARD_ENV: %q is neither development nor production", cfg.Mode))
	}
	if cfg.AccessTTL > 0 && cfg.RefreshTTL > 0 && cfg.RefreshTTL < cfg.AccessTTL {
		errs = append(errs, errors.New("KEYCARD_REFRESH_TTL must not be shorter than KEYCARD_ACCESS_TTL"))
	}
	if cfg.RevocationMaxStaleness > 0 && cfg.RevocationSyncInterval > 0 && cfg.RevocationMaxStaleness <= cfg.RevocationSyncInterval {
		errs = append(errs, errors.New("KEYCARD_REVOCATION_MAX_STALENESS must be longer than KEYCARD_REVOCATION_SYNC_INTERVAL"))
	}
	if cfg.RefreshReuseInterval > 0 && cfg.AccessTTL > 0 && cfg.RefreshReuseInterval > cfg.AccessTTL {
		errs = append(errs, errors.New("KEYCARD_REFRESH_REUSE_INTERVAL must not exceed KEYCARD_ACCESS_TTL: a grace period that long defeats reuse detection"))
	}
	if cfg.JWTSecret != "" && len(cfg.JWTSecret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("KEYCARD_JWT_SECRET must be at least %d bytes (it is %d); generate one with: openssl rand -base64 48", MinSecretBytes, len(cfg.JWTSecret)))
	} else if why := weakSecret(cfg.JWTSecret); cfg.Mode == Production && cfg.JWTSecret != "" && why != "" {
		errs = append(errs, fmt.Errorf("KEYCARD_JWT_SECRET has too little entropy for production: %s; generate one with: openssl rand -base64 48", why))
	}
	cfg.JWTAlg = get("KEYCARD_JWT_ALG")
	cfg.JWTKeyFile = get("KEYCARD_JWT_KEY_FILE")
	cfg.JWTVerifyKeyFiles = splitList(get("KEYCARD_JWT_VERIFY_KEY_FILES"))
	switch cfg.JWTAlg {
	case "HS256":
		if cfg.Mode == Production && cfg.JWTSecret == "" {
			errs = append(errs, fmt.Errorf("KEYCARD_JWT_SECRET is required in production (at least %d bytes); generate one with: openssl rand -base64 48", MinSecretBytes))
		}
		if cfg.JWTKeyFile != "" || len(cfg.JWTVerifyKeyFiles) > 0 {
			errs = append(errs, errors.New("KEYCARD_JWT_KEY_FILE and KEYCARD_JWT_VERIFY_KEY_FILES are for EdDSA, ES256 and RS256; HS256 uses KEYCARD_JWT_SECRET"))
		}
	case "EdDSA", "ES256", "RS256":
		if cfg.Mode == Production && cfg.JWTKeyFile == "" {
			errs = append(errs, fmt.Errorf("KEYCARD_JWT_KEY_FILE is required in production with KEYCARD_JWT_ALG=%s; generate one with: keycard keys generate --alg %s --out key.pem", cfg.JWTAlg, cfg.JWTAlg))
		}
	default:
		errs = append(errs, fmt.Errorf("KEYCARD_JWT_ALG: %q is not HS256, EdDSA, ES256 or RS256", cfg.JWTAlg))
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("KEYCARD_LOG_LEVEL: %q is not debug, info, warn or error", cfg.LogLevel))
	}
	switch cfg.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("KEYCARD_LOG_FORMAT: %q is not text or json", cfg.LogFormat))
	}
	if environ != nil {
		cfg.Unknown = unknownVars(environ())
		if cfg.Mode == Production {
			// A misspelt variable would start production on a default
			// (KEYCARD_CORS_ORIGIN: no origins; KEYCARD_DB_URL: a local
			// SQLite file), so it stops the start instead.
			for _, u := range cfg.Unknown {
				errs = append(errs, fmt.Errorf("%s (production refuses unknown KEYCARD_ variables)", u))
			}
		}
	}
	return cfg, errors.Join(errs...)
}

// defaultOf is the documented default of a variable, or "".
func defaultOf(name string) string {
	for _, v := range Vars() {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}

// ParseDuration is time.ParseDuration that also takes whole days in front
// ("30d", "1d12h"): lifetimes and retention are thought of in days.
func ParseDuration(s string) (time.Duration, error) {
	days, rest, found := strings.Cut(s, "d")
	if !found {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 32)
	// Past 100 years a Duration is close to overflowing; no lifetime
	// needs it.
	if err != nil || n > 36500 {
		return 0, fmt.Errorf("invalid duration %q: days must be a whole number up to 36500, e.g. 30d", s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		d += r
	}
	return d, nil
}

// checkAddr wants HOST:PORT with a numeric port (the host may be empty:
// every interface). A bare port is the usual slip, so it gets the fix.
func checkAddr(name, addr string) error {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err == nil {
			return nil
		}
	}
	if _, convErr := strconv.ParseUint(addr, 10, 16); convErr == nil {
		return fmt.Errorf("%s: %q is not HOST:PORT; to listen on port %s of every interface write :%s (or 127.0.0.1:%s for this machine only)", name, addr, addr, addr, addr)
	}
	return fmt.Errorf("%s: %q is not HOST:PORT, e.g. :8080 or 127.0.0.1:8080", name, addr)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseRateLimit reads "operation.dimension=N/duration".
func parseRateLimit(item string) (RateLimit, error) {
	name, value, ok := strings.Cut(item, "=")
	op, dim, ok2 := strings.Cut(name, ".")
	count, per, ok3 := strings.Cut(value, "/")
	if !ok || !ok2 || !ok3 {
		return RateLimit{}, fmt.Errorf("%q is not operation.dimension=N/duration, e.g. login.username=20/1m", item)
	}
	if op == "" || dim == "" {
		return RateLimit{}, fmt.Errorf("%q is not operation.dimension=N/duration, e.g. login.username=20/1m", item)
	}
	events, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || events < 0 {
		return RateLimit{}, fmt.Errorf("%q: %q is not a count", item, count)
	}
	d, err := ParseDuration(strings.TrimSpace(per))
	if err != nil || d <= 0 {
		return RateLimit{}, fmt.Errorf("%q: %q is not a duration", item, per)
	}
	return RateLimit{Operation: op, Dimension: dim, Events: events, Per: d}, nil
}
