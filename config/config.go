// Package config reads keycard's settings from the environment, once, into
// a Config that the rest of the program is built from. It imports only the
// standard library.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mode is development or production.
type Mode string

const (
	Development Mode = "development"
	Production  Mode = "production"
)

// MinSecretBytes is the shortest HMAC secret accepted: HS256 keys shorter
// than the hash output weaken it (RFC 7518 §3.2).
const MinSecretBytes = 32

// Config is every setting of the server.
type Config struct {
	Addr        string
	DatabaseURL string
	JWTSecret   string
	Mode        Mode
	AccessTTL   time.Duration
	RefreshTTL  time.Duration
	Issuer      string
	Audience    string
	// TokenLeeway tolerates clock skew when checking exp, nbf and iat.
	TokenLeeway time.Duration
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
	AuditRetention  time.Duration
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
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
		{"KEYCARD_JWT_SECRET", "", "HS256 signing secret, at least 32 bytes; required in production, generated and stored in the database in development"},
		{"KEYCARD_ENV", "development", "development or production (strict checks)"},
		{"KEYCARD_ACCESS_TTL", "15m", "access token lifetime (Go duration)"},
		{"KEYCARD_REFRESH_TTL", "720h", "refresh token lifetime; each refresh starts a new one"},
		{"KEYCARD_ISSUER", "keycard", "iss claim of access tokens"},
		{"KEYCARD_AUDIENCE", "keycard", "aud claim of access tokens"},
		{"KEYCARD_TOKEN_LEEWAY", "5s", "clock skew tolerated when checking exp, nbf and iat"},
		{"KEYCARD_REVOCATION_SYNC_INTERVAL", "1s", "how often revocations by other instances are pulled from the database"},
		{"KEYCARD_REVOCATION_MAX_STALENESS", "5s", "requests with tokens answer UNAVAILABLE when revocations could not be synced for this long"},
		{"KEYCARD_REFRESH_REUSE_INTERVAL", "0s", "grace period in which the previous refresh token still works (two tabs refreshing at once); 0s: any reuse revokes the session"},
		{"KEYCARD_JANITOR_INTERVAL", "10m", "how often expired sessions, refresh tokens and revocations are deleted"},
		{"KEYCARD_AUDIT_RETENTION", "2160h", "how long audit events are kept (0s: forever)"},
		{"KEYCARD_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"KEYCARD_LOG_FORMAT", "text", "text or json"},
		{"KEYCARD_SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may take to finish on SIGINT/SIGTERM"},
	}
}

// Load reads the configuration through getenv (os.Getenv in production,
// a map in tests) and validates it.
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, v := range Vars() {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var errs []error
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 15m", name, get(name)))
		}
		return d
	}
	durationOrZero := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 0s or 10s", name, get(name)))
		}
		return d
	}
	cfg := Config{
		Addr:                   get("KEYCARD_ADDR"),
		DatabaseURL:            get("KEYCARD_DATABASE_URL"),
		JWTSecret:              getenv("KEYCARD_JWT_SECRET"),
		Mode:                   Mode(strings.ToLower(get("KEYCARD_ENV"))),
		AccessTTL:              duration("KEYCARD_ACCESS_TTL"),
		RefreshTTL:             duration("KEYCARD_REFRESH_TTL"),
		Issuer:                 get("KEYCARD_ISSUER"),
		Audience:               get("KEYCARD_AUDIENCE"),
		TokenLeeway:            duration("KEYCARD_TOKEN_LEEWAY"),
		RevocationSyncInterval: duration("KEYCARD_REVOCATION_SYNC_INTERVAL"),
		RevocationMaxStaleness: duration("KEYCARD_REVOCATION_MAX_STALENESS"),
		RefreshReuseInterval:   durationOrZero("KEYCARD_REFRESH_REUSE_INTERVAL"),
		JanitorInterval:        duration("KEYCARD_JANITOR_INTERVAL"),
		AuditRetention:         durationOrZero("KEYCARD_AUDIT_RETENTION"),
		LogLevel:               strings.ToLower(get("KEYCARD_LOG_LEVEL")),
		LogFormat:              strings.ToLower(get("KEYCARD_LOG_FORMAT")),
		ShutdownTimeout:        duration("KEYCARD_SHUTDOWN_TIMEOUT"),
	}
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
	}
	if cfg.Mode == Production && cfg.JWTSecret == "" {
		errs = append(errs, fmt.Errorf("KEYCARD_JWT_SECRET is required in production (at least %d bytes); generate one with: openssl rand -base64 48", MinSecretBytes))
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
	return cfg, errors.Join(errs...)
}
