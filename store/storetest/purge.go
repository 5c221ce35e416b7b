package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
)

// runPurge checks the janitor's delete: exactly the rows past their
// cut-offs, in batches.
func runPurge(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("PurgeDeletesExactlyTheRowsPastTheirCutOffs", func(t *testing.T) {
		store := newStore(t)
		fixture := seedPurge(t, store, 0)
		deleted, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if deleted != fixture.deleted {
			t.Errorf("Purge = %d rows, want %d", deleted, fixture.deleted)
		}
		fixture.check(t, store)

		again, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil || again != 0 {
			t.Errorf("second Purge = %d, %v; want nothing left to delete", again, err)
		}
		fixture.check(t, store)
	})

	t.Run("PurgeWithoutEventCutOffKeepsEveryEvent", func(t *testing.T) {
		store := newStore(t)
		fixture := seedPurge(t, store, 0)
		fixture.keepEvents()
		deleted, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if deleted != fixture.deleted {
			t.Errorf("Purge = %d rows, want %d", deleted, fixture.deleted)
		}
		fixture.check(t, store)
	})

	// The store deletes in batches (store.purgeBatch is 1000); one call
	// must still go through them all.
	t.Run("PurgeDeletesMoreThanOneBatchInOneCall", func(t *testing.T) {
		store := newStore(t)
		fixture := seedPurge(t, store, manyExpiredRevocations)
		deleted, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if deleted != fixture.deleted {
			t.Errorf("Purge = %d rows, want %d", deleted, fixture.deleted)
		}
		fixture.check(t, store)
	})
}

// manyExpiredRevocations is more than two batches of the store's purge
// (store.purgeBatch, 1000), one row past a batch boundary.
const manyExpiredRevocations = 2001

// purgeFixture is a database holding rows on both sides of every cut-off,
// and what a purge must leave of it.
type purgeFixture struct {
	cutoffs auth.Purge
	// keptRevocations in ID order.
	keptRevocations []auth.Revocation
	keptTokens      []keptToken
	// goneTokens are hashes whose rows must be gone: the session's, or
	// only the token's.
	goneTokens map[string][]byte
	// allEvents and keptEvents oldest first.
	allEvents, keptEvents []*auth.Event
	// deleted is what Purge must report: every row a cut-off selects, each
	// once. Refresh tokens that go only because their session goes
	// (ON DELETE CASCADE) are not counted.
	deleted, eventsDeleted int64
}

// keptToken is a refresh token that must still resolve after the purge.
type keptToken struct {
	what       string
	hash       []byte
	session    *auth.Session
	generation int64
}

