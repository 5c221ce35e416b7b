package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
)

// runRevocations checks session revocation and the revocation list other
// processes page through.
func runRevocations(t *testing.T, newStore func(t *testing.T) auth.Store) {
	revokedAt := epoch.Add(time.Hour)
	until := revokedAt.Add(15 * time.Minute)

	t.Run("RevokeAllSessionsOfOneUserOnly", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		a1, a1Hash := createSession(t, store, alice.ID)
		a2, a2Hash := createSession(t, store, alice.ID)
		_, bobHash := createSession(t, store, bob.ID)

		revoked, err := store.RevokeSessions(ctx, alice.ID, nil, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		checkSessionRevocations(t, revoked, alice.ID, []string{a1.ID, a2.ID}, revokedAt, until)
		checkRevokedAt(t, store, a1Hash, &revokedAt)
		checkRevokedAt(t, store, a2Hash, &revokedAt)
		checkRevokedAt(t, store, bobHash, nil)

		// The returned entries are the ones stored: same ids, same fields.
		listed, err := store.RevocationsAfter(ctx, 0, revokedAt, 100)
		if err != nil {
			t.Fatalf("RevocationsAfter: %v", err)
		}
		if !slices.EqualFunc(listed, sortedByID(revoked), sameRevocation) {
			t.Errorf("RevocationsAfter = %+v, want the entries RevokeSessions returned %+v", listed, revoked)
		}
	})

	t.Run("RevokeListedSessionsOnly", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		_, keepHash := createSession(t, store, alice.ID)
		target, targetHash := createSession(t, store, alice.ID)
		_, alsoKeepHash := createSession(t, store, alice.ID)

		revoked, err := store.RevokeSessions(t.Context(), alice.ID, []string{target.ID}, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		checkSessionRevocations(t, revoked, alice.ID, []string{target.ID}, revokedAt, until)
		checkRevokedAt(t, store, targetHash, &revokedAt)
		checkRevokedAt(t, store, keepHash, nil)
		checkRevokedAt(t, store, alsoKeepHash, nil)
	})

	// Session ids are only as secret as the tokens that carry them: naming
	// another user's session must not revoke it.
	t.Run("RevokeIgnoresSessionsOfOtherUsers", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		bobSession, bobHash := createSession(t, store, bob.ID)

		revoked, err := store.RevokeSessions(t.Context(), alice.ID, []string{bobSession.ID}, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		if len(revoked) != 0 {
			t.Errorf("RevokeSessions(alice, [bob's session]) = %+v, want nothing", revoked)
		}
		checkRevokedAt(t, store, bobHash, nil)
		checkMaxRevocationID(t, store, 0)
	})

	t.Run("RevokingAgainReturnsNothing", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		sess, hash := createSession(t, store, alice.ID)
		first, err := store.RevokeSessions(ctx, alice.ID, nil, revokedAt, until)
		if err != nil || len(first) != 1 {
			t.Fatalf("first RevokeSessions = %+v, %v; want one entry", first, err)
		}
		later := revokedAt.Add(time.Minute)
		for _, ids := range [][]string{nil, {sess.ID}} {
			again, err := store.RevokeSessions(ctx, alice.ID, ids, later, later.Add(time.Hour))
			if err != nil {
				t.Fatalf("RevokeSessions(%v) again: %v", ids, err)
			}
			if len(again) != 0 {
				t.Errorf("RevokeSessions(%v) again = %+v, want nothing", ids, again)
			}
		}
		checkRevokedAt(t, store, hash, &revokedAt)
		checkMaxRevocationID(t, store, first[0].ID)
	})

	// A session whose newest access token verifies past until (issued
	// under a longer access lifetime than the caller's) keeps its entry
	// until that token is dead; others, and sessions from before the
	// moment was recorded, keep it until until.
	t.Run("EntryOutlivesTheSessionsNewestAccessToken", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		longLived := newSession(alice.ID)
		longLived.AccessValidUntil = until.Add(2 * time.Hour)
		storeSession(t, store, longLived)
		shortLived := newSession(alice.ID)
		shortLived.AccessValidUntil = until.Add(-time.Minute)
		storeSession(t, store, shortLived)
		legacy := newSession(alice.ID)
		legacy.AccessValidUntil = time.Time{}
		storeSession(t, store, legacy)

		revoked, err := store.RevokeSessions(ctx, alice.ID, nil, revokedAt, until)
		if err != nil || len(revoked) != 3 {
			t.Fatalf("RevokeSessions = %+v, %v; want three entries", revoked, err)
		}
		want := map[string]time.Time{longLived.ID: longLived.AccessValidUntil, shortLived.ID: until, legacy.ID: until}
		for _, r := range revoked {
			checkTime(t, "entry of session "+r.Subject+": ExpiresAt", r.ExpiresAt, want[r.Subject])
		}
		listed, err := store.RevocationsAfter(ctx, 0, revokedAt, 100)
		if err != nil || !slices.EqualFunc(listed, sortedByID(revoked), sameRevocation) {
			t.Errorf("RevocationsAfter = %+v, %v; want the entries returned %+v", listed, err, revoked)
		}
	})

	t.Run("EmptyIDListRevokesNothing", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		_, hash := createSession(t, store, alice.ID)
		revoked, err := store.RevokeSessions(t.Context(), alice.ID, []string{}, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		if len(revoked) != 0 {
			t.Errorf("RevokeSessions with empty ids = %+v, want nothing", revoked)
		}
		checkRevokedAt(t, store, hash, nil)
		checkMaxRevocationID(t, store, 0)
	})

	t.Run("MaxRevocationIDIsZeroWhenEmpty", func(t *testing.T) {
		checkMaxRevocationID(t, newStore(t), 0)
	})

	t.Run("AppendRevocationAssignsIncreasingIDs", func(t *testing.T) {
		store := newStore(t)
		var last int64
		for i := range 3 {
			r := newRevocation(until)
			if err := store.AppendRevocation(t.Context(), r); err != nil {
				t.Fatalf("AppendRevocation %d: %v", i, err)
			}
			if r.ID <= last {
				t.Fatalf("AppendRevocation %d: ID = %d, want > %d", i, r.ID, last)
			}
			last = r.ID
			checkMaxRevocationID(t, store, last)
		}
	})

	t.Run("RevocationsAfterPagesInIDOrder", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		var appended []auth.Revocation
		for range 5 {
			r := newRevocation(until)
			if err := store.AppendRevocation(ctx, r); err != nil {
				t.Fatalf("AppendRevocation: %v", err)
			}
			appended = append(appended, *r)
		}
		for _, tc := range []struct {
			afterID int64
			limit   int
			want    []auth.Revocation
		}{
			{0, 2, appended[0:2]},
			{appended[1].ID, 2, appended[2:4]},
			{appended[3].ID, 2, appended[4:]},
			{appended[4].ID, 2, nil},
			{0, 100, appended},
		} {
			got, err := store.RevocationsAfter(ctx, tc.afterID, revokedAt, tc.limit)
			if err != nil {
				t.Fatalf("RevocationsAfter(%d, limit %d): %v", tc.afterID, tc.limit, err)
			}
			if !slices.EqualFunc(got, tc.want, sameRevocation) {
				t.Errorf("RevocationsAfter(%d, limit %d) = %+v, want %+v", tc.afterID, tc.limit, got, tc.want)
			}
		}
	})

	t.Run("RevocationsAfterOmitsEntriesNoLongerInForce", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		now := epoch
		var inForce []auth.Revocation
		for _, tc := range []struct {
			expiresAt time.Time
			inForce   bool
		}{
			{now.Add(-time.Hour), false},
			{now.Add(-time.Microsecond), false},
			{now, false},
			{now.Add(time.Microsecond), true},
			// Whole seconds around a fractional now: a text comparison of
			// times must still order them as instants.
			{now.Truncate(time.Second), false},
			{now.Truncate(time.Second).Add(time.Second), true},
			{now.Add(time.Hour), true},
		} {
			r := newRevocation(tc.expiresAt)
			if err := store.AppendRevocation(ctx, r); err != nil {
				t.Fatalf("AppendRevocation: %v", err)
			}
			if tc.inForce {
				inForce = append(inForce, *r)
			}
		}
		got, err := store.RevocationsAfter(ctx, 0, now, 100)
		if err != nil {
			t.Fatalf("RevocationsAfter: %v", err)
		}
		if !slices.EqualFunc(got, inForce, sameRevocation) {
			t.Errorf("RevocationsAfter(now) = %+v, want only entries expiring after now %+v", got, inForce)
		}
	})
	t.Run("RevocationExistsMatchesKindAndSubject", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		jti := "0190a4b2-7c1e-7a3b-9f42-5c8d2e6f1a77"
		if err := store.AppendRevocation(ctx, &auth.Revocation{Kind: auth.RevokedAccessToken, Subject: jti, UserID: "u", RevokedAt: revokedAt, ExpiresAt: until}); err != nil {
			t.Fatalf("AppendRevocation: %v", err)
		}
		for _, tc := range []struct {
			kind    auth.RevocationKind
			subject string
			want    bool
		}{
			{auth.RevokedAccessToken, jti, true},
			{auth.RevokedSession, jti, false},
			{auth.RevokedAccessToken, "0190a4b2-7c1e-7a3b-9f42-5c8d2e6f1a78", false},
		} {
			got, err := store.RevocationExists(ctx, tc.kind, tc.subject)
			if err != nil || got != tc.want {
				t.Errorf("RevocationExists(%s, %s) = %v, %v; want %v", tc.kind, tc.subject, got, err, tc.want)
			}
		}
	})
}

