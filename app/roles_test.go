package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// Authorization follows the user's current roles, not the roles claim of
// the token: revoking admin takes it from every outstanding token on every
// instance within one revocation sync, and granting it back gives it back.
func TestRoleChangesReachOutstandingTokensOnEveryInstanceWithinOneSync(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		opts := []serverOption{
			withEnv("KEYCARD_REVOCATION_SYNC_INTERVAL", "200ms"),
			withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "2s"),
			withEnv("KEYCARD_INTROSPECTION_TOKEN", introspectionSecret),
		}
		a := startServer(t, dbURL, opts...)
		b := startServer(t, dbURL, opts...)
		token := a.admin(t, "boss").AccessToken
		if roles := claimsOf(t, token)["roles"].([]any); !slices.Contains(roles, any("admin")) {
			t.Fatalf("token roles: %v, want admin", roles)
		}
		expectOK(t, b.gql(t, token, authEventsQuery, nil))
		if roles := introspectedRoles(t, b, token); !slices.Contains(roles, "admin") {
			t.Fatalf("introspected roles on B: %v, want admin", roles)
		}

		if _, err := a.app.Service().RevokeRole(context.Background(), "boss", "admin"); err != nil {
			t.Fatal(err)
		}
		// At once on the instance that made the change.
		expectCode(t, a.gql(t, token, authEventsQuery, nil), "FORBIDDEN")
		expectCode(t, a.gql(t, token, revokeUserSessionsMutation, map[string]any{"userId": "00000000-0000-0000-0000-000000000000"}), "FORBIDDEN")
		// Within one sync (200 ms; 1 s allowed) on the other, though the
		// token still claims admin.
		within(t, time.Second, "B still lets the token act as admin", func() bool {
			return b.gql(t, token, authEventsQuery, nil).code() == "FORBIDDEN"
		})
		if roles := introspectedRoles(t, b, token); slices.Contains(roles, "admin") {
			t.Errorf("introspection on B still vouches for admin: %v", roles)
		}
		// The token itself is fine: it signs its user in, without the role.
		var me user
		b.me(t, token).into(t, "me", &me)
		if len(me.Roles) != 0 {
			t.Errorf("me roles on B: %v, want none", me.Roles)
		}

		if _, err := a.app.Service().GrantRole(context.Background(), "boss", "admin"); err != nil {
			t.Fatal(err)
		}
		within(t, time.Second, "B does not see the role granted back", func() bool {
			return b.gql(t, token, authEventsQuery, nil).code() == ""
		})
	})
}

// introspectedRoles asks s's /oauth/introspect about token.
func introspectedRoles(t testing.TB, s *server, token string) []string {
	t.Helper()
	r := s.oauthPost(t, "/oauth/introspect", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode(),
		http.Header{"Authorization": {"Bearer " + introspectionSecret}})
	if r.Status != http.StatusOK || r.Body["active"] != true {
		t.Fatalf("introspect: %d %s", r.Status, r.Raw)
	}
	var roles []string
	list, _ := r.Body["roles"].([]any)
	for _, role := range list {
		roles = append(roles, role.(string))
	}
	return roles
}

// within polls cond until it holds, failing with what if limit passes
// first: for what another instance does on its own schedule.
func within(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
