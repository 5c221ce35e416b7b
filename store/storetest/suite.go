package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// Run is the storage contract: every auth.Store implementation, on every
// database, must pass it unchanged. newStore returns a fresh, migrated,
// empty store for one subtest and closes it when that subtest ends.
//
// The suite speaks only through auth.Store and never asks which dialect it
// runs on: a dialect passes by behaving exactly like the others.
func Run(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("users", func(t *testing.T) { runUsers(t, newStore) })
	t.Run("sessions", func(t *testing.T) { runSessions(t, newStore) })
	t.Run("tx", func(t *testing.T) { runTx(t, newStore) })
	t.Run("revocations", func(t *testing.T) { runRevocations(t, newStore) })
	t.Run("events", func(t *testing.T) { runEvents(t, newStore) })
	t.Run("purge", func(t *testing.T) { runPurge(t, newStore) })
	t.Run("passkeys", func(t *testing.T) { runPasskeys(t, newStore) })
	t.Run("ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("concurrency", func(t *testing.T) { runConcurrency(t, newStore) })
}

// epoch is the suite's "now". It has a microsecond part, the precision the
// service writes (auth.Service.clock) and DATETIME(6) keeps, so a dialect
// that drops or rounds sub-second digits fails.
var epoch = time.Date(2031, time.March, 14, 15, 9, 26, 535897000, time.UTC)

func createUser(t *testing.T, store auth.Store, username string, email *string, roles []string) *auth.User {
	t.Helper()
	u := &auth.User{ID: uuid.NewString(), Username: username, Email: email, Roles: roles, CreatedAt: epoch}
	if err := store.CreateUser(t.Context(), u, "hash-of-"+username); err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

func newSession(userID string) *auth.Session {
	return &auth.Session{
		ID:         uuid.NewString(),
		UserID:     userID,
		CreatedAt:  epoch,
		LastUsedAt: epoch,
		RotatedAt:  epoch,
		ExpiresAt:  epoch.Add(30 * 24 * time.Hour),
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
		IP:         "203.0.113.7",
		// Its access token: 15 minutes and 5 seconds of leeway.
		AccessValidUntil: epoch.Add(15*time.Minute + 5*time.Second),
	}
}

func createSession(t *testing.T, store auth.Store, userID string) (*auth.Session, []byte) {
	t.Helper()
	sess := newSession(userID)
	return sess, storeSession(t, store, sess)
}

// storeSession creates sess and returns the hash of its first refresh
// token.
func storeSession(t *testing.T, store auth.Store, sess *auth.Session) []byte {
	t.Helper()
	hash := refreshHash(t)
	if err := store.CreateSession(t.Context(), sess, hash); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.UserAgent, err)
	}
	return hash
}

// sessionUsed is a session of userID last used (and rotated) at usedAt,
// named name in its user agent so failures say which one misbehaved.
func sessionUsed(userID, name string, usedAt, expiresAt time.Time) *auth.Session {
	sess := newSession(userID)
	sess.CreatedAt = usedAt.Add(-time.Hour)
	sess.LastUsedAt = usedAt
	sess.RotatedAt = usedAt
	sess.ExpiresAt = expiresAt
	sess.UserAgent = name
	return sess
}

// advanceSession rotates sess at at, as a refresh would, and returns the
// session as stored and the new token's hash.
func advanceSession(t *testing.T, store auth.Store, sess *auth.Session, at time.Time) (*auth.Session, []byte) {
	t.Helper()
	next := *sess
	next.Generation++
	next.LastUsedAt = at
	next.RotatedAt = at
	next.ExpiresAt = at.Add(30 * 24 * time.Hour)
	next.AccessValidUntil = at.Add(15*time.Minute + 5*time.Second)
	hash := refreshHash(t)
	if err := store.AdvanceSession(t.Context(), &next, hash); err != nil {
		t.Fatalf("AdvanceSession(%s) to generation %d: %v", sess.UserAgent, next.Generation, err)
	}
	return &next, hash
}

// refreshHash is what the service stores for a refresh token: 32 bytes of
// SHA-256.
func refreshHash(t *testing.T) []byte {
	t.Helper()
	var token [32]byte
	if _, err := rand.Read(token[:]); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(token[:])
	return sum[:]
}

func newRevocation(expiresAt time.Time) *auth.Revocation {
	return &auth.Revocation{
		Kind:      auth.RevokedAccessToken,
		Subject:   uuid.NewString(),
		UserID:    uuid.NewString(),
		RevokedAt: epoch,
		ExpiresAt: expiresAt,
	}
}

func checkUser(t *testing.T, what string, got, want *auth.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username {
		t.Errorf("%s: ID, Username = %q, %q; want %q, %q", what, got.ID, got.Username, want.ID, want.Username)
	}
	if (got.Email == nil) != (want.Email == nil) || got.Email != nil && *got.Email != *want.Email {
		t.Errorf("%s: Email = %s, want %s", what, optional(got.Email), optional(want.Email))
	}
	wantRoles := want.Roles
	if wantRoles == nil {
		wantRoles = []string{}
	}
	if got.Roles == nil || !slices.Equal(got.Roles, wantRoles) {
		t.Errorf("%s: Roles = %#v, want %#v", what, got.Roles, wantRoles)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
}

func checkSession(t *testing.T, what string, got, want *auth.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Generation != want.Generation ||
		got.UserAgent != want.UserAgent || got.IP != want.IP {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTime(t, what+": RotatedAt", got.RotatedAt, want.RotatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	switch {
	case got.AccessValidUntil.IsZero() != want.AccessValidUntil.IsZero():
		t.Errorf("%s: AccessValidUntil = %v, want %v", what, got.AccessValidUntil, want.AccessValidUntil)
	case !want.AccessValidUntil.IsZero():
		checkTime(t, what+": AccessValidUntil", got.AccessValidUntil, want.AccessValidUntil)
	}
	switch {
	case (got.RevokedAt == nil) != (want.RevokedAt == nil):
		t.Errorf("%s: RevokedAt = %v, want %v", what, got.RevokedAt, want.RevokedAt)
	case got.RevokedAt != nil:
		checkTime(t, what+": RevokedAt", *got.RevokedAt, *want.RevokedAt)
	}
}

// checkTime wants the same instant to the microsecond, read back in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano+" MST"), want.UTC().Format(time.RFC3339Nano+" MST"))
	}
}

func checkEvent(t *testing.T, what string, got, want *auth.Event) {
	t.Helper()
	if got.ID != want.ID || got.Kind != want.Kind || got.Username != want.Username ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || got.Detail != want.Detail {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	if optional(got.UserID) != optional(want.UserID) {
		t.Errorf("%s: UserID = %s, want %s", what, optional(got.UserID), optional(want.UserID))
	}
	if optional(got.SessionID) != optional(want.SessionID) {
		t.Errorf("%s: SessionID = %s, want %s", what, optional(got.SessionID), optional(want.SessionID))
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
}

func checkMaxRevocationID(t *testing.T, store auth.Store, want int64) {
	t.Helper()
	got, err := store.MaxRevocationID(t.Context())
	if err != nil {
		t.Fatalf("MaxRevocationID: %v", err)
	}
	if got != want {
		t.Errorf("MaxRevocationID = %d, want %d", got, want)
	}
}

func sameRevocation(a, b auth.Revocation) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Subject == b.Subject && a.UserID == b.UserID &&
		a.RevokedAt.Equal(b.RevokedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.RevokedAt.Location() == time.UTC && a.ExpiresAt.Location() == time.UTC
}

func optional(s *string) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *s)
}
