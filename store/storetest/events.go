package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// runEvents checks the audit log: every field round-trips, and filters and
// pages return events newest first without gaps or repeats.
func runEvents(t *testing.T, newStore func(t *testing.T) auth.Store) {
	alice, bob := uuid.NewString(), uuid.NewString()
	session := uuid.NewString()

	t.Run("RecordEventAssignsIncreasingIDsAndEveryFieldRoundTrips", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		recorded := []*auth.Event{
			{Kind: auth.EventRegister, UserID: &alice, Username: "alice", IP: "203.0.113.7", UserAgent: "Mozilla/5.0", CreatedAt: epoch},
			// A failed login for a name nobody has: no user, no session.
			{Kind: auth.EventLoginFailed, Username: "nobody", IP: "2001:db8::1", UserAgent: "curl/8.5.0", CreatedAt: epoch.Add(time.Microsecond)},
			{Kind: auth.EventLoginSucceeded, UserID: &alice, Username: "alice", SessionID: &session, IP: "203.0.113.7", CreatedAt: epoch.Add(time.Second)},
			// Events are ordered by id, not by time: a clock that went
			// backwards changes nothing.
			{Kind: auth.EventRoleGranted, UserID: &bob, Username: "bob", Detail: "admin", CreatedAt: epoch.Truncate(time.Second)},
			// The longest client text the service stores (it clips to
			// these byte lengths), in multi-byte UTF-8.
			{
				Kind: auth.EventUserSessionsRevoked, UserID: &alice, SessionID: &session,
				Username:  strings.Repeat("é", 32),
				IP:        strings.Repeat("f", 64),
				UserAgent: strings.Repeat("🔑", 128),
				Detail:    "session revoked",
				CreatedAt: epoch.Add(90 * 24 * time.Hour),
			},
		}
		var last int64
		for i, e := range recorded {
			if err := store.RecordEvent(ctx, e); err != nil {
				t.Fatalf("RecordEvent %d (%s): %v", i, e.Kind, err)
			}
			if e.ID <= last {
				t.Fatalf("RecordEvent %d: ID = %d, want > %d", i, e.ID, last)
			}
			last = e.ID
		}

		got, err := store.Events(ctx, auth.EventFilter{Limit: 100})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		want := filterEvents(recorded, auth.EventFilter{Limit: len(recorded)})
		if !slices.Equal(eventIDs(got), eventIDs(want)) {
			t.Fatalf("Events = ids %v, want %v (newest first)", eventIDs(got), eventIDs(want))
		}
		for i := range got {
			checkEvent(t, fmt.Sprintf("event %d", got[i].ID), got[i], want[i])
		}
	})

	t.Run("EventsFiltersNewestFirst", func(t *testing.T) {
		store := newStore(t)
		recorded := recordEvents(t, store, alice, bob)
		last := recorded[len(recorded)-1].ID
		for _, tc := range []struct {
			name   string
			filter auth.EventFilter
		}{
			{"all", auth.EventFilter{Limit: 100}},
			{"user", auth.EventFilter{UserID: alice, Limit: 100}},
			{"other-user", auth.EventFilter{UserID: bob, Limit: 100}},
			{"unknown-user", auth.EventFilter{UserID: uuid.NewString(), Limit: 100}},
			{"kind", auth.EventFilter{Kind: auth.EventLoginFailed, Limit: 100}},
			{"unknown-kind", auth.EventFilter{Kind: "no_such_kind", Limit: 100}},
			{"user-and-kind", auth.EventFilter{UserID: alice, Kind: auth.EventLoginFailed, Limit: 100}},
			{"other-user-and-kind", auth.EventFilter{UserID: bob, Kind: auth.EventRegister, Limit: 100}},
			{"before", auth.EventFilter{BeforeID: recorded[4].ID, Limit: 100}},
			{"before-the-first", auth.EventFilter{BeforeID: recorded[0].ID, Limit: 100}},
			{"before-beyond-the-newest", auth.EventFilter{BeforeID: last + 1000, Limit: 100}},
			{"user-before", auth.EventFilter{UserID: alice, BeforeID: recorded[6].ID, Limit: 100}},
			{"kind-before", auth.EventFilter{Kind: auth.EventLoginFailed, BeforeID: recorded[5].ID, Limit: 100}},
			{"limit-1", auth.EventFilter{Limit: 1}},
			{"limit-3", auth.EventFilter{Limit: 3}},
			{"user-limit", auth.EventFilter{UserID: alice, Limit: 2}},
			{"user-kind-before-limit", auth.EventFilter{UserID: alice, Kind: auth.EventLoginFailed, BeforeID: last + 1, Limit: 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := store.Events(t.Context(), tc.filter)
				if err != nil {
					t.Fatalf("Events(%+v): %v", tc.filter, err)
				}
				want := filterEvents(recorded, tc.filter)
				if !slices.Equal(eventIDs(got), eventIDs(want)) {
					t.Errorf("Events(%+v) = ids %v, want %v", tc.filter, eventIDs(got), eventIDs(want))
				}
			})
		}
	})

	t.Run("EventsPagesByBeforeIDWithoutGapsOrRepeats", func(t *testing.T) {
		store := newStore(t)
		recorded := recordEvents(t, store, alice, bob)
		// Odd and even counts: the walk ends on a short page or on an
		// empty one.
		for _, tc := range []struct {
			name   string
			filter auth.EventFilter
		}{
			{"all", auth.EventFilter{}},
			{"user", auth.EventFilter{UserID: alice}},
			{"other-user", auth.EventFilter{UserID: bob}},
			{"kind", auth.EventFilter{Kind: auth.EventLoginFailed}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				const pageSize = 2
				f := tc.filter
				f.Limit = pageSize
				var walked []int64
				for pages := 0; ; pages++ {
					if pages > len(recorded) {
						t.Fatalf("paging with %+v does not end: %v so far", tc.filter, walked)
					}
					page, err := store.Events(t.Context(), f)
					if err != nil {
						t.Fatalf("Events(%+v): %v", f, err)
					}
					if len(page) > pageSize {
						t.Fatalf("Events(%+v) returned %d events, more than the limit", f, len(page))
					}
					walked = append(walked, eventIDs(page)...)
					if len(page) < pageSize {
						break
					}
					f.BeforeID = page[len(page)-1].ID
				}
				all := tc.filter
				all.Limit = len(recorded)
				if want := eventIDs(filterEvents(recorded, all)); !slices.Equal(walked, want) {
					t.Errorf("pages of %+v walked ids %v, want each of %v once, newest first", tc.filter, walked, want)
				}
			})
		}
	})
}

