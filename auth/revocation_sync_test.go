package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

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
	r := NewRevocations(clock.Now, testMaxStaleness, nil)
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

// A user change rides the revocation log: Sync hands it to the callback
// given to NewRevocations (the user cache drops the user) and does not
// take it for a revoked token.
func TestSyncPassesUserChangesToCallback(t *testing.T) {
	clock := newTestClock()
	until := clock.Now().Add(time.Hour)
	first, second := uuid.NewString(), uuid.NewString()
	log := &revocationLog{}
	log.rows = append(log.rows, Revocation{ID: 1, Kind: UserChanged, Subject: first, UserID: first, ExpiresAt: until})
	var changed []string
	r := NewRevocations(clock.Now, testMaxStaleness, func(rev Revocation) {
		if rev.Kind == UserChanged {
			changed = append(changed, rev.Subject)
		}
	})
	if err := r.Sync(context.Background(), log); err != nil {
		t.Fatal(err)
	}
	log.rows = append(log.rows, Revocation{ID: 2, Kind: UserChanged, Subject: second, UserID: second, ExpiresAt: until})
	if err := r.Sync(context.Background(), log); err != nil {
		t.Fatal(err)
	}
	if len(changed) < 2 || changed[0] != first || changed[len(changed)-1] != second {
		t.Errorf("callback saw %v, want %s (first load) then %s (pull)", changed, first, second)
	}
	if r.Len() != 0 {
		t.Errorf("Len = %d: a user change was held as a revocation", r.Len())
	}
	if err := r.Check(claimsFor(uuid.NewString(), first)); err != nil {
		t.Errorf("Check after a user change = %v, want nil", err)
	}
}

func TestSyncedEntriesOfOtherKindsVoidNoToken(t *testing.T) {
	clock := newTestClock()
	r := NewRevocations(clock.Now, time.Minute, nil)
	sid, jti := uuid.NewString(), uuid.NewString()
	for _, kind := range []RevocationKind{"session_started", "password_changed", "user_disabled", "user_cutoff", "a_future_kind"} {
		r.apply(Revocation{Kind: kind, Subject: sid, UserID: sid, RevokedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)})
		r.apply(Revocation{Kind: kind, Subject: jti, UserID: sid, RevokedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)})
	}
	r.lastSync.Store(clock.Now().UnixNano())
	if err := r.Check(claimsFor(jti, sid)); err != nil {
		t.Fatalf("entries that name no revocation voided a token: %v", err)
	}
	r.apply(Revocation{Kind: RevokedSession, Subject: sid, UserID: sid, RevokedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)})
	if err := r.Check(claimsFor(jti, sid)); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a session entry did not void its token: %v", err)
	}
}

func TestRememberedEntriesReachTheListenerAndVoidTheirTokens(t *testing.T) {
	clock := newTestClock()
	var heard []RevocationKind
	r := NewRevocations(clock.Now, time.Minute, func(rev Revocation) { heard = append(heard, rev.Kind) })
	r.lastSync.Store(clock.Now().UnixNano())
	sid := uuid.NewString()
	until := clock.Now().Add(time.Hour)
	r.Remember(Revocation{Kind: RevokedSession, Subject: sid, UserID: sid, ExpiresAt: until},
		Revocation{Kind: "session_started", Subject: uuid.NewString(), UserID: sid, ExpiresAt: until})
	if len(heard) != 2 || heard[0] != RevokedSession || heard[1] != "session_started" {
		t.Fatalf("listener heard %v, want both entries in order", heard)
	}
	if err := r.Check(claimsFor(uuid.NewString(), sid)); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("a remembered session entry did not void its token: %v", err)
	}
}
