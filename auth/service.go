package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Client describes where a request comes from; it is recorded on sessions
// and audit events.
type Client struct {
	IP        string
	UserAgent string
}

// RegisterInput is what a new account is made from.
type RegisterInput struct {
	Username string
	Password string
	Email    *string
}

// LogoutScope says which sessions a logout ends.
type LogoutScope int

const (
	// LogoutCurrent ends the session of the presented access token.
	LogoutCurrent LogoutScope = iota
	// LogoutAll ends every session of the user.
	LogoutAll
)

// Grant is the result of a successful register, login or refresh.
type Grant struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	User         *User
	Session      *Session
}

// Options are the service's tunables.
type Options struct {
	RefreshTTL time.Duration
	// RefreshReuseInterval is how long after a rotation the previous
	// refresh token is still accepted (two tabs refreshing at once). Zero is
	// strict: any reuse is treated as theft.
	RefreshReuseInterval time.Duration
	// AuditRetention is how long audit events are kept (0: forever).
	AuditRetention time.Duration
	// Limiter and Limits rate-limit login, register, refresh and password
	// change (nil Limiter: no limits).
	Limiter Limiter
	Limits  Limits
	// LimitLoopback applies per-IP limits to loopback clients too.
	LimitLoopback bool
	// Observer counts events for metrics (nil: none).
	Observer Observer
	Now      func() time.Time
	Logger   *slog.Logger
}

// Service is keycard's use cases; GraphQL and any other face call it.
type Service struct {
	store       Store
	passwords   *Passwords
	tokens      *Tokens
	revocations *Revocations
	users       *users
	// background carries audit events that must not be written on the
	// request path.
	background *eventQueue
	// failures and revokedUse group repeated suspicious events so the log
	// warns once per burst.
	failures   *watch
	revokedUse *watch
	limited    *watch
	limits     *rateLimits
	opts       Options
	observe    Observer
	now        func() time.Time
	log        *slog.Logger
}

const (
	// userCacheSize and userCacheMaxAge bound the `me` cache; changes made
	// through keycard reach it within one revocation sync anyway.
	userCacheSize   = 1 << 16
	userCacheMaxAge = 10 * time.Minute
	// failureWarnAt consecutive failed logins for one name or from one
	// address within failureWindow are logged at WARN.
	failureWarnAt = 5
	failureWindow = 15 * time.Minute
	watchSize     = 1 << 16
)

// NewService wires the domain together.
func NewService(store Store, passwords *Passwords, tokens *Tokens, revocations *Revocations, opts Options) (*Service, error) {
	if opts.RefreshTTL < tokens.TTL() {
		return nil, errors.New("refresh token lifetime must not be shorter than the access token lifetime")
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
	s := &Service{
		store:       store,
		passwords:   passwords,
		tokens:      tokens,
		revocations: revocations,
		users:       newUsers(userCacheSize, userCacheMaxAge),
		background:  newEventQueue(4096),
		failures:    newWatch(failureWindow, watchSize),
		revokedUse:  newWatch(time.Minute, watchSize),
		limited:     newWatch(time.Minute, watchSize),
		limits:      &rateLimits{limiter: opts.Limiter, limits: opts.Limits, limitLoopback: opts.LimitLoopback},
		opts:        opts,
		observe:     opts.Observer,
		now:         opts.Now,
		log:         opts.Logger,
	}
	if revocations != nil {
		revocations.userChanged = s.users.invalidate
	}
	return s, nil
}

// Register creates an account and signs it in.
func (s *Service) Register(ctx context.Context, in RegisterInput, client Client) (*Grant, error) {
	if err := ValidateUsername(in.Username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(in.Password, in.Username); err != nil {
		return nil, err
	}
	if in.Email != nil {
		if _, err := NormalizeEmail(*in.Email); err != nil {
			return nil, err
		}
	}
	if _, err := s.limit(ctx, OpRegister, map[Dimension]string{PerIP: client.IP}); err != nil {
		return nil, err
	}
	hash, err := s.passwords.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	user := &User{ID: newID(), Username: in.Username, Email: in.Email, Roles: []string{}, CreatedAt: now}
	var grant *Grant
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.CreateUser(ctx, user, hash); err != nil {
			return err
		}
		grant, err = s.startSession(ctx, tx, user, client, EventRegister)
		return err
	})
	if err != nil {
		return nil, err
	}
	return grant, nil
}

