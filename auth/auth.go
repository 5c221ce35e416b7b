// Package auth is keycard's domain: accounts and their passwords and
// passkeys, access and refresh tokens, sessions, revocation, the rate-limit
// policy and the audit log. Service is the one entry point: each use case
// (register, login, refresh, logout, password change, authenticate, admin,
// token revocation, introspection, passkey registration and login) is a
// Service method in a file named for it.
//
// The domain defines the interfaces its adapters implement (Store for
// persistence, Limiter for rate-limit buckets, Observer for metrics,
// RelyingParty for the WebAuthn protocol) and never imports them: auth
// imports the standard library, golang-jwt, golang.org/x/crypto and
// google/uuid, and nothing else of keycard. Faces
// (graph, oauth) call the Service and map its Error kinds to their own
// protocol, each in one place.
package auth

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// User is an account as the API sees it. The password hash is never part of
// it: it travels separately, only between Store and Service.
type User struct {
	ID        string
	Username  string
	Email     *string
	Roles     []string
	CreatedAt time.Time
}

// Credential is what a password sign-in is checked against. Version is
// bumped by every change of what signs the user in (a password change now;
// a reset, an email change or a second factor as they come), so whatever
// acts on a checked password can tell, in its own transaction, that the
// credential is still the one it checked.
type Credential struct {
	PasswordHash string
	Version      int64
}

// Session is one sign-in: a chain of refresh tokens rotated one after another.
// Generation counts the rotations; only the token of the current generation
// may be exchanged.
type Session struct {
	ID         string
	UserID     string
	Generation int64
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	// RotatedAt is when the current generation was issued.
	RotatedAt time.Time
	RevokedAt *time.Time
	UserAgent string
	IP        string
	// AccessValidUntil is when the newest access token issued for the
	// session stops passing verification (its exp plus leeway; zero for
	// sessions from before it was recorded). A revocation of the session
	// is kept at least that long, so it holds until each token's own exp
	// whatever the access lifetime is configured to now.
	AccessValidUntil time.Time
	// AMR are the methods the session's user signed in with (RFC 8176),
	// set by the sign-in that opened it. Issue 13 stores them on the row
	// so that refreshed tokens carry them too; until then only a
	// session's first access token does.
	AMR []string
}

// RevocationKind says what a revocation's Subject identifies.
type RevocationKind string

const (
	// RevokedAccessToken voids one access token by its jti.
	RevokedAccessToken RevocationKind = "access_token"
	// RevokedSession voids every access token carrying the session id.
	RevokedSession RevocationKind = "session"
	// UserChanged is not a revocation but rides the same log: the user's
	// row changed, so every process drops its cached copy.
	UserChanged RevocationKind = "user"
)

// Revocation is one entry of the revocation list, kept until ExpiresAt, the
// moment every token it could void has expired anyway.
type Revocation struct {
	ID        int64
	Kind      RevocationKind
	Subject   string
	UserID    string
	RevokedAt time.Time
	ExpiresAt time.Time
}

