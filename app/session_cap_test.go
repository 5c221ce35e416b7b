package app_test

import (
	"sync"
	"testing"
	"time"
)

// One account's sign-ins cannot grow the session table without bound: past
// KEYCARD_MAX_SESSIONS_PER_USER the oldest session ends, like a logout.
func TestSessionCapEndsTheOldestSession(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		first := s.register(t, "hoarder", "open-sesame-42")
		s.clock.Advance(time.Second)
		second := s.login(t, "hoarder", "open-sesame-42")
		s.clock.Advance(time.Second)
		third := s.login(t, "hoarder", "open-sesame-42")
		// The oldest session is the one refreshed most recently: age, not
		// use, decides.
		resp := s.refresh(t, first.refresh())
		expectOK(t, resp)
		var rotated authPayload
		resp.into(t, "refresh", &rotated)
		s.clock.Advance(time.Second)
		fourth := s.login(t, "hoarder", "open-sesame-42")

		// Ended like a logout: every access token of it, and its refresh
		// token.
		expectCode(t, s.me(t, first.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.me(t, rotated.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, rotated.refresh()), "UNAUTHENTICATED")
		for _, p := range []authPayload{second, third, fourth} {
			expectOK(t, s.me(t, p.AccessToken))
		}
		if live := s.sessions(t, fourth.AccessToken); len(live) != 3 {
			t.Fatalf("live sessions: %d, want the cap, 3", len(live))
		}
		expectOK(t, s.refresh(t, second.refresh()))
	}, withEnv("KEYCARD_MAX_SESSIONS_PER_USER", "3"))
}

// Logins of one user at once each count the user's sessions; they queue on
// the user's row, so together they cannot leave more than the cap live.
func TestConcurrentLoginsNeverExceedTheSessionCap(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "crowd", "open-sesame-42")
		const logins = 12
		payloads := make([]authPayload, logins)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range logins {
			wg.Go(func() {
				<-start
				payloads[i] = s.login(t, "crowd", "open-sesame-42")
			})
		}
		close(start)
		wg.Wait()

		db := s.rawDB(t)
		var live int
		if err := db.SQL.QueryRow("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL").Scan(&live); err != nil {
			t.Fatal(err)
		}
		if live != 3 {
			t.Errorf("live sessions after %d concurrent logins: %d, want the cap, 3", logins, live)
		}
		working := 0
		for _, p := range payloads {
			if s.me(t, p.AccessToken).code() == "" {
				working++
			}
		}
		if working != 3 {
			t.Errorf("%d access tokens of %d logins still work, want the cap, 3", working, logins)
		}
	}, withEnv("KEYCARD_MAX_SESSIONS_PER_USER", "3"), withEnv("KEYCARD_RATE_LIMITS", "off"))
}
