package app_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
)

// What acts on a checked password (a session opened, a hash rewritten, a
// password replaced) does so only while the credential is still the one
// checked: these tests race each of them against a password change.

// An attacker who knows the old password keeps logging in while the owner
// changes it. Once the change has returned, no session the attacker got
// may live: not one opened before the change (the change revokes it), not
// one whose login checked the old password before the change and opened
// its session after (the login's transaction sees the new credential).
func TestPasswordChangeEndsEverySessionOfRacingLogins(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		owner := s.register(t, "mallory_victim", "open-sesame-42")

		const attackers = 6
		var (
			mu       sync.Mutex
			stolen   []authPayload
			loggedIn atomic.Int64
			stop     atomic.Bool
			wg       sync.WaitGroup
		)
		for range attackers {
			wg.Go(func() {
				for !stop.Load() {
					resp := s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "mallory_victim", "password": "open-sesame-42"}})
					if len(resp.Errors) > 0 {
						if resp.code() != "UNAUTHENTICATED" {
							t.Errorf("racing login: %s", resp.Body)
						}
						continue
					}
					var p authPayload
					resp.into(t, "login", &p)
					mu.Lock()
					stolen = append(stolen, p)
					mu.Unlock()
					loggedIn.Add(1)
				}
			})
		}
		// The change starts while logins are in full flow.
		waitFor(t, time.Minute, func() bool { return loggedIn.Load() >= 2*attackers })
		resp := s.gql(t, owner.AccessToken, changePasswordMutation, map[string]any{"current": "open-sesame-42", "next": "new-password-456"})
		expectOK(t, resp)
		var fresh authPayload
		resp.into(t, "changePassword", &fresh)
		// Logins already past their password check finish after the change
		// returned; whatever they got must be dead too.
		stop.Store(true)
		wg.Wait()

		if len(stolen) < 2*attackers {
			t.Fatalf("only %d logins succeeded before the change: the race proves nothing", len(stolen))
		}
		for i, p := range stolen {
			if resp := s.me(t, p.AccessToken); resp.code() != "UNAUTHENTICATED" {
				t.Errorf("session %d of %d opened with the old password: access token still accepted: %s", i, len(stolen), resp.Body)
			}
			if resp := s.refresh(t, p.refresh()); resp.code() != "UNAUTHENTICATED" {
				t.Errorf("session %d of %d opened with the old password: refresh still works: %s", i, len(stolen), resp.Body)
			}
		}
		if live := s.sessions(t, fresh.AccessToken); len(live) != 1 || !live[0].Current {
			t.Errorf("live sessions after the change: %+v, want only the changer's new one", live)
		}
		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "mallory_victim", "password": "open-sesame-42"}}), "UNAUTHENTICATED")
	}, withEnv("KEYCARD_RATE_LIMITS", "off"))
}

// A login that finds the stored hash made with other argon2 parameters
// rehashes it; when that write lands after a concurrent password change it
// must not bring the old password back. Each round restarts keycard with
// other parameters, so every login of the round wants to rehash, and races
// those logins against one change.
func TestRehashOnLoginNeverRevertsAPasswordChange(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		current := "open-sesame-0"
		token := s.register(t, "rehasher", current).AccessToken
		params := []auth.Argon2Params{cheapArgon2, cheapArgon2}
		params[1].MemoryKiB = 2 * cheapArgon2.MemoryKiB

		const rounds, logins = 8, 6
		for round := 1; round <= rounds; round++ {
			s.params = params[round%2]
			s.restart()
			next := fmt.Sprintf("open-sesame-%d", round)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range logins {
				wg.Go(func() {
					<-start
					resp := s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "rehasher", "password": current}})
					if len(resp.Errors) > 0 && resp.code() != "UNAUTHENTICATED" {
						t.Errorf("round %d: racing login: %s", round, resp.Body)
					}
				})
			}
			var changed *response
			wg.Go(func() {
				<-start
				changed = s.gql(t, token, changePasswordMutation, map[string]any{"current": current, "next": next})
			})
			close(start)
			wg.Wait()
			expectOK(t, changed)
			var fresh authPayload
			changed.into(t, "changePassword", &fresh)
			token = fresh.AccessToken

			if resp := s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "rehasher", "password": current}}); resp.code() != "UNAUTHENTICATED" {
				t.Fatalf("round %d: the old password works again after the change: %s", round, resp.Body)
			}
			s.login(t, "rehasher", next)
			current = next
		}
	}, withEnv("KEYCARD_RATE_LIMITS", "off"))
}

// Two changes made from the same current password (two tabs, or the owner
// and an attacker who knows it) race: exactly one may win, or the loser's
// "success" would be a password nobody can use.
func TestConcurrentPasswordChangesFromOnePasswordLetOneWin(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "twotabs", "open-sesame-42")
		const racers = 5
		tokens := make([]string, racers)
		for i := range tokens {
			tokens[i] = s.login(t, "twotabs", "open-sesame-42").AccessToken
		}
		results := make([]*response, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				results[i] = s.gql(t, tokens[i], changePasswordMutation, map[string]any{"current": "open-sesame-42", "next": fmt.Sprintf("new-password-%d", i)})
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, resp := range results {
			switch {
			case len(resp.Errors) == 0 && winner < 0:
				winner = i
			case len(resp.Errors) == 0:
				t.Errorf("changes %d and %d both succeeded", winner, i)
			// The loser's current password is no longer current, or its
			// session was ended by the winner before it was looked at.
			case resp.code() == "BAD_USER_INPUT" && resp.field() == "currentPassword":
			case resp.code() == "UNAUTHENTICATED":
			default:
				t.Errorf("losing change %d: %s", i, resp.Body)
			}
		}
		if winner < 0 {
			t.Fatal("no change succeeded")
		}
		for i := range racers {
			resp := s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "twotabs", "password": fmt.Sprintf("new-password-%d", i)}})
			if i == winner {
				expectOK(t, resp)
			} else {
				expectCode(t, resp, "UNAUTHENTICATED")
			}
		}
	}, withEnv("KEYCARD_RATE_LIMITS", "off"))
}
