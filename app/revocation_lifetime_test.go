package app_test

import (
	"context"
	"testing"
	"time"
)

// Shortening KEYCARD_ACCESS_TTL is the natural response to an incident. It
// must cut tokens issued under the longer lifetime off, and it must not
// make revocations forgotten before the tokens they cover expire: a
// revoked token stays refused until its own exp, whatever lifetime the
// servers were configured with in between.
func TestRevokedTokenStaysRefusedUntilItsOwnExpAcrossTTLChanges(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		long := s.register(t, "incident", "open-sesame-42")
		expectOK(t, s.me(t, long.AccessToken))

		// Shortened: the 2-hour token is refused outright.
		s.env["KEYCARD_ACCESS_TTL"] = "5m"
		s.restart()
		expectCode(t, s.me(t, long.AccessToken), "UNAUTHENTICATED")

		// Logged out everywhere under the short lifetime...
		short := s.login(t, "incident", "open-sesame-42")
		expectOK(t, s.gql(t, short.AccessToken, logoutMutation, map[string]any{"scope": "ALL"}))
		// ...long enough ago that a 5-minute revocation would be gone,
		// and the janitor has run.
		s.clock.Advance(30 * time.Minute)
		if _, err := s.app.Service().CleanUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Back to 2 hours: the long token would verify again (its exp is
		// 90 minutes away), but its session's revocation holds until then.
		s.env["KEYCARD_ACCESS_TTL"] = "2h"
		s.restart()
		expectCode(t, s.me(t, long.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, long.refresh()), "UNAUTHENTICATED")

		// Once the token has expired its entry goes, like every other.
		s.clock.Advance(91 * time.Minute)
		if _, err := s.app.Service().CleanUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := s.count(t, s.rawDB(t), "revocations"); n != 0 {
			t.Errorf("%d revocations left after every token they cover expired", n)
		}
	}, withEnv("KEYCARD_ACCESS_TTL", "2h"))
}

// A token whose lifetime exceeds the configured one (plus leeway) is not
// one this configuration issues: refused even if never revoked.
func TestTokenLongerLivedThanTheConfiguredLifetimeIsRefused(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_ACCESS_TTL", "1h"))
	long := s.register(t, "longlived", "open-sesame-42")
	expectOK(t, s.me(t, long.AccessToken))
	s.env["KEYCARD_ACCESS_TTL"] = "15m"
	s.restart()
	expectCode(t, s.me(t, long.AccessToken), "UNAUTHENTICATED")
	// Its refresh token still works and brings a token of today's lifetime.
	resp := s.refresh(t, long.refresh())
	expectOK(t, resp)
	var fresh authPayload
	resp.into(t, "refresh", &fresh)
	if fresh.ExpiresIn != 15*60 {
		t.Errorf("refreshed token lives %ds, want 900", fresh.ExpiresIn)
	}
	expectOK(t, s.me(t, fresh.AccessToken))
}