// recordEvents records a mix of events of two users and of nobody, oldest
// first, and returns them with their ids: 9 in all, 4 of alice, 3 of bob,
// 4 failed logins.
func recordEvents(t *testing.T, store auth.Store, alice, bob string) []*auth.Event {
	t.Helper()
	var recorded []*auth.Event
	for i, tc := range []struct {
		kind     auth.EventKind
		userID   *string
		username string
	}{
		{auth.EventRegister, &alice, "alice"},
		{auth.EventRegister, &bob, "bob"},
		{auth.EventLoginSucceeded, &alice, "alice"},
		{auth.EventLoginFailed, nil, "mallory"},
		{auth.EventRefresh, &alice, "alice"},
		{auth.EventLoginFailed, &bob, "bob"},
		{auth.EventLoginFailed, &alice, "alice"},
		{auth.EventRefresh, &bob, "bob"},
		{auth.EventLoginFailed, nil, "mallory"},
	} {
		e := &auth.Event{Kind: tc.kind, UserID: tc.userID, Username: tc.username, CreatedAt: epoch.Add(time.Duration(i) * time.Minute)}
		if err := store.RecordEvent(t.Context(), e); err != nil {
			t.Fatalf("RecordEvent %d (%s): %v", i, e.Kind, err)
		}
		recorded = append(recorded, e)
	}
	return recorded
}

// filterEvents is what Events(f) must return from the recorded events.
func filterEvents(recorded []*auth.Event, f auth.EventFilter) []*auth.Event {
	var out []*auth.Event
	for _, e := range slices.Backward(recorded) {
		if len(out) == f.Limit {
			break
		}
		if f.UserID != "" && (e.UserID == nil || *e.UserID != f.UserID) ||
			f.Kind != "" && e.Kind != f.Kind ||
			f.BeforeID > 0 && e.ID >= f.BeforeID {
			continue
		}
		out = append(out, e)
	}
	return out
}

func eventIDs(events []*auth.Event) []int64 {
	ids := []int64{}
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}
