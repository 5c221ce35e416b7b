package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/store"
)

// The use cases are tested here against the real store on an in-memory
// SQLite database, with no HTTP in between: what the service decides is
// checked where it is decided. The HTTP tests in app check what HTTP adds.

// cheapArgon2 keeps the tests fast; the cost parameters are tested on
// their own.
var cheapArgon2 = auth.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

const (
	accessTTL  = 15 * time.Minute
	refreshTTL = 720 * time.Hour
	// staleness is the revocation list's bound; advance re-syncs, so only
	// a test that wants a stale list ever sees one.
	staleness = time.Minute
)

var (
	ctx    = context.Background()
	client = auth.Client{IP: "192.0.2.10", UserAgent: "service-test"}
)

// clock is moved by hand. It starts on a whole second because JWT times
// are whole seconds.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// fixture is one keycard's domain over a fresh database.
type fixture struct {
	t           *testing.T
	clock       *clock
	store       *store.Store
	tokens      *auth.Tokens
	revocations *auth.Revocations
	svc         *auth.Service
}

// newFixture builds the service as app does, on sqlite::memory: with the
// migrations applied. edit adjusts the service's options.
func newFixture(t *testing.T, edit ...func(*auth.Options)) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	db, err := store.Open(ctx, "sqlite::memory:", c.Now)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	migrator, err := db.Migrator(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Up(ctx); err != nil {
		t.Fatalf("migrations: %v", err)
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{
		Issuer:   "https://keycard.test",
		Audience: "keycard-test",
		TTL:      accessTTL,
		Leeway:   5 * time.Second,
		Signer:   auth.NewHMACKey([]byte("service-test-secret-0123456789-abcdefghij")),
		Now:      c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, clock: c, store: store.New(db, 0), tokens: tokens}
	f.svc, f.revocations = f.service(cheapArgon2, edit...)
	return f
}

// service builds a service (and its revocation list) on the fixture's
// database, as a second process sharing it would: the same store, clock
// and keys, its own memory.
func (f *fixture) service(params auth.Argon2Params, edit ...func(*auth.Options)) (*auth.Service, *auth.Revocations) {
	f.t.Helper()
	passwords, err := auth.NewPasswords(params, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	users := auth.NewUserCache()
	revocations := auth.NewRevocations(f.clock.Now, staleness, users.Forget)
	if err := revocations.Sync(ctx, f.store); err != nil {
		f.t.Fatalf("first revocation sync: %v", err)
	}
	opts := auth.Options{RefreshTTL: refreshTTL, Now: f.clock.Now}
	for _, e := range edit {
		e(&opts)
	}
	svc, err := auth.NewService(f.store, passwords, f.tokens, revocations, users, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return svc, revocations
}

// advance moves the clock and syncs the revocation list, as the
// background sync would have meanwhile.
func (f *fixture) advance(d time.Duration) {
	f.t.Helper()
	f.clock.mu.Lock()
	f.clock.now = f.clock.now.Add(d)
	f.clock.mu.Unlock()
	if err := f.revocations.Sync(ctx, f.store); err != nil {
		f.t.Fatalf("revocation sync: %v", err)
	}
}

func (f *fixture) register(username, password string) *auth.Grant {
	f.t.Helper()
	grant, err := f.svc.Register(ctx, auth.RegisterInput{Username: username, Password: password}, client)
	if err != nil {
		f.t.Fatalf("register %s: %v", username, err)
	}
	return grant
}

func (f *fixture) login(username, password string) *auth.Grant {
	f.t.Helper()
	grant, err := f.svc.Login(ctx, username, password, client)
	if err != nil {
		f.t.Fatalf("login %s: %v", username, err)
	}
	return grant
}

// claims verifies grant's access token the way every request does.
func (f *fixture) claims(grant *auth.Grant) *auth.Claims {
	f.t.Helper()
	c, err := f.svc.Authenticate(ctx, "Bearer "+grant.AccessToken)
	if err != nil {
		f.t.Fatalf("access token of session %s: %v", grant.Session.ID, err)
	}
	return c
}

// expectSignedIn fails unless grant's access token authenticates and its
// refresh token is still the current one; it rotates it to check, and
// returns the rotated grant.
func (f *fixture) expectSignedIn(grant *auth.Grant) *auth.Grant {
	f.t.Helper()
	f.claims(grant)
	next, err := f.svc.Refresh(ctx, grant.RefreshToken, client)
	if err != nil {
		f.t.Fatalf("refresh token of session %s: %v", grant.Session.ID, err)
	}
	return next
}

// expectSignedOut fails unless both tokens of grant stopped working.
func (f *fixture) expectSignedOut(grant *auth.Grant) {
	f.t.Helper()
	if _, err := f.svc.Authenticate(ctx, "Bearer "+grant.AccessToken); !errors.Is(err, auth.ErrTokenRevoked) {
		f.t.Errorf("access token of ended session %s: %v, want ErrTokenRevoked", grant.Session.ID, err)
	}
	if _, err := f.svc.Refresh(ctx, grant.RefreshToken, client); !errors.Is(err, auth.ErrInvalidRefresh) {
		f.t.Errorf("refresh token of ended session %s: %v, want ErrInvalidRefresh", grant.Session.ID, err)
	}
}

// expectInvalid fails unless err is invalid input on field.
func expectInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var domain *auth.Error
	if !errors.As(err, &domain) || domain.Kind != auth.KindInvalidInput || domain.Field != field {
		t.Fatalf("error %v, want invalid input on %q", err, field)
	}
}

// events lists the user's audit events of kind.
func (f *fixture) events(userID string, kind auth.EventKind) []*auth.Event {
	f.t.Helper()
	events, err := f.store.Events(ctx, auth.EventFilter{UserID: userID, Kind: kind, Limit: 100})
	if err != nil {
		f.t.Fatal(err)
	}
	return events
}