// Login checks a username and password. An unknown user and a wrong password
// fail the same way and take the same time.
func (s *Service) Login(ctx context.Context, username, password string, client Client) (*Grant, error) {
	key, ok := UsernameKey(username)
	// Limited before anything is hashed; names that cannot exist are
	// limited too, so the limit does not tell them apart.
	spent, err := s.limit(ctx, OpLogin, map[Dimension]string{PerIP: client.IP, PerUsername: clip(strings.ToLower(username), 64)})
	if err != nil {
		s.observe.Login("rate_limited")
		return nil, err
	}
	if !ok {
		return nil, s.failLogin(ctx, username, "", password, client)
	}
	user, hash, err := s.store.UserByUsername(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, s.failLogin(ctx, username, "", password, client)
	}
	if err != nil {
		return nil, err
	}
	match, rehash, err := s.passwords.Verify(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	if !match {
		return nil, s.failLogin(ctx, username, user.ID, "", client)
	}
	if rehash {
		s.upgradeHash(ctx, user.ID, password)
	}
	s.failures.reset("username:" + key)
	s.limits.refund(ctx, spent) // a successful login is not a guess
	s.observe.Login("success")
	var grant *Grant
	err = s.store.Tx(ctx, func(tx Store) error {
		grant, err = s.startSession(ctx, tx, user, client, EventLoginSucceeded)
		return err
	})
	return grant, err
}

// failLogin records a failed login and returns the one error every failed
// login gets. For a user that does not exist (userID empty) it first spends
// a password verification, so that case takes as long as a wrong password.
func (s *Service) failLogin(ctx context.Context, username, userID, password string, client Client) error {
	if userID == "" {
		if err := s.passwords.VerifyDummy(ctx, password); err != nil {
			return err
		}
	}
	s.observe.Login("failure")
	now := s.clock()
	e := newEvent(EventLoginFailed, userID, username, "", client, now)
	if err := s.store.RecordEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "audit event not recorded", "kind", e.Kind, "err", err)
	}
	watched := map[string]string{"ip": client.IP}
	if key, ok := UsernameKey(username); ok {
		watched["username"] = key
	}
	for by, value := range watched {
		if n := s.failures.hit(by+":"+value, now); n == failureWarnAt {
			s.log.WarnContext(ctx, "repeated login failures", "by", by, "user_id", userID, "ip", client.IP,
				"failures", n, "window", failureWindow)
		}
	}
	return ErrInvalidCredentials
}

// upgradeHash re-hashes with the current parameters. A failure is logged and
// the login still succeeds: the old hash is still valid.
func (s *Service) upgradeHash(ctx context.Context, userID, password string) {
	hash, err := s.passwords.Hash(ctx, password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, userID, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", userID, "err", err)
	}
}

// startSession opens a session for user in tx and records kind.
func (s *Service) startSession(ctx context.Context, tx Store, user *User, client Client, kind EventKind) (*Grant, error) {
	now := s.clock()
	refresh, refreshHash, err := newRefreshToken()
	if err != nil {
		return nil, Internal(err)
	}
	sess := &Session{
		ID:         newID(),
		UserID:     user.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		RotatedAt:  now,
		ExpiresAt:  now.Add(s.opts.RefreshTTL),
		UserAgent:  clip(client.UserAgent, 512),
		IP:         clip(client.IP, 64),
	}
	if err := tx.CreateSession(ctx, sess, refreshHash); err != nil {
		return nil, err
	}
	if err := tx.RecordEvent(ctx, newEvent(kind, user.ID, user.Username, sess.ID, client, now)); err != nil {
		return nil, err
	}
	return s.grant(user, sess, refresh)
}

func (s *Service) grant(user *User, sess *Session, refresh string) (*Grant, error) {
	access, _, err := s.tokens.Issue(user.ID, sess.ID, user.Roles)
	if err != nil {
		return nil, Internal(err)
	}
	return &Grant{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.tokens.TTL(), User: user, Session: sess}, nil
}

