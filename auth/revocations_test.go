package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// revocationLog stands in for the two Store methods Sync uses, so the sync
// cursor algorithm is tested without a database. It behaves like the SQL
// store: rows in id order, expired rows filtered out. Any other Store method
// panics on the nil embedded interface.
type revocationLog struct {
	Store
	rows []Revocation
	// afterMaxID runs once MaxRevocationID has answered, to commit rows
	// "while" the first load is running.
	afterMaxID func()
	// failWith makes both methods fail, as when the database is down.
	failWith error
	// afterIDs records each RevocationsAfter cursor, to see which ids a
	// sync re-reads.
	afterIDs []int64
}

// maxQueries stops a pull that never ends from hanging the test.
const maxQueries = 100

var errTooManyQueries = errors.New("revocationLog: too many queries, the pull does not terminate")

func (l *revocationLog) commit(id int64, subject string, expiresAt time.Time) {
	l.rows = append(l.rows, Revocation{ID: id, Kind: RevokedAccessToken, Subject: subject, ExpiresAt: expiresAt})
	slices.SortFunc(l.rows, func(a, b Revocation) int { return int(a.ID - b.ID) })
}

func (l *revocationLog) RevocationsAfter(_ context.Context, afterID int64, now time.Time, limit int) ([]Revocation, error) {
	if l.failWith != nil {
		return nil, l.failWith
	}
	l.afterIDs = append(l.afterIDs, afterID)
	if len(l.afterIDs) > maxQueries {
		return nil, errTooManyQueries
	}
	var out []Revocation
	for _, r := range l.rows {
		if r.ID > afterID && r.ExpiresAt.After(now) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *revocationLog) MaxRevocationID(context.Context) (int64, error) {
	if l.failWith != nil {
		return 0, l.failWith
	}
	var maxID int64
	for _, r := range l.rows {
		maxID = max(maxID, r.ID)
	}
	if l.afterMaxID != nil {
		l.afterMaxID()
	}
	return maxID, nil
}

const testMaxStaleness = time.Minute

// syncedRevocations returns a list that has synced once with log.
func syncedRevocations(t testing.TB, clock *testClock, log *revocationLog) *Revocations {
	t.Helper()
	r := NewRevocations(clock.Now, testMaxStaleness, nil)
	if err := r.Sync(context.Background(), log); err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	return r
}

func claimsFor(jti, sid string) *Claims {
	c := &Claims{SessionID: sid}
	c.ID = jti
	return c
}

func TestRevocationsFailClosedBeforeFirstSync(t *testing.T) {
	clock := newTestClock()
	r := NewRevocations(clock.Now, testMaxStaleness, nil)
	err := r.Check(claimsFor(uuid.NewString(), uuid.NewString()))
	if KindOf(err) != KindUnavailable {
		t.Errorf("Check before any sync = %v, want kind %v", err, KindUnavailable)
	}
}

func TestRevocationsCheck(t *testing.T) {
	clock := newTestClock()
	r := syncedRevocations(t, clock, &revocationLog{})
	revokedJTI, revokedSession := uuid.New(), uuid.New()
	r.Add(revokedJTI.String(), clock.Now().Add(time.Hour))
	r.Add(revokedSession.String(), clock.Now().Add(time.Hour))

	tests := []struct {
		name        string
		claims      *Claims
		wantRevoked bool
	}{
		{"unrelated token", claimsFor(uuid.NewString(), uuid.NewString()), false},
		{"revoked jti", claimsFor(revokedJTI.String(), uuid.NewString()), true},
		{"revoked session", claimsFor(uuid.NewString(), revokedSession.String()), true},
		// Verify admits every spelling uuid.Validate accepts; all must hit.
		{"revoked jti in upper case", claimsFor(strings.ToUpper(revokedJTI.String()), uuid.NewString()), true},
		{"revoked jti as URN", claimsFor("urn:uuid:"+revokedJTI.String(), uuid.NewString()), true},
		{"revoked session without hyphens", claimsFor(uuid.NewString(), strings.ReplaceAll(revokedSession.String(), "-", "")), true},
		{"jti not a UUID", claimsFor("not-a-uuid", uuid.NewString()), true},
		{"session not a UUID", claimsFor(uuid.NewString(), ""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Check(tt.claims)
			if tt.wantRevoked && !errors.Is(err, ErrTokenRevoked) {
				t.Errorf("Check = %v, want ErrTokenRevoked", err)
			}
			if !tt.wantRevoked && err != nil {
				t.Errorf("Check = %v, want nil", err)
			}
		})
	}
}

func TestRevocationsAddKeepsLatestExpiry(t *testing.T) {
	clock := newTestClock()
	r := syncedRevocations(t, clock, &revocationLog{})
	jti := uuid.NewString()
	for _, d := range []time.Duration{10 * time.Second, 40 * time.Second, 5 * time.Second} {
		r.Add(jti, clock.Now().Add(d))
	}
	r.Add("not-a-uuid", clock.Now().Add(time.Hour))
	if r.Len() != 1 {
		t.Errorf("Len = %d, want 1: one entry per UUID, none for a non-UUID", r.Len())
	}
	clock.Advance(30 * time.Second)
	if err := r.Check(claimsFor(jti, uuid.NewString())); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Check 30s later = %v, want ErrTokenRevoked: a shorter re-add must not shorten the entry", err)
	}
}

