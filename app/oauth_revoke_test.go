package app_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// revocationCounts is what /oauth/revoke may add to: revocation entries and
// token_revoked audit events.
type revocationCounts struct{ revocations, events int }

func (s *server) revocationCounts(t testing.TB) revocationCounts {
	t.Helper()
	db := s.rawDB(t)
	var c revocationCounts
	if err := db.SQL.QueryRow("SELECT COUNT(*) FROM revocations").Scan(&c.revocations); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL.QueryRow("SELECT COUNT(*) FROM auth_events WHERE kind = 'token_revoked'").Scan(&c.events); err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *server) revoke(t testing.TB, token string) {
	t.Helper()
	if r := s.form(t, "/oauth/revoke", url.Values{"token": {token}}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
}

// Revocation only revokes what is live: a dead, unknown or already revoked
// token adds no revocation entry and no audit event, so an unauthenticated
// caller cannot grow those tables by repeating itself.
func TestOAuthRevokeIsIdempotent(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "idem", "open-sesame-42")
		a := s.login(t, "idem", "open-sesame-42")
		b := s.login(t, "idem", "open-sesame-42")
		c := s.login(t, "idem", "open-sesame-42")
		want := s.revocationCounts(t)
		expect := func(step string) {
			t.Helper()
			if got := s.revocationCounts(t); got != want {
				t.Fatalf("after %s: %+v, want %+v", step, got, want)
			}
		}

		for name, token := range map[string]string{
			"unknown refresh token": "kcr_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"garbage":               "garbage",
			"forged access token":   a.AccessToken[:len(a.AccessToken)-4] + "AAAA",
		} {
			s.revoke(t, token)
			expect(name)
		}

		// An access token: once, however often.
		s.revoke(t, a.AccessToken)
		want.revocations++
		want.events++
		expect("revoking an access token")
		s.revoke(t, a.AccessToken)
		s.restart() // nothing in memory: the database alone must tell
		s.revoke(t, a.AccessToken)
		expect("revoking it again")

		// A refresh token: its session, once.
		s.revoke(t, b.refresh())
		want.revocations++
		want.events++
		expect("revoking a refresh token")
		s.revoke(t, b.refresh())
		s.revoke(t, b.AccessToken) // of the ended session: dead already
		expect("revoking it and its access token again")

		// A session ended by logout.
		expectOK(t, s.gql(t, c.AccessToken, logoutMutation, nil))
		want = s.revocationCounts(t)
		s.revoke(t, c.refresh())
		s.revoke(t, c.AccessToken)
		expect("revoking the tokens of a logged-out session")

		// An expired access token.
		d := s.login(t, "idem", "open-sesame-42")
		want = s.revocationCounts(t)
		s.clock.Advance(time.Hour)
		s.revoke(t, d.AccessToken)
		expect("revoking an expired access token")
	}, withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "24h"))
}

// Concurrent revocations of one token, on two instances at once, still add
// one entry and one event between them.
func TestConcurrentRevocationsOfOneTokenAddOneEntry(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		a := startServer(t, dbURL)
		b := startServer(t, dbURL)
		a.register(t, "racer", "open-sesame-42")
		for _, kind := range []string{"access", "refresh"} {
			grant := a.login(t, "racer", "open-sesame-42")
			token := map[string]string{"access": grant.AccessToken, "refresh": grant.refresh()}[kind]
			before := a.revocationCounts(t)
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					srv := []*server{a, b}[i%2]
					r := srv.form(t, "/oauth/revoke", url.Values{"token": {token}})
					if r.Status != http.StatusOK {
						t.Errorf("revoke: %d %s", r.Status, r.Raw)
					}
				}()
			}
			wg.Wait()
			got := a.revocationCounts(t)
			if got.revocations-before.revocations != 1 || got.events-before.events != 1 {
				t.Fatalf("8 concurrent revocations of one %s token: %+v before, %+v after; want one entry and one event more", kind, before, got)
			}
		}
	})
}

// /oauth/revoke is unauthenticated: what revokes nothing counts against the
// caller's address; a revocation that ends something gives its token back.
func TestOAuthRevokeIsRateLimitedPerAddress(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		reg := s.register(t, unique("revoker"), "open-sesame-42")
		s.revoke(t, "kcr_unknown")
		s.revoke(t, reg.refresh()) // live: refunded
		s.revoke(t, "kcr_unknown")
		r := s.form(t, "/oauth/revoke", url.Values{"token": {"kcr_unknown"}})
		if r.Status != http.StatusTooManyRequests || r.str("error") != "rate_limited" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("over the limit: %d %v %s", r.Status, r.Header, r.Raw)
		}
	}, withEnv("KEYCARD_RATE_LIMITS", "revoke.ip=2/1m"))
}