// Refresh exchanges a refresh token for new tokens and rotates it. A token
// that was already rotated away is proof that two parties hold the session,
// one of them a thief: the whole session is revoked.
func (s *Service) Refresh(ctx context.Context, token string, client Client) (*Grant, error) {
	spent, err := s.limit(ctx, OpRefresh, map[Dimension]string{PerIP: client.IP})
	if err != nil {
		return nil, err
	}
	if !plausibleRefreshToken(token) {
		return nil, ErrInvalidRefresh
	}
	hash := hashRefreshToken(token)
	now := s.clock()
	var (
		grant   *Grant
		revoked []Revocation
		refused error
	)
	err = s.store.Tx(ctx, func(tx Store) error {
		grant, revoked, refused = nil, nil, nil
		sess, generation, err := tx.SessionByRefreshHash(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			refused = ErrInvalidRefresh
			return nil
		}
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
			refused = ErrInvalidRefresh
			return nil
		}
		if generation != sess.Generation && !s.withinReuseInterval(sess, generation, now) {
			revoked, err = tx.RevokeSessions(ctx, sess.UserID, []string{sess.ID}, now, now.Add(s.tokens.MaxLifetime()))
			if err != nil {
				return err
			}
			e := newEvent(EventRefreshTokenReused, sess.UserID, "", sess.ID, client, now)
			e.Detail = "session revoked"
			if err := tx.RecordEvent(ctx, e); err != nil {
				return err
			}
			s.observe.RefreshReuse()
			s.log.WarnContext(ctx, "refresh token reuse detected; session revoked",
				"user_id", sess.UserID, "session_id", sess.ID, "ip", client.IP)
			refused = ErrInvalidRefresh
			return nil
		}
		user, err := s.user(ctx, tx, sess.UserID)
		if err != nil {
			return err
		}
		refresh, refreshHash, err := newRefreshToken()
		if err != nil {
			return Internal(err)
		}
		sess.Generation++
		sess.LastUsedAt = now
		sess.RotatedAt = now
		sess.ExpiresAt = now.Add(s.opts.RefreshTTL)
		sess.UserAgent = clip(client.UserAgent, 512)
		sess.IP = clip(client.IP, 64)
		if err := tx.AdvanceSession(ctx, sess, refreshHash); err != nil {
			return err
		}
		grant, err = s.grant(user, sess, refresh)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.remember(revoked)
	if refused != nil {
		return nil, refused
	}
	s.limits.refund(ctx, spent)
	// Routine and frequent: recorded in the background, off the
	// transaction every client runs every few minutes.
	s.background.push(newEvent(EventRefresh, grant.User.ID, grant.User.Username, grant.Session.ID, client, now))
	return grant, nil
}

// withinReuseInterval allows the immediately previous token shortly after a
// rotation, for clients that refresh from two tabs at once.
func (s *Service) withinReuseInterval(sess *Session, generation int64, now time.Time) bool {
	return s.opts.RefreshReuseInterval > 0 && generation == sess.Generation-1 &&
		now.Sub(sess.RotatedAt) <= s.opts.RefreshReuseInterval
}

// Logout ends the caller's session, or all of the user's sessions. Every
// access token of an ended session stops working at once.
func (s *Service) Logout(ctx context.Context, c *Claims, scope LogoutScope, client Client) error {
	var ids []string
	detail := "all sessions"
	if scope == LogoutCurrent {
		ids = []string{c.SessionID}
		detail = "current session"
	}
	return s.revokeSessions(ctx, c.UserID(), ids, EventLogout, c.SessionID, detail, client)
}

// revokeSessions revokes sessions of userID (all when ids is nil), records
// kind, and puts the revocations into memory.
func (s *Service) revokeSessions(ctx context.Context, userID string, ids []string, kind EventKind, sessionID, detail string, client Client) error {
	now := s.clock()
	var revoked []Revocation
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		revoked, err = tx.RevokeSessions(ctx, userID, ids, now, now.Add(s.tokens.MaxLifetime()))
		if err != nil {
			return err
		}
		e := newEvent(kind, userID, "", sessionID, client, now)
		e.Detail = detail
		return tx.RecordEvent(ctx, e)
	})
	if err != nil {
		return err
	}
	s.remember(revoked)
	return nil
}