func TestRevocationsForgetExpiredEntries(t *testing.T) {
	clock := newTestClock()
	r := NewRevocations(clock.Now, time.Hour, nil)
	if err := r.Sync(context.Background(), &revocationLog{}); err != nil {
		t.Fatal(err)
	}
	expiring, lasting := uuid.NewString(), uuid.NewString()
	r.Add(expiring, clock.Now().Add(10*time.Second))
	r.Add(lasting, clock.Now().Add(time.Minute))

	tests := []struct {
		name         string
		advance      time.Duration
		wantRevoked  bool
		wantLenAfter int
	}{
		{"before expiry", 5 * time.Second, true, 2},
		{"at expiry", 5 * time.Second, true, 2},
		{"past expiry", time.Second, false, 1},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		err := r.Check(claimsFor(expiring, uuid.NewString()))
		if revoked := errors.Is(err, ErrTokenRevoked); revoked != tt.wantRevoked {
			t.Errorf("%s: Check = %v, want revoked %v", tt.name, err, tt.wantRevoked)
		}
		r.Sweep()
		if r.Len() != tt.wantLenAfter {
			t.Errorf("%s: Len after Sweep = %d, want %d", tt.name, r.Len(), tt.wantLenAfter)
		}
	}
	if err := r.Check(claimsFor(lasting, uuid.NewString())); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Sweep dropped an entry still in force: Check = %v", err)
	}
}

func TestRevocationsFailClosedWhenStale(t *testing.T) {
	errDown := errors.New("database down")
	tests := []struct {
		name            string
		resyncAfter     time.Duration // 0: no second sync
		resyncFails     bool
		checkAfter      time.Duration
		wantUnavailable bool
	}{
		{name: "just synced", checkAfter: 0},
		{name: "at max staleness", checkAfter: testMaxStaleness},
		{name: "beyond max staleness", checkAfter: testMaxStaleness + time.Nanosecond, wantUnavailable: true},
		{name: "failed sync does not refresh", resyncAfter: 30 * time.Second, resyncFails: true,
			checkAfter: testMaxStaleness + time.Second, wantUnavailable: true},
		{name: "successful sync refreshes", resyncAfter: 30 * time.Second,
			checkAfter: testMaxStaleness + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			start := clock.Now()
			log := &revocationLog{}
			r := syncedRevocations(t, clock, log)
			if tt.resyncAfter > 0 {
				clock.Advance(tt.resyncAfter)
				if tt.resyncFails {
					log.failWith = errDown
				}
				if err := r.Sync(context.Background(), log); (err != nil) != tt.resyncFails {
					t.Fatalf("second Sync = %v, want failure %v", err, tt.resyncFails)
				}
			}
			clock.now = start.Add(tt.checkAfter)
			err := r.Check(claimsFor(uuid.NewString(), uuid.NewString()))
			if tt.wantUnavailable && KindOf(err) != KindUnavailable {
				t.Errorf("Check = %v, want kind %v", err, KindUnavailable)
			}
			if !tt.wantUnavailable && err != nil {
				t.Errorf("Check = %v, want nil", err)
			}
		})
	}
}