func checkRevokedAt(t *testing.T, store auth.Store, refreshHash []byte, want *time.Time) {
	t.Helper()
	sess, _, err := store.SessionByRefreshHash(t.Context(), refreshHash)
	if err != nil {
		t.Fatalf("SessionByRefreshHash: %v", err)
	}
	switch {
	case want == nil && sess.RevokedAt != nil:
		t.Errorf("session %s: RevokedAt = %v, want it live", sess.ID, *sess.RevokedAt)
	case want != nil && sess.RevokedAt == nil:
		t.Errorf("session %s: not revoked, want RevokedAt %v", sess.ID, *want)
	case want != nil:
		checkTime(t, "session "+sess.ID+": RevokedAt", *sess.RevokedAt, *want)
	}
}

// checkSessionRevocations wants one RevokedSession entry per session id,
// each with a distinct positive ID, in any order.
func checkSessionRevocations(t *testing.T, got []auth.Revocation, userID string, sessionIDs []string, revokedAt, until time.Time) {
	t.Helper()
	if len(got) != len(sessionIDs) {
		t.Fatalf("RevokeSessions returned %d entries %+v, want %d", len(got), got, len(sessionIDs))
	}
	seenIDs := map[int64]bool{}
	var subjects []string
	for _, r := range got {
		if r.ID <= 0 || seenIDs[r.ID] {
			t.Errorf("entry %+v: ID not positive and distinct", r)
		}
		seenIDs[r.ID] = true
		if r.Kind != auth.RevokedSession || r.UserID != userID {
			t.Errorf("entry %+v: want Kind %q, UserID %q", r, auth.RevokedSession, userID)
		}
		checkTime(t, "entry RevokedAt", r.RevokedAt, revokedAt)
		checkTime(t, "entry ExpiresAt", r.ExpiresAt, until)
		subjects = append(subjects, r.Subject)
	}
	slices.Sort(subjects)
	want := slices.Sorted(slices.Values(sessionIDs))
	if !slices.Equal(subjects, want) {
		t.Errorf("revoked subjects = %v, want session ids %v", subjects, want)
	}
}

func sortedByID(rs []auth.Revocation) []auth.Revocation {
	return slices.SortedFunc(slices.Values(rs), func(a, b auth.Revocation) int { return cmp.Compare(a.ID, b.ID) })
}