// Client describes where a request comes from; it is recorded on sessions
// and audit events.
type Client struct {
	IP        string
	UserAgent string
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

// newID returns a UUIDv7 for a new user or session: unique without
// coordination and time-ordered, so primary-key inserts append to the index
// instead of splitting pages.
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// clock is the current time as stored: UTC, microsecond precision (what
// DATETIME(6) keeps), so values read back equal values written.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Store is the persistence the domain needs. Implementations translate
// uniqueness violations to ErrUsernameTaken/ErrEmailTaken, missing rows to
// ErrNotFound, and connection failures to Unavailable errors.
type Store interface {
	// Tx runs fn in one transaction; fn's Store is bound to it. fn's error
	// rolls back; nil commits.
	Tx(ctx context.Context, fn func(tx Store) error) error

	// CreateUser inserts a user whose credential is passwordHash at
	// version 0.
	CreateUser(ctx context.Context, u *User, passwordHash string) error
	// UserByUsername looks up by the canonical (lower-case) username and
	// returns the user's credential with it.
	UserByUsername(ctx context.Context, usernameKey string) (*User, Credential, error)
	UserByID(ctx context.Context, id string) (*User, error)

	// Credential returns a user's credential. Inside Tx it locks the
	// user's row until the transaction ends (FOR UPDATE on MySQL/TiDB;
	// SQLite's transactions hold the write lock from BEGIN), so no
	// credential change can commit between this read and the commit.
	Credential(ctx context.Context, userID string) (Credential, error)
	// ChangeCredential records a change of the user's credentials made
	// from version from: it bumps the version and, unless passwordHash is
	// empty, stores the new hash with it. It fails with
	// ErrCredentialChanged once the version has moved past from, so of two
	// changes made from one state only the first commits.
	ChangeCredential(ctx context.Context, userID string, from int64, passwordHash string) error
	// RehashPassword replaces the hash with a new hash of the same
	// password (new parameters), leaving the version alone, and only
	// while the version is still version: ErrCredentialChanged otherwise,
	// so a rehash never undoes a change that committed after the check.
	RehashPassword(ctx context.Context, userID string, version int64, passwordHash string) error

	CreateSession(ctx context.Context, s *Session, refreshHash []byte) error
	// SessionByRefreshHash finds the session a refresh token belongs to and
	// the generation it was issued for. Inside Tx it locks the session row so
	// concurrent rotations of one session serialize.
	SessionByRefreshHash(ctx context.Context, refreshHash []byte) (*Session, int64, error)
	// AdvanceSession stores s (its new generation, times) and the refresh
	// token issued for that generation.
	AdvanceSession(ctx context.Context, s *Session, refreshHash []byte) error
	// LockSession returns the session with id; inside Tx it locks the row
	// so that what is decided about the session serializes.
	LockSession(ctx context.Context, id string) (*Session, error)
	// RevokeSessions marks the user's live sessions revoked (only those in
	// ids, or all when ids is nil) and appends one RevokedSession entry per
	// session to the revocation list, kept until until or the session's
	// AccessValidUntil, whichever is later. It returns the entries
	// appended.
	RevokeSessions(ctx context.Context, userID string, ids []string, at, until time.Time) ([]Revocation, error)
	// AppendRevocation appends one entry to the revocation list.
	AppendRevocation(ctx context.Context, r *Revocation) error
	// RevocationExists reports whether the revocation list holds an entry
	// of kind for subject.
	RevocationExists(ctx context.Context, kind RevocationKind, subject string) (bool, error)
	// RevocationsAfter returns up to limit entries with ID > afterID that
	// are still in force at now, in ID order.
	RevocationsAfter(ctx context.Context, afterID int64, now time.Time, limit int) ([]Revocation, error)
	// MaxRevocationID is the highest entry ID so far (0 when empty).
	MaxRevocationID(ctx context.Context) (int64, error)

	// SetRoles replaces a user's roles.
	SetRoles(ctx context.Context, userID string, roles []string) error
	// SessionIPs lists the distinct addresses the sessions of the user
	// with usernameKey were opened or last refreshed from, most recently
	// used first, at most limit; revoked and expired sessions count until
	// they are purged. Empty for a name nobody has.
	SessionIPs(ctx context.Context, usernameKey string, limit int) ([]string, error)
	// LiveSessions lists the user's sessions that are neither revoked nor
	// expired at now, most recently used first.
	LiveSessions(ctx context.Context, userID string, now time.Time) ([]*Session, error)
	// SessionsBeyond returns the ids of the user's live sessions (neither
	// revoked nor expired at now) other than the keep most recently
	// created, oldest first: the ones a cap of keep live sessions ends.
	SessionsBeyond(ctx context.Context, userID string, keep int, now time.Time) ([]string, error)

	// CreatePasskey stores a new passkey; a credential id already
	// registered (to anyone) fails with ErrPasskeyRegistered.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// Passkeys lists the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]*Passkey, error)
	// PasskeysByUsername lists the passkeys of the user with usernameKey,
	// in one query whether or not there is such a user (none: empty).
	PasskeysByUsername(ctx context.Context, usernameKey string) ([]*Passkey, error)
	// PasskeyByCredentialID finds the passkey with a credential id.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// UsePasskey records a login with passkey id: its new counter,
	// record and last use. It writes only if the counter grew (or both
	// the stored and the new one are 0), compared in the UPDATE itself:
	// ErrNotFound when the passkey is gone or its counter did not grow.
	UsePasskey(ctx context.Context, id string, signCount uint32, record []byte, at time.Time) error
	// DeletePasskey deletes the user's passkey id and returns it;
	// ErrNotFound when the user has no such passkey.
	DeletePasskey(ctx context.Context, userID, id string) (*Passkey, error)
	// CreatePasskeyChallenge stores a begun ceremony.
	CreatePasskeyChallenge(ctx context.Context, c *PasskeyChallenge) error
	// TakePasskeyChallenge deletes and returns the challenge id of
	// purpose (and of userID, unless empty), expired or not: of
	// concurrent takes of one challenge exactly one gets it, the others
	// ErrNotFound, as does one for another purpose or user (which leaves
	// it in place).
	TakePasskeyChallenge(ctx context.Context, id string, purpose PasskeyPurpose, userID string) (*PasskeyChallenge, error)

	// RecordEvent appends an audit event.
	RecordEvent(ctx context.Context, e *Event) error
	// Events lists audit events matching f, newest first.
	Events(ctx context.Context, f EventFilter) ([]*Event, error)

	// Purge deletes rows that can no longer matter, in bounded batches,
	// and reports how many went. Safe to run from several processes at
	// once.
	Purge(ctx context.Context, p Purge) (int64, error)

	Ping(ctx context.Context) error
}

// Purge says what the janitor may delete: each cut-off is "strictly before".
type Purge struct {
	// Revocations whose ExpiresAt passed: every token they voided expired.
	RevocationsExpiredBefore time.Time
	// Sessions that expired, or were revoked long enough ago that nobody
	// needs to see them.
	SessionsExpiredBefore time.Time
	SessionsRevokedBefore time.Time
	// Refresh-token hashes older than the refresh lifetime: such a token
	// is expired whatever its session.
	RefreshTokensCreatedBefore time.Time
	// Audit events past retention (zero time: keep all).
	EventsCreatedBefore time.Time
	// Passkey ceremonies that expired unfinished.
	PasskeyChallengesExpiredBefore time.Time
}
