package auth

import (
	"context"
	"errors"
	"fmt"
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
	r := NewRevocations(clock.Now, testMaxStaleness)
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
	r := NewRevocations(clock.Now, testMaxStaleness)
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
	r := NewRevocations(clock.Now, time.Hour)
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

func TestSyncLoadsEntriesInForce(t *testing.T) {
	clock := newTestClock()
	expired, jti, session := uuid.NewString(), uuid.NewString(), uuid.NewString()
	log := &revocationLog{}
	log.commit(1, expired, clock.Now().Add(-time.Second))
	log.commit(2, jti, clock.Now().Add(time.Hour))
	log.commit(3, session, clock.Now().Add(time.Hour))
	r := syncedRevocations(t, clock, log)

	if r.Len() != 2 {
		t.Errorf("Len = %d, want 2 entries in force", r.Len())
	}
	if err := r.Check(claimsFor(jti, uuid.NewString())); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Check(revoked jti) = %v, want ErrTokenRevoked", err)
	}
	if err := r.Check(claimsFor(uuid.NewString(), session)); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Check(revoked session) = %v, want ErrTokenRevoked", err)
	}
	if err := r.Check(claimsFor(expired, uuid.NewString())); err != nil {
		t.Errorf("Check(expired entry) = %v, want nil", err)
	}
}

// Auto-increment ids are handed out at insert and become visible at
// commit, so id 203 can appear after 204.
func TestSyncPicksUpLateCommit(t *testing.T) {
	clock := newTestClock()
	until := clock.Now().Add(time.Hour)
	log := &revocationLog{}
	for id := int64(1); id <= 200; id++ {
		log.commit(id, uuid.NewString(), until)
	}
	r := syncedRevocations(t, clock, log)

	sync := func() {
		t.Helper()
		clock.Advance(time.Second)
		if err := r.Sync(context.Background(), log); err != nil {
			t.Fatalf("Sync: %v", err)
		}
	}
	log.commit(201, uuid.NewString(), until)
	log.commit(202, uuid.NewString(), until)
	log.commit(204, uuid.NewString(), until)
	sync()

	late := uuid.NewString()
	log.commit(203, late, until)
	sync()
	if got := log.afterIDs[len(log.afterIDs)-1]; got != 202 {
		t.Errorf("sync after the gap read after id %d, want 202", got)
	}
	if err := r.Check(claimsFor(late, uuid.NewString())); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("Check(late commit) = %v, want ErrTokenRevoked", err)
	}
	sync()
	if got := log.afterIDs[len(log.afterIDs)-1]; got != 204 {
		t.Errorf("sync once the gap was filled read after id %d, want 204", got)
	}
}

// A first load must end at the maximum id it started from even when that
// row has expired and a burst of newer rows fills every batch after it.
func TestSyncFirstLoadEndsDespiteNewerRows(t *testing.T) {
	clock := newTestClock()
	until := clock.Now().Add(time.Hour)
	log := &revocationLog{}
	var loaded []string
	for id := int64(1); id <= 9; id++ {
		subject := uuid.NewString()
		loaded = append(loaded, subject)
		log.commit(id, subject, until)
	}
	log.commit(10, uuid.NewString(), clock.Now().Add(-time.Second))
	log.afterMaxID = func() {
		for id := int64(11); id <= 11+syncBatch; id++ {
			log.commit(id, uuid.NewString(), until)
		}
	}
	r := NewRevocations(clock.Now, testMaxStaleness)
	if err := r.Sync(context.Background(), log); err != nil {
		t.Fatalf("first Sync = %v after %d queries, want nil", err, len(log.afterIDs))
	}
	for _, subject := range loaded {
		if err := r.Check(claimsFor(subject, uuid.NewString())); !errors.Is(err, ErrTokenRevoked) {
			t.Errorf("Check(%s) = %v, want ErrTokenRevoked", subject, err)
		}
	}
}

func newSyncCursor(maxSeen int64) *syncCursor {
	return &syncCursor{maxSeen: maxSeen, gaps: make(map[int64]time.Time)}
}

func TestSyncCursorRereadsGapUntilFilled(t *testing.T) {
	now := newTestClock().Now()
	c := newSyncCursor(4)
	for _, id := range []int64{5, 6, 8} {
		c.observe(id, now)
	}
	if got := c.from(); got != 6 {
		t.Errorf("from() with 7 missing = %d, want 6", got)
	}
	c.observe(7, now.Add(time.Second))
	if got := c.from(); got != 8 {
		t.Errorf("from() once 7 arrived = %d, want 8", got)
	}
	if len(c.gaps) != 0 {
		t.Errorf("gaps = %v, want none", c.gaps)
	}
}

func TestSyncCursorForgetsGapAfterWindow(t *testing.T) {
	tests := []struct {
		name     string
		after    time.Duration
		wantFrom int64
	}{
		{"within window", gapWindow / 2, 6},
		{"at window", gapWindow, 6},
		{"past window", gapWindow + time.Nanosecond, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := newTestClock().Now()
			c := newSyncCursor(4)
			for _, id := range []int64{5, 6, 8} {
				c.observe(id, seen)
			}
			c.expire(seen.Add(tt.after))
			if got := c.from(); got != tt.wantFrom {
				t.Errorf("from() %v after the gap = %d, want %d", tt.after, got, tt.wantFrom)
			}
		})
	}
}

func TestSyncCursorBoundsGapsOnIDJump(t *testing.T) {
	const start = 100
	tests := []struct {
		jump     int64
		wantGaps int
		wantFrom int64
	}{
		{2, 1, start},
		{maxGapRun, maxGapRun - 1, start},
		{maxGapRun + 1, 0, start + maxGapRun + 1},
		{1_000_000_000, 0, start + 1_000_000_000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("jump ", tt.jump), func(t *testing.T) {
			c := newSyncCursor(start)
			c.observe(start+tt.jump, newTestClock().Now())
			if len(c.gaps) != tt.wantGaps {
				t.Errorf("gaps = %d, want %d", len(c.gaps), tt.wantGaps)
			}
			if got := c.from(); got != tt.wantFrom {
				t.Errorf("from() = %d, want %d", got, tt.wantFrom)
			}
		})
	}
}

func TestSyncCursorIgnoresRereadIDs(t *testing.T) {
	now := newTestClock().Now()
	c := newSyncCursor(10)
	c.observe(3, now)
	if c.maxSeen != 10 || len(c.gaps) != 0 {
		t.Errorf("after re-reading id 3: maxSeen %d, gaps %v; want 10, none", c.maxSeen, c.gaps)
	}
}

func TestSyncCursorStartAtRewatchesRecentIDs(t *testing.T) {
	tests := []struct {
		maxID    int64
		wantFrom int64
	}{
		{0, 0},
		{50, 0},
		{initialGapWatch, 0},
		{1000, 1000 - initialGapWatch},
	}
	for _, tt := range tests {
		c := newSyncCursor(0)
		c.startAt(tt.maxID)
		if got := c.from(); got != tt.wantFrom {
			t.Errorf("startAt(%d): from() = %d, want %d", tt.maxID, got, tt.wantFrom)
		}
	}
}
