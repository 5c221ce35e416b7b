package auth

import (
	"errors"
	"log/slog"
	"time"
)

// Options are the service's tunables.
type Options struct {
	RefreshTTL time.Duration
	// RefreshReuseInterval is how long after a rotation the previous
	// refresh token is still accepted (two tabs refreshing at once). Zero is
	// strict: any reuse is treated as theft.
	RefreshReuseInterval time.Duration
	// AuditRetention is how long audit events are kept (0: forever).
	AuditRetention time.Duration
	// MaxSessionsPerUser caps the live sessions of one user; a sign-in
	// beyond it ends the oldest (0: DefaultMaxSessionsPerUser).
	MaxSessionsPerUser int
	// Limiter and RateLimits rate-limit login, register, refresh and
	// password change (nil Limiter: no limits).
	Limiter    Limiter
	RateLimits RateLimits
	// IPv6Prefix is the prefix length per-address limits group IPv6
	// clients by (0: DefaultIPv6Prefix).
	IPv6Prefix int
	// Observer counts events for metrics (nil: none).
	Observer Observer
	// RelyingParty does the WebAuthn work of passkeys (nil: passkey
	// ceremonies answer ErrPasskeysOff).
	RelyingParty RelyingParty
	Now          func() time.Time
	Logger       *slog.Logger
}

// DefaultMaxSessionsPerUser is far more devices than a person signs in
// from, and keeps one account's successful logins from growing the session
// and revocation tables without bound.
const DefaultMaxSessionsPerUser = 100

// Service is keycard's use cases; GraphQL and any other face call it.
type Service struct {
	store       Store
	passwords   *Passwords
	tokens      *Tokens
	revocations *Revocations
	users       *UserCache
	// background carries audit events that must not be written on the
	// request path.
	background *eventQueue
	// failures, revokedUse and limited group repeated suspicious events
	// so the log warns once per burst.
	failures   *logBurst
	revokedUse *logBurst
	limited    *logBurst
	limits     *throttle
	opts       Options
	observe    Observer
	now        func() time.Time
	log        *slog.Logger
}

// NewService wires the domain together. users is the cache `me` reads
// through; the same cache's Invalidate is what revocations calls for user
// changes synced from other processes.
func NewService(store Store, passwords *Passwords, tokens *Tokens, revocations *Revocations, users *UserCache, opts Options) (*Service, error) {
	if opts.RefreshTTL < tokens.TTL() {
		return nil, errors.New("refresh token lifetime must not be shorter than the access token lifetime")
	}
	if opts.MaxSessionsPerUser <= 0 {
		opts.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	return &Service{
		store:       store,
		passwords:   passwords,
		tokens:      tokens,
		revocations: revocations,
		users:       users,
		background:  newEventQueue(4096),
		failures:    newLogBurst(failureWindow),
		revokedUse:  newLogBurst(time.Minute),
		limited:     newLogBurst(time.Minute),
		limits:      &throttle{limiter: opts.Limiter, limits: opts.RateLimits, ipv6Prefix: opts.IPv6Prefix},
		opts:        opts,
		observe:     opts.Observer,
		now:         opts.Now,
		log:         opts.Logger,
	}, nil
}