// seedPurge fills store with the rows of a janitor's run at epoch, plus
// extraExpired revocations that expired long ago.
func seedPurge(t *testing.T, store auth.Store, extraExpired int) *purgeFixture {
	t.Helper()
	ctx := t.Context()
	now := epoch
	const refreshTTL = 30 * 24 * time.Hour
	f := &purgeFixture{
		cutoffs: auth.Purge{
			RevocationsExpiredBefore:   now,
			SessionsExpiredBefore:      now,
			SessionsRevokedBefore:      now.Add(-24 * time.Hour),
			RefreshTokensCreatedBefore: now.Add(-refreshTTL),
			EventsCreatedBefore:        now.Add(-90 * 24 * time.Hour),
		},
		goneTokens: map[string][]byte{},
	}
	addRevocations := func(rs ...auth.Revocation) {
		for _, r := range rs {
			if r.ExpiresAt.Before(f.cutoffs.RevocationsExpiredBefore) {
				f.deleted++
			} else {
				f.keptRevocations = append(f.keptRevocations, r)
			}
		}
	}

	wholeSecond := now.Truncate(time.Second)
	kinds := []auth.RevocationKind{auth.RevokedAccessToken, auth.RevokedSession, auth.UserChanged}
	for i, expiresAt := range []time.Time{
		now.Add(-time.Hour),
		now.Add(-time.Microsecond),
		wholeSecond,
		now,
		now.Add(time.Microsecond),
		wholeSecond.Add(time.Second),
		now.Add(time.Hour),
	} {
		r := newRevocation(expiresAt)
		r.Kind = kinds[i%len(kinds)]
		if err := store.AppendRevocation(ctx, r); err != nil {
			t.Fatalf("AppendRevocation: %v", err)
		}
		addRevocations(*r)
	}
	if extraExpired > 0 {
		// One transaction: thousands of commits would make the suite slow.
		err := store.Tx(ctx, func(tx auth.Store) error {
			for i := range extraExpired {
				if err := tx.AppendRevocation(ctx, newRevocation(now.Add(-time.Duration(i+1)*time.Second))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("AppendRevocation of %d expired entries: %v", extraExpired, err)
		}
		f.deleted += int64(extraExpired)
	}

	alice := createUser(t, store, "alice", nil, nil)
	bob := createUser(t, store, "bob", nil, nil)
	keep := func(what string, hash []byte, sess *auth.Session, generation int64) {
		f.keptTokens = append(f.keptTokens, keptToken{what, hash, sess, generation})
	}
	revoke := func(sess *auth.Session, at, until time.Time) *auth.Session {
		t.Helper()
		entries, err := store.RevokeSessions(ctx, sess.UserID, []string{sess.ID}, at, until)
		if err != nil || len(entries) != 1 {
			t.Fatalf("RevokeSessions(%s) = %+v, %v; want one entry", sess.UserAgent, entries, err)
		}
		addRevocations(entries...)
		revoked := *sess
		revoked.RevokedAt = &at
		return &revoked
	}

	// Expired long ago; its only token is past the token cut-off too and
	// is counted with the tokens.
	expired := sessionUsed(alice.ID, "expired long ago", now.Add(-40*24*time.Hour), now.Add(-10*24*time.Hour))
	f.goneTokens[expired.UserAgent] = storeSession(t, store, expired)
	f.deleted += 2

	// Its token is recent, so it goes only with its session, uncounted.
	expiredJustNow := sessionUsed(alice.ID, "expired a microsecond ago", now.Add(-2*time.Hour), now.Add(-time.Microsecond))
	f.goneTokens[expiredJustNow.UserAgent] = storeSession(t, store, expiredJustNow)
	f.deleted++

	expiresAtCutOff := sessionUsed(alice.ID, "expires at the cut-off", now.Add(-2*time.Hour), now)
	keep(expiresAtCutOff.UserAgent, storeSession(t, store, expiresAtCutOff), expiresAtCutOff, 0)

	// A live session rotated over more than the refresh lifetime: its
	// tokens older than the cut-off go, the session and newer ones stay.
	rotated := sessionUsed(alice.ID, "rotated", now.Add(-40*24*time.Hour), now.Add(-10*24*time.Hour))
	hashes := [][]byte{storeSession(t, store, rotated)}
	for _, at := range []time.Time{
		f.cutoffs.RefreshTokensCreatedBefore.Add(-time.Microsecond),
		f.cutoffs.RefreshTokensCreatedBefore,
		now.Add(-time.Hour),
	} {
		var hash []byte
		rotated, hash = advanceSession(t, store, rotated, at)
		hashes = append(hashes, hash)
	}
	f.goneTokens["rotated, generation 0"] = hashes[0]
	f.goneTokens["rotated, generation 1"] = hashes[1]
	f.deleted += 2
	keep("rotated, generation 2 at the cut-off", hashes[2], rotated, 2)
	keep("rotated, generation 3", hashes[3], rotated, 3)

	revokedLongAgo := sessionUsed(alice.ID, "revoked over a day ago", now.Add(-48*time.Hour), now.Add(28*24*time.Hour))
	f.goneTokens[revokedLongAgo.UserAgent] = storeSession(t, store, revokedLongAgo)
	revoke(revokedLongAgo, f.cutoffs.SessionsRevokedBefore.Add(-time.Microsecond), now.Add(-time.Hour))
	f.deleted++

	revokedAtCutOff := sessionUsed(alice.ID, "revoked a day ago", now.Add(-48*time.Hour), now.Add(28*24*time.Hour))
	hash := storeSession(t, store, revokedAtCutOff)
	keep(revokedAtCutOff.UserAgent, hash, revoke(revokedAtCutOff, f.cutoffs.SessionsRevokedBefore, now.Add(time.Hour)), 0)

	revokedRecently := sessionUsed(alice.ID, "revoked an hour ago", now.Add(-2*time.Hour), now.Add(29*24*time.Hour))
	hash = storeSession(t, store, revokedRecently)
	keep(revokedRecently.UserAgent, hash, revoke(revokedRecently, now.Add(-time.Hour), now.Add(15*time.Minute)), 0)

	// Revoked recently but expired: either reason is enough.
	revokedAndExpired := sessionUsed(alice.ID, "revoked an hour ago and expired", now.Add(-3*time.Hour), now.Add(-30*time.Minute))
	f.goneTokens[revokedAndExpired.UserAgent] = storeSession(t, store, revokedAndExpired)
	revoke(revokedAndExpired, now.Add(-time.Hour), now.Add(-45*time.Minute))
	f.deleted++

	bobs := sessionUsed(bob.ID, "bob's live session", now.Add(-time.Minute), now.Add(30*24*time.Hour))
	keep(bobs.UserAgent, storeSession(t, store, bobs), bobs, 0)

	for i, createdAt := range []time.Time{
		now.Add(-365 * 24 * time.Hour),
		f.cutoffs.EventsCreatedBefore.Add(-time.Microsecond),
		f.cutoffs.EventsCreatedBefore,
		now.Add(-time.Hour),
		// A clock that went backwards: the cut-off is by time, not by id.
		now.Add(-100 * 24 * time.Hour),
	} {
		e := &auth.Event{Kind: auth.EventRefresh, UserID: &alice.ID, Username: alice.Username, Detail: fmt.Sprint(i), CreatedAt: createdAt}
		if err := store.RecordEvent(ctx, e); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
		f.allEvents = append(f.allEvents, e)
		if createdAt.Before(f.cutoffs.EventsCreatedBefore) {
			f.eventsDeleted++
		} else {
			f.keptEvents = append(f.keptEvents, e)
		}
	}
	f.deleted += f.eventsDeleted
	return f
}

// keepEvents drops the event cut-off: a zero time keeps every event.
func (f *purgeFixture) keepEvents() {
	f.cutoffs.EventsCreatedBefore = time.Time{}
	f.keptEvents = f.allEvents
	f.deleted -= f.eventsDeleted
	f.eventsDeleted = 0
}

// check looks through the interface for exactly the kept rows.
func (f *purgeFixture) check(t *testing.T, store auth.Store) {
	t.Helper()
	ctx := t.Context()
	// Long before any entry's expiry: lists every row still stored.
	longAgo := epoch.AddDate(-100, 0, 0)
	revocations, err := store.RevocationsAfter(ctx, 0, longAgo, 100_000)
	if err != nil {
		t.Fatalf("RevocationsAfter: %v", err)
	}
	if !slices.EqualFunc(revocations, f.keptRevocations, sameRevocation) {
		t.Errorf("revocations after purge: %d entries %s; want the %d still in force at the cut-off %s",
			len(revocations), describeRevocations(revocations), len(f.keptRevocations), describeRevocations(f.keptRevocations))
	}

	for what, hash := range f.goneTokens {
		if sess, _, err := store.SessionByRefreshHash(ctx, hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("token of %s after purge: SessionByRefreshHash = (%+v, %v), want ErrNotFound", what, sess, err)
		}
	}
	for _, kept := range f.keptTokens {
		sess, generation, err := store.SessionByRefreshHash(ctx, kept.hash)
		if err != nil {
			t.Errorf("token of %s after purge: SessionByRefreshHash = %v, want it kept", kept.what, err)
			continue
		}
		checkSession(t, "session of "+kept.what, sess, kept.session)
		if generation != kept.generation {
			t.Errorf("token of %s resolves to generation %d, want %d", kept.what, generation, kept.generation)
		}
	}

	events, err := store.Events(ctx, auth.EventFilter{Limit: 100})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	want := filterEvents(f.keptEvents, auth.EventFilter{Limit: len(f.keptEvents)})
	if !slices.Equal(eventIDs(events), eventIDs(want)) {
		t.Errorf("events after purge = ids %v, want %v", eventIDs(events), eventIDs(want))
	}
}

// describeRevocations names entries by id and expiry, the first few only:
// thousands may survive a broken purge.
func describeRevocations(rs []auth.Revocation) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(rs)-i)
			break
		}
		fmt.Fprintf(&b, "[%d %s expires %s] ", r.ID, r.Kind, r.ExpiresAt.Format(time.RFC3339Nano))
	}
	return b.String()
}
