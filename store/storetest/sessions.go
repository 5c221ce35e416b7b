package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// runSessions checks session rows and their refresh tokens: look-up by token
// hash, rotation that keeps old tokens resolvable for reuse detection, and
// the live-session list.
func runSessions(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("CreateSessionThenLookUpReturnsItAtGenerationZero", func(t *testing.T) {
		store := newStore(t)
		user := createUser(t, store, "judy", nil, nil)
		want, hash := createSession(t, store, user.ID)

		got, generation, err := store.SessionByRefreshHash(t.Context(), hash)
		if err != nil {
			t.Fatalf("SessionByRefreshHash: %v", err)
		}
		checkSession(t, "session", got, want)
		if generation != 0 {
			t.Errorf("generation = %d, want 0", generation)
		}
	})

	t.Run("UnknownRefreshHashIsNotFound", func(t *testing.T) {
		store := newStore(t)
		user := createUser(t, store, "karl", nil, nil)
		createSession(t, store, user.ID)
		if _, _, err := store.SessionByRefreshHash(t.Context(), refreshHash(t)); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SessionByRefreshHash(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("AdvanceSessionKeepsEveryEarlierTokenResolvable", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "laura", nil, nil)
		sess, firstHash := createSession(t, store, user.ID)
		hashes := [][]byte{firstHash}

		for step := 1; step <= 2; step++ {
			at := epoch.Add(time.Duration(step) * time.Hour)
			next := *sess
			next.Generation++
			next.LastUsedAt = at
			next.RotatedAt = at
			next.ExpiresAt = at.Add(30 * 24 * time.Hour)
			next.AccessValidUntil = at.Add(time.Duration(step) * time.Hour)
			next.UserAgent = fmt.Sprintf("agent %d", step)
			next.IP = fmt.Sprintf("198.51.100.%d", step)
			hash := refreshHash(t)
			if err := store.AdvanceSession(ctx, &next, hash); err != nil {
				t.Fatalf("AdvanceSession to generation %d: %v", next.Generation, err)
			}
			sess = &next
			hashes = append(hashes, hash)
		}

		// Earlier tokens resolve to their own generation so that a replayed
		// one is recognised as reuse, not as unknown.
		for issued, hash := range hashes {
			got, generation, err := store.SessionByRefreshHash(ctx, hash)
			if err != nil {
				t.Fatalf("SessionByRefreshHash(token of generation %d): %v", issued, err)
			}
			if generation != int64(issued) {
				t.Errorf("token of generation %d resolves to generation %d", issued, generation)
			}
			checkSession(t, fmt.Sprintf("session via token of generation %d", issued), got, sess)
		}
	})

	t.Run("AdvanceSessionFromStaleGenerationChangesNothing", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "mallory", nil, nil)
		read, _ := createSession(t, store, user.ID)

		winner := *read
		winner.Generation++
		winner.RotatedAt = epoch.Add(time.Minute)
		winner.UserAgent = "winner"
		winnerHash := refreshHash(t)
		if err := store.AdvanceSession(ctx, &winner, winnerHash); err != nil {
			t.Fatalf("AdvanceSession: %v", err)
		}

		loser := *read
		loser.Generation++
		loser.RotatedAt = epoch.Add(2 * time.Minute)
		loser.UserAgent = "loser"
		loserHash := refreshHash(t)
		err := store.AdvanceSession(ctx, &loser, loserHash)
		if !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("AdvanceSession from a stale generation = %v, want ErrInvalidRefresh", err)
		}
		if _, _, err := store.SessionByRefreshHash(ctx, loserHash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("stale rotation stored its token: SessionByRefreshHash = %v, want ErrNotFound", err)
		}
		got, _, err := store.SessionByRefreshHash(ctx, winnerHash)
		if err != nil {
			t.Fatalf("SessionByRefreshHash: %v", err)
		}
		checkSession(t, "session after stale rotation", got, &winner)
	})

	// A rotation racing a logout must not bring the session back to life.
	t.Run("AdvanceSessionOfRevokedSessionFails", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "niaj", nil, nil)
		sess, _ := createSession(t, store, user.ID)
		if _, err := store.RevokeSessions(ctx, user.ID, nil, epoch, epoch.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		next := *sess
		next.Generation++
		hash := refreshHash(t)
		if err := store.AdvanceSession(ctx, &next, hash); err == nil {
			t.Fatal("AdvanceSession of a revoked session succeeded")
		}
		if _, _, err := store.SessionByRefreshHash(ctx, hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("refused rotation stored its token: SessionByRefreshHash = %v, want ErrNotFound", err)
		}
	})

	t.Run("LiveSessionsListsTheUsersLiveSessionsMostRecentlyUsedFirst", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		now := epoch
		wholeSecond := now.Truncate(time.Second)
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)

		byName := map[string]*auth.Session{}
		for i, sess := range []*auth.Session{
			sessionUsed(alice.ID, "expires in a microsecond", now.Add(-time.Hour), now.Add(time.Microsecond)),
			// Used at a whole second just before a fractional now: a text
			// comparison of times must still order them as instants.
			sessionUsed(alice.ID, "used at a whole second", wholeSecond, now.Add(24*time.Hour)),
			sessionUsed(alice.ID, "used long ago", now.Add(-72*time.Hour), now.Add(time.Hour)),
			sessionUsed(alice.ID, "expires at now", now.Add(-10*time.Minute), now),
			sessionUsed(alice.ID, "expired a microsecond ago", now.Add(-20*time.Minute), now.Add(-time.Microsecond)),
			sessionUsed(alice.ID, "expired at a whole second", now.Add(-30*time.Minute), wholeSecond),
			sessionUsed(alice.ID, "revoked", now.Add(-5*time.Minute), now.Add(24*time.Hour)),
			sessionUsed(alice.ID, "rotated", now.Add(-48*time.Hour), now.Add(time.Minute)),
			// Bob's session is the most recently used of all, so leaking it
			// would put it first.
			sessionUsed(bob.ID, "bob's", now, now.Add(24*time.Hour)),
		} {
			sess.IP = fmt.Sprintf("2001:db8::%x", i+1)
			storeSession(t, store, sess)
			byName[sess.UserAgent] = sess
		}
		if _, err := store.RevokeSessions(ctx, alice.ID, []string{byName["revoked"].ID}, now.Add(-time.Minute), now.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		// Rotation moves a session's last use and expiry forward: it goes
		// from the bottom of the list to the top.
		byName["rotated"], _ = advanceSession(t, store, byName["rotated"], now.Add(-time.Microsecond))

		for _, tc := range []struct {
			who    string
			userID string
			now    time.Time
			want   []string
		}{
			{"alice", alice.ID, now, []string{"rotated", "used at a whole second", "expires in a microsecond", "used long ago"}},
			{"alice", alice.ID, now.Add(time.Hour), []string{"rotated", "used at a whole second"}},
			{"bob", bob.ID, now, []string{"bob's"}},
			{"bob", bob.ID, now.Add(24 * time.Hour), nil},
			{"unknown user", uuid.NewString(), now, nil},
		} {
			got, err := store.LiveSessions(ctx, tc.userID, tc.now)
			if err != nil {
				t.Fatalf("LiveSessions(%s, %s): %v", tc.who, tc.now, err)
			}
			var gotNames []string
			for _, sess := range got {
				gotNames = append(gotNames, sess.UserAgent)
			}
			if !slices.Equal(gotNames, tc.want) {
				t.Errorf("LiveSessions(%s, %s) = %q, want %q", tc.who, tc.now, gotNames, tc.want)
				continue
			}
			for _, sess := range got {
				checkSession(t, "LiveSessions: "+sess.UserAgent, sess, byName[sess.UserAgent])
			}
		}
	})

	t.Run("SessionsBeyondAreTheOldestLiveSessionsPastTheNewestKept", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		now := epoch
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)

		created := func(userID, name string, ago time.Duration, expiresAt time.Time) *auth.Session {
			sess := newSession(userID)
			sess.CreatedAt, sess.LastUsedAt, sess.RotatedAt = now.Add(-ago), now.Add(-ago), now.Add(-ago)
			sess.ExpiresAt = expiresAt
			sess.UserAgent = name
			storeSession(t, store, sess)
			return sess
		}
		later := now.Add(time.Hour)
		oldest := created(alice.ID, "oldest", 5*time.Hour, later)
		revoked := created(alice.ID, "revoked", 4*time.Hour, later)
		created(alice.ID, "expired", 4*time.Hour, now)
		older := created(alice.ID, "older", 3*time.Hour, later)
		newer := created(alice.ID, "newer", 2*time.Hour, later)
		// Used most recently, but created second-to-last: the cap ends
		// sessions by age, not by last use.
		used := created(alice.ID, "newest but one", time.Hour, later)
		advanceSession(t, store, used, now)
		newest := created(alice.ID, "newest", time.Minute, later)
		created(bob.ID, "bob's, older than all", 10*time.Hour, later)
		if _, err := store.RevokeSessions(ctx, alice.ID, []string{revoked.ID}, now, later); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			keep int
			want []string
		}{
			{10, nil},
			{5, nil},
			{4, []string{oldest.ID}},
			{3, []string{oldest.ID, older.ID}},
			{0, []string{oldest.ID, older.ID, newer.ID, used.ID, newest.ID}},
		} {
			got, err := store.SessionsBeyond(ctx, alice.ID, tc.keep, now)
			if err != nil {
				t.Fatalf("SessionsBeyond(keep %d): %v", tc.keep, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SessionsBeyond(keep %d) = %q, want %q", tc.keep, got, tc.want)
			}
		}
		if got, err := store.SessionsBeyond(ctx, bob.ID, 1, now); err != nil || len(got) != 0 {
			t.Errorf("SessionsBeyond(bob, keep 1) = %q, %v; want none", got, err)
		}
	})
	t.Run("SessionIPsListsEachAddressOnceMostRecentFirstByUsername", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		olivia := createUser(t, store, "Olivia", nil, nil)
		peggy := createUser(t, store, "peggy", nil, nil)
		for i, s := range []struct {
			userID, ip string
			used       time.Duration
		}{
			{olivia.ID, "198.51.100.1", -3 * time.Hour},
			{olivia.ID, "2001:db8::1", -2 * time.Hour},
			{olivia.ID, "198.51.100.1", -time.Hour}, // again, more recently
			{olivia.ID, "198.51.100.2", -4 * time.Hour},
			{peggy.ID, "203.0.113.9", 0},
		} {
			sess := sessionUsed(s.userID, fmt.Sprintf("session %d", i), epoch.Add(s.used), epoch.Add(time.Hour))
			sess.IP = s.ip
			storeSession(t, store, sess)
		}
		// Revoked sessions still say where the user has signed in from.
		if _, err := store.RevokeSessions(ctx, olivia.ID, nil, epoch, epoch.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		for _, tc := range []struct {
			key   string
			limit int
			want  []string
		}{
			{"olivia", 10, []string{"198.51.100.1", "2001:db8::1", "198.51.100.2"}},
			{"olivia", 2, []string{"198.51.100.1", "2001:db8::1"}},
			{"peggy", 10, []string{"203.0.113.9"}},
			{"nobody", 10, nil},
		} {
			got, err := store.SessionIPs(ctx, tc.key, tc.limit)
			if err != nil {
				t.Fatalf("SessionIPs(%s): %v", tc.key, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SessionIPs(%s, %d) = %q, want %q", tc.key, tc.limit, got, tc.want)
			}
		}
	})
	t.Run("LockSessionReadsOneSessionInAndOutOfTx", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "quentin", nil, nil)
		want, _ := createSession(t, store, user.ID)
		got, err := store.LockSession(ctx, want.ID)
		if err != nil {
			t.Fatalf("LockSession: %v", err)
		}
		checkSession(t, "LockSession", got, want)
		err = store.Tx(ctx, func(tx auth.Store) error {
			got, err := tx.LockSession(ctx, want.ID)
			if err == nil {
				checkSession(t, "LockSession in Tx", got, want)
			}
			return err
		})
		if err != nil {
			t.Fatalf("LockSession in Tx: %v", err)
		}
		if _, err := store.LockSession(ctx, uuid.NewString()); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("LockSession(unknown) = %v, want ErrNotFound", err)
		}
	})
}