// Me returns the user the access token was issued to. The returned user is
// shared; callers must not modify it.
func (s *Service) Me(ctx context.Context, c *Claims) (*User, error) {
	user, err := s.user(ctx, s.store, c.UserID())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotAuthenticated
	}
	return user, err
}

// user reads a user through the cache, from store on a miss (inside a
// transaction, its store: the transaction may hold the only connection).
func (s *Service) user(ctx context.Context, store Store, id string) (*User, error) {
	now := s.now()
	if user := s.users.get(id, now); user != nil {
		return user, nil
	}
	version := s.users.version()
	user, err := store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.users.put(user, now, version)
	return user, nil
}

// Authenticate checks an Authorization header value: size, scheme,
// signature and claims, then revocation, all without database I/O.
func (s *Service) Authenticate(ctx context.Context, header string) (*Claims, error) {
	// Refused before any parsing, so an oversized header costs nothing.
	if len(header) > MaxTokenBytes {
		return nil, ErrInvalidToken
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, ErrInvalidToken
	}
	claims, err := s.tokens.Verify(strings.TrimLeft(token, " "))
	if err != nil {
		return nil, err
	}
	if err := s.revocations.Check(claims); err != nil {
		if errors.Is(err, ErrTokenRevoked) {
			s.revokedTokenUsed(ctx, claims)
		}
		return nil, err
	}
	return claims, nil
}

// revokedTokenUsed audits a revoked token presented again: once per token
// per minute, written in the background so that replaying a revoked token
// costs keycard no database write per request.
func (s *Service) revokedTokenUsed(ctx context.Context, c *Claims) {
	now := s.clock()
	if s.revokedUse.hit(c.ID, now) > 1 {
		return
	}
	client := ClientFrom(ctx)
	s.log.WarnContext(ctx, "revoked access token used", "user_id", c.UserID(), "session_id", c.SessionID, "ip", client.IP)
	s.background.push(newEvent(EventRevokedTokenUsed, c.UserID(), "", c.SessionID, client, now))
}

// Stats are counters for monitoring.
type Stats struct {
	// PasswordHashes counts argon2id evaluations; PasswordQueue is how
	// many wait for a hashing slot now.
	PasswordHashes int64
	PasswordQueue  int64
	// RevokedEntries is the size of the in-memory revocation list.
	RevokedEntries int
	// AuditDropped counts background audit events that could not be
	// written.
	AuditDropped int64
}

// Stats reports the service's counters.
func (s *Service) Stats() Stats {
	return Stats{
		PasswordHashes: s.passwords.Computed(),
		PasswordQueue:  s.passwords.Waiting(),
		RevokedEntries: s.revocations.Len(),
		AuditDropped:   s.background.dropped.Load(),
	}
}

// RunBackground writes queued audit events until ctx ends, then flushes
// what is still queued.
func (s *Service) RunBackground(ctx context.Context) {
	s.background.run(ctx, s.store, s.log)
}

// limit spends rate-limit tokens for one attempt at op, and logs the first
// refusal of a burst at WARN.
func (s *Service) limit(ctx context.Context, op Operation, keys map[Dimension]string) (taken, error) {
	spent, err := s.limits.take(ctx, op, keys)
	if err != nil {
		s.observe.RateLimited(op)
		if s.limited.hit(string(op)+":"+keys[PerIP], s.now()) == 1 {
			s.log.WarnContext(ctx, "rate limit reached", "operation", op, "ip", keys[PerIP], "user_id", keys[PerUser])
		}
	}
	return spent, err
}

// remember puts committed revocations into memory so the very next request
// in this process sees them.
func (s *Service) remember(revoked []Revocation) {
	for _, r := range revoked {
		s.revocations.Add(r.Subject, r.ExpiresAt)
	}
	if len(revoked) > 0 {
		s.observe.Revoked(RevokedSession, len(revoked))
	}
}

// clock is the current time as stored: UTC, microsecond precision (what
// DATETIME(6) keeps), so values read back equal values written.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// newID returns a UUIDv7: unique without coordination and time-ordered, so
// primary-key inserts append to the index instead of splitting pages.
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// clip makes client-supplied header text safe to store: valid UTF-8 and at
// most n bytes.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
