package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keycard/keycard/requestlog"
	"github.com/keycard/keycard/store"
)

const (
	sessionsQuery          = `query { sessions { id createdAt lastUsedAt expiresAt userAgent ip current } }`
	revokeSessionMutation  = `mutation R($id: ID!) { revokeSession(id: $id) }`
	changePasswordMutation = `mutation C($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { accessToken refreshToken tokenType expiresIn user { id username } }
}`
	revokeUserSessionsMutation = `mutation R($userId: ID!) { revokeUserSessions(userId: $userId) }`
	authEventsQuery            = `query E($first: Int, $after: String, $userId: ID, $kind: AuthEventKind) {
  authEvents(first: $first, after: $after, userId: $userId, kind: $kind) {
    edges { cursor node { id kind userId username sessionId ip userAgent detail createdAt } }
    nodes { id kind }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`
)

type sessionInfo struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"createdAt"`
	LastUsedAt string `json:"lastUsedAt"`
	ExpiresAt  string `json:"expiresAt"`
	UserAgent  string `json:"userAgent"`
	IP         string `json:"ip"`
	Current    bool   `json:"current"`
}

func (s *server) sessions(t testing.TB, token string) []sessionInfo {
	t.Helper()
	resp := s.gql(t, token, sessionsQuery, nil)
	expectOK(t, resp)
	var out []sessionInfo
	resp.into(t, "sessions", &out)
	return out
}

// loginAs logs in with a given User-Agent.
func (s *server) loginAs(t testing.TB, username, password, userAgent string) authPayload {
	t.Helper()
	resp := s.do(t, request{Query: loginMutation,
		Variables: map[string]any{"input": map[string]any{"username": username, "password": password}},
		header:    http.Header{"User-Agent": {userAgent}}})
	expectOK(t, resp)
	var p authPayload
	resp.into(t, "login", &p)
	return p
}

// sessionID reads the sid claim of an access token.
func sessionID(t testing.TB, accessToken string) string {
	t.Helper()
	return claimsOf(t, accessToken)["sid"].(string)
}

func claimsOf(t testing.TB, accessToken string) map[string]any {
	t.Helper()
	parts := strings.Split(accessToken, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// admin registers a user and makes it an admin, returning a token that
// carries the role.
func (s *server) admin(t testing.TB, username string) authPayload {
	t.Helper()
	s.register(t, username, "open-sesame-42")
	if _, err := s.app.Service().GrantRole(context.Background(), username, "admin"); err != nil {
		t.Fatal(err)
	}
	return s.login(t, username, "open-sesame-42")
}

func TestSessionsListsLiveSessions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "alice", "open-sesame-42")
		phone := s.loginAs(t, "alice", "open-sesame-42", "Phone/1.0")
		s.clock.Advance(time.Second)
		laptop := s.loginAs(t, "alice", "open-sesame-42", "Laptop/2.0")
		s.register(t, "bob", "open-sesame-42")

		list := s.sessions(t, phone.AccessToken)
		if len(list) != 3 {
			t.Fatalf("want 3 sessions, got %+v", list)
		}
		if list[0].ID != sessionID(t, laptop.AccessToken) || list[0].UserAgent != "Laptop/2.0" || list[0].Current {
			t.Fatalf("most recently used first, not current: %+v", list[0])
		}
		var current []sessionInfo
		for _, sess := range list {
			if sess.Current {
				current = append(current, sess)
			}
			if sess.IP != "127.0.0.1" {
				t.Fatalf("ip = %q", sess.IP)
			}
		}
		if len(current) != 1 || current[0].ID != sessionID(t, phone.AccessToken) || current[0].UserAgent != "Phone/1.0" {
			t.Fatalf("current session: %+v", current)
		}
		expectCode(t, s.gql(t, "", sessionsQuery, nil), "UNAUTHENTICATED")
	})
}

func TestRevokeSessionEndsOnlyThatSessionOfYours(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		mine := s.register(t, "carol", "open-sesame-42")
		other := s.login(t, "carol", "open-sesame-42")
		stranger := s.register(t, "dave", "open-sesame-42")

		// Someone else's session id is treated like an unknown one.
		resp := s.gql(t, mine.AccessToken, revokeSessionMutation, map[string]any{"id": sessionID(t, stranger.AccessToken)})
		expectOK(t, resp)
		if string(resp.Data["revokeSession"]) != "false" {
			t.Fatalf("revoking a stranger's session: %s", resp.Body)
		}
		expectOK(t, s.me(t, stranger.AccessToken))

		resp = s.gql(t, mine.AccessToken, revokeSessionMutation, map[string]any{"id": sessionID(t, other.AccessToken)})
		expectOK(t, resp)
		if string(resp.Data["revokeSession"]) != "true" {
			t.Fatalf("revokeSession: %s", resp.Body)
		}
		expectCode(t, s.me(t, other.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, other.refresh()), "UNAUTHENTICATED")
		expectOK(t, s.me(t, mine.AccessToken))
		if list := s.sessions(t, mine.AccessToken); len(list) != 1 || !list[0].Current {
			t.Fatalf("sessions after revoke: %+v", list)
		}

		for _, tc := range []struct{ name, id string }{
			{"already revoked", sessionID(t, other.AccessToken)},
			{"not a session id", "not-a-session"},
			{"unknown session", "00000000-0000-0000-0000-000000000000"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := s.gql(t, mine.AccessToken, revokeSessionMutation, map[string]any{"id": tc.id})
				expectOK(t, resp)
				if string(resp.Data["revokeSession"]) != "false" {
					t.Fatalf("revokeSession(%s): %s", tc.id, resp.Body)
				}
			})
		}
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		first := s.register(t, "erin", "open-sesame-42")
		second := s.login(t, "erin", "open-sesame-42")
		bystander := s.register(t, "frank", "open-sesame-42")

		cases := []struct {
			name, current, next, field string
		}{
			{"wrong current password", "wrong-password", "new-password-456", "currentPassword"},
			{"new password too short", "open-sesame-42", "short", "newPassword"},
			{"new password is the current one", "open-sesame-42", "open-sesame-42", "newPassword"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := s.gql(t, first.AccessToken, changePasswordMutation, map[string]any{"current": tc.current, "next": tc.next})
				expectCode(t, resp, "BAD_USER_INPUT")
				if resp.field() != tc.field {
					t.Fatalf("field = %q, want %q: %s", resp.field(), tc.field, resp.Body)
				}
			})
		}
		// Failed attempts change nothing.
		expectOK(t, s.me(t, second.AccessToken))

		resp := s.gql(t, first.AccessToken, changePasswordMutation, map[string]any{"current": "open-sesame-42", "next": "new-password-456"})
		expectOK(t, resp)
		var fresh authPayload
		resp.into(t, "changePassword", &fresh)
		if fresh.AccessToken == "" || fresh.refresh() == "" || fresh.User.Username != "erin" {
			t.Fatalf("changePassword payload: %s", resp.Body)
		}

		// Every earlier token of the user is dead, this device's included.
		for _, token := range []string{first.AccessToken, second.AccessToken} {
			expectCode(t, s.me(t, token), "UNAUTHENTICATED")
		}
		for _, token := range []string{first.refresh(), second.refresh()} {
			expectCode(t, s.refresh(t, token), "UNAUTHENTICATED")
		}
		expectOK(t, s.me(t, fresh.AccessToken))
		expectOK(t, s.refresh(t, fresh.refresh()))
		expectOK(t, s.me(t, bystander.AccessToken))

		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "erin", "password": "open-sesame-42"}}), "UNAUTHENTICATED")
		s.login(t, "erin", "new-password-456")
		expectCode(t, s.gql(t, "", changePasswordMutation, map[string]any{"current": "x", "next": "y"}), "UNAUTHENTICATED")
	})
}

func TestAdminOperationsAreForbiddenToOthers(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	user := s.register(t, "grace", "open-sesame-42")
	for _, op := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"authEvents", authEventsQuery, nil},
		{"revokeUserSessions", revokeUserSessionsMutation, map[string]any{"userId": user.User.ID}},
	} {
		t.Run(op.name, func(t *testing.T) {
			expectCode(t, s.gql(t, user.AccessToken, op.query, op.vars), "FORBIDDEN")
			expectCode(t, s.gql(t, "", op.query, op.vars), "UNAUTHENTICATED")
			expectCode(t, s.gql(t, "forged.token.here", op.query, op.vars), "UNAUTHENTICATED")
		})
	}
	expectOK(t, s.me(t, user.AccessToken))
}

func TestAdminRevokesAnotherUsersSessions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "heidi")
		if roles := claimsOf(t, admin.AccessToken)["roles"].([]any); !slices.Contains(roles, any("admin")) {
			t.Fatalf("admin token roles: %v", roles)
		}
		victim := s.register(t, "ivan", "open-sesame-42")
		victim2 := s.login(t, "ivan", "open-sesame-42")

		resp := s.gql(t, admin.AccessToken, revokeUserSessionsMutation, map[string]any{"userId": victim.User.ID})
		expectOK(t, resp)
		if string(resp.Data["revokeUserSessions"]) != "true" {
			t.Fatalf("revokeUserSessions: %s", resp.Body)
		}
		for _, p := range []authPayload{victim, victim2} {
			expectCode(t, s.me(t, p.AccessToken), "UNAUTHENTICATED")
			expectCode(t, s.refresh(t, p.refresh()), "UNAUTHENTICATED")
		}
		expectOK(t, s.me(t, admin.AccessToken))

		resp = s.gql(t, admin.AccessToken, revokeUserSessionsMutation, map[string]any{"userId": "00000000-0000-0000-0000-000000000000"})
		expectOK(t, resp)
		if string(resp.Data["revokeUserSessions"]) != "false" {
			t.Fatalf("unknown user: %s", resp.Body)
		}
	})
}

type eventNode struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	UserID    *string `json:"userId"`
	Username  *string `json:"username"`
	SessionID *string `json:"sessionId"`
	IP        string  `json:"ip"`
	UserAgent string  `json:"userAgent"`
	Detail    *string `json:"detail"`
	CreatedAt string  `json:"createdAt"`
}

type eventConnection struct {
	Edges []struct {
		Cursor string    `json:"cursor"`
		Node   eventNode `json:"node"`
	} `json:"edges"`
	Nodes []struct {
		ID string `json:"id"`
	} `json:"nodes"`
	PageInfo struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
}

func (s *server) events(t testing.TB, token string, vars map[string]any) eventConnection {
	t.Helper()
	resp := s.gql(t, token, authEventsQuery, vars)
	expectOK(t, resp)
	var conn eventConnection
	resp.into(t, "authEvents", &conn)
	return conn
}

// kinds returns the event kinds of a user, newest first.
func (s *server) kinds(t testing.TB, adminToken, userID string) []string {
	t.Helper()
	var kinds []string
	for _, e := range s.events(t, adminToken, map[string]any{"userId": userID, "first": 100}).Edges {
		kinds = append(kinds, e.Node.Kind)
	}
	return kinds
}

func TestAuditRecordsAuthenticationEvents(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "judy")
		reg := s.register(t, "ken", "open-sesame-42")
		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "ken", "password": "wrong-password"}}), "UNAUTHENTICATED")
		login := s.login(t, "ken", "open-sesame-42")
		var rotated authPayload
		resp := s.refresh(t, login.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &rotated)
		// The refresh event is written in the background: wait for it, or
		// the reuse below may be stored first and the order is luck.
		waitFor(t, 5*time.Second, func() bool { return slices.Contains(s.kinds(t, admin.AccessToken, reg.User.ID), "REFRESH") })
		expectCode(t, s.refresh(t, login.refresh()), "UNAUTHENTICATED") // reuse
		expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))
		expectCode(t, s.me(t, reg.AccessToken), "UNAUTHENTICATED") // revoked token used

		want := []string{"REVOKED_TOKEN_USED", "LOGOUT", "REFRESH_TOKEN_REUSED", "REFRESH", "LOGIN_SUCCEEDED", "LOGIN_FAILED", "REGISTER"}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := s.kinds(t, admin.AccessToken, reg.User.ID)
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("events of ken, newest first:\n got %v\nwant %v", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// A failed login for a name that does not exist keeps the name.
		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "nobody_here", "password": "open-sesame-42"}}), "UNAUTHENTICATED")
		conn := s.events(t, admin.AccessToken, map[string]any{"kind": "LOGIN_FAILED", "first": 1})
		got := conn.Edges[0].Node
		if got.UserID != nil || got.Username == nil || *got.Username != "nobody_here" || got.IP != "127.0.0.1" {
			t.Fatalf("login_failed event: %+v", got)
		}
	})
}

func TestAuthEventsPagination(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "laura")
		user := s.register(t, "mike", "open-sesame-42")
		for range 4 {
			s.login(t, "mike", "open-sesame-42")
		}
		// mike: register + 4 logins = 5 events, walked 2 at a time.
		var seen []string
		var after any
		for page := 0; ; page++ {
			conn := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID, "first": 2, "after": after})
			if len(conn.Edges) != len(conn.Nodes) || len(conn.Edges) > 2 || len(conn.Edges) == 0 {
				t.Fatalf("page %d: %d edges, %d nodes", page, len(conn.Edges), len(conn.Nodes))
			}
			for i, e := range conn.Edges {
				if e.Node.UserID == nil || *e.Node.UserID != user.User.ID || conn.Nodes[i].ID != e.Node.ID {
					t.Fatalf("page %d: %+v", page, e.Node)
				}
				seen = append(seen, e.Node.ID)
			}
			info := conn.PageInfo
			if info.StartCursor == nil || *info.StartCursor != conn.Edges[0].Cursor ||
				info.EndCursor == nil || *info.EndCursor != conn.Edges[len(conn.Edges)-1].Cursor {
				t.Fatalf("page %d: cursors %+v, edges %+v", page, info, conn.Edges)
			}
			// Only the first page, which starts at the newest, has nothing before it.
			if info.HasPreviousPage != (page > 0) {
				t.Fatalf("page %d: hasPreviousPage %v", page, info.HasPreviousPage)
			}
			if !info.HasNextPage {
				break
			}
			after = *info.EndCursor
		}
		if len(seen) != 5 {
			t.Fatalf("walked %d events, want 5: %v", len(seen), seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] && len(seen[i]) >= len(seen[i-1]) {
				t.Fatalf("not newest first: %v", seen)
			}
		}

		// Past the oldest event: an empty page, with everything before it.
		all := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID})
		oldest := all.Edges[len(all.Edges)-1].Cursor
		past := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID, "after": oldest})
		if len(past.Edges) != 0 || past.PageInfo.HasNextPage || !past.PageInfo.HasPreviousPage ||
			past.PageInfo.StartCursor != nil || past.PageInfo.EndCursor != nil {
			t.Fatalf("page after the oldest: %+v", past)
		}
		// What precedes a page is what the filter selects: after the newest
		// event (a login), no registration precedes the page that holds it.
		newest := all.Edges[0].Cursor
		registered := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID, "kind": "REGISTER", "after": newest})
		if len(registered.Edges) != 1 || registered.Edges[0].Node.Kind != "REGISTER" || registered.PageInfo.HasPreviousPage {
			t.Fatalf("registrations after the newest login: %+v", registered)
		}
		logins := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID, "kind": "LOGIN_SUCCEEDED", "first": 10})
		if len(logins.Edges) != 4 || logins.PageInfo.HasNextPage || logins.PageInfo.HasPreviousPage {
			t.Fatalf("kind filter: %+v", logins)
		}
		for _, e := range logins.Edges {
			if e.Node.Kind != "LOGIN_SUCCEEDED" {
				t.Fatalf("kind filter let through %s", e.Node.Kind)
			}
		}
		older := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID, "kind": "LOGIN_SUCCEEDED", "after": logins.Edges[0].Cursor})
		if len(older.Edges) != 3 || !older.PageInfo.HasPreviousPage {
			t.Fatalf("logins after the newest login: %+v", older)
		}
		// first: 0 answers no events but says whether there are any.
		if conn := s.events(t, admin.AccessToken, map[string]any{"userId": user.User.ID, "first": 0}); len(conn.Edges) != 0 ||
			!conn.PageInfo.HasNextPage || conn.PageInfo.HasPreviousPage || conn.PageInfo.StartCursor != nil {
			t.Fatalf("first 0: %+v", conn)
		}
		if conn := s.events(t, admin.AccessToken, nil); len(conn.Edges) != 20 && len(conn.Edges) < 8 {
			t.Fatalf("default page: %d", len(conn.Edges))
		}

		for _, bad := range []struct {
			name  string
			query string
			vars  map[string]any
			field string
		}{
			{"negative first", authEventsQuery, map[string]any{"first": -1}, "first"},
			{"first over 100", authEventsQuery, map[string]any{"first": 101}, "first"},
			{"after not a cursor", authEventsQuery, map[string]any{"after": "not-a-cursor"}, "after"},
			// An unknown kind is an error, not an empty page, however it is sent.
			{"unknown kind", authEventsQuery, map[string]any{"kind": "NO_SUCH_KIND"}, ""},
			{"kind as the audit log spells it", authEventsQuery, map[string]any{"kind": "login_failed"}, "kind"},
			{"unknown kind in the document", `{ authEvents(kind: NO_SUCH_KIND) { nodes { id } } }`, nil, ""},
			{"kind as a string in the document", `{ authEvents(kind: "LOGIN_FAILED") { nodes { id } } }`, nil, ""},
		} {
			t.Run(bad.name, func(t *testing.T) {
				resp := s.gql(t, admin.AccessToken, bad.query, bad.vars)
				expectCode(t, resp, "BAD_USER_INPUT")
				if resp.field() != bad.field {
					t.Fatalf("%v: field %q: %s", bad.vars, resp.field(), resp.Body)
				}
				if data := resp.Data["authEvents"]; len(data) != 0 && string(data) != "null" {
					t.Fatalf("data next to the error: %s", resp.Body)
				}
			})
		}
	})
}

func TestRoleGrantReachesMeAndNextToken(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		nina := s.register(t, "nina", "open-sesame-42")
		var me user
		resp := s.me(t, nina.AccessToken)
		resp.into(t, "me", &me)
		if len(me.Roles) != 0 {
			t.Fatalf("roles before: %v", me.Roles)
		}
		if _, err := s.app.Service().GrantRole(context.Background(), "NINA", "editor"); err != nil {
			t.Fatal(err)
		}
		resp = s.me(t, nina.AccessToken)
		resp.into(t, "me", &me)
		if !slices.Equal(me.Roles, []string{"editor"}) {
			t.Fatalf("me roles after grant: %v", me.Roles)
		}
		var next authPayload
		resp = s.refresh(t, nina.refresh())
		resp.into(t, "refresh", &next)
		if roles := claimsOf(t, next.AccessToken)["roles"].([]any); !slices.Equal(roles, []any{"editor"}) {
			t.Fatalf("refreshed token roles: %v", roles)
		}
		if _, err := s.app.Service().RevokeRole(context.Background(), "nina", "editor"); err != nil {
			t.Fatal(err)
		}
		resp = s.me(t, next.AccessToken)
		resp.into(t, "me", &me)
		if len(me.Roles) != 0 {
			t.Fatalf("me roles after revoke: %v", me.Roles)
		}
		if _, err := s.app.Service().GrantRole(context.Background(), "nina", "Not A Role"); err == nil {
			t.Fatal("invalid role name accepted")
		}
		if _, err := s.app.Service().GrantRole(context.Background(), "nobody", "admin"); err == nil {
			t.Fatal("granted a role to a user that does not exist")
		}
	})
}

func TestRefreshReuseIntervalForgivesConcurrentTabs(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "oscar", "open-sesame-42")
		var tabA, tabB authPayload
		resp := s.refresh(t, reg.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &tabA)
		// The second tab presents the same, just-rotated token.
		resp = s.refresh(t, reg.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &tabB)
		if sessionID(t, tabA.AccessToken) != sessionID(t, tabB.AccessToken) {
			t.Fatal("grace refresh must stay in the same session")
		}
		expectOK(t, s.me(t, tabA.AccessToken))
		expectOK(t, s.me(t, tabB.AccessToken))

		// Outside the interval, reuse is theft again.
		s.clock.Advance(11 * time.Second)
		expectCode(t, s.refresh(t, tabA.refresh()), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, tabB.refresh()), "UNAUTHENTICATED")
		expectCode(t, s.me(t, tabB.AccessToken), "UNAUTHENTICATED")
	}, withEnv("KEYCARD_REFRESH_REUSE_INTERVAL", "10s"), withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "24h"))
}

// rawDB opens a second connection to the server's database, for what a
// test must do behind keycard's back.
func (s *server) rawDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), s.dbURL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (s *server) count(t testing.TB, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJanitorRemovesExpiredRowsAndKeepsLiveOnes(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		gone := s.register(t, "peggy", "open-sesame-42")
		kept := s.login(t, "peggy", "open-sesame-42")
		expectOK(t, s.gql(t, gone.AccessToken, logoutMutation, nil))
		db := s.rawDB(t)
		if n := s.count(t, db, "revocations"); n != 1 {
			t.Fatalf("revocations before: %d", n)
		}

		// Nothing is old enough yet.
		if _, err := s.app.Service().CleanUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s.count(t, db, "sessions") != 2 || s.count(t, db, "revocations") != 1 {
			t.Fatal("janitor deleted rows that still matter")
		}

		// A day later: the revocation outlived every token it voided and
		// the revoked session is past retention; the other is live.
		s.clock.Advance(25 * time.Hour)
		deleted, err := s.app.Service().CleanUp(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if deleted == 0 || s.count(t, db, "revocations") != 0 || s.count(t, db, "sessions") != 1 {
			t.Fatalf("after clean-up: deleted %d, %d revocations, %d sessions", deleted,
				s.count(t, db, "revocations"), s.count(t, db, "sessions"))
		}
		expectOK(t, s.refresh(t, kept.refresh()))
		expectCode(t, s.refresh(t, gone.refresh()), "UNAUTHENTICATED")
		if n := s.count(t, db, "auth_events"); n < 3 {
			t.Fatalf("audit events deleted before retention: %d left", n)
		}
	}, withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "1000h"))
}

func TestRevocationReachesAnotherInstanceWithinTheSyncBound(t *testing.T) {
	storetestEach(t, func(t *testing.T, dbURL string) {
		opts := []serverOption{withEnv("KEYCARD_REVOCATION_SYNC_INTERVAL", "200ms"), withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "2s")}
		a := startServer(t, dbURL, opts...)
		b := startServer(t, dbURL, opts...)
		reg := a.register(t, "quentin", "open-sesame-42")
		expectOK(t, b.me(t, reg.AccessToken))

		expectOK(t, a.gql(t, reg.AccessToken, logoutMutation, nil))
		loggedOut := time.Now()
		expectCode(t, a.me(t, reg.AccessToken), "UNAUTHENTICATED") // at once here
		for {
			resp := b.me(t, reg.AccessToken)
			if resp.code() == "UNAUTHENTICATED" {
				break
			}
			expectOK(t, resp)
			if time.Since(loggedOut) > time.Second {
				t.Fatal("instance B still accepts the token 1s after logout on A")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// A grant made by another process (the CLI) reaches `me` the same way.
		if _, err := a.app.Service().GrantRole(context.Background(), "quentin", "auditor"); err != nil {
			t.Fatal(err)
		}
		fresh := b.login(t, "quentin", "open-sesame-42")
		deadline := time.Now().Add(time.Second)
		for {
			var me user
			b.me(t, fresh.AccessToken).into(t, "me", &me)
			if slices.Equal(me.Roles, []string{"auditor"}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("role not visible on B after 1s: %v", me.Roles)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestStaleRevocationStateFailsClosed(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		s := startServer(t, dbURL, withEnv("KEYCARD_REVOCATION_SYNC_INTERVAL", "100ms"), withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "500ms"))
		reg := s.register(t, "rupert", "open-sesame-42")
		expectOK(t, s.me(t, reg.AccessToken))

		// Break the sync behind keycard's back: the table it reads is gone.
		db := s.rawDB(t)
		if _, err := db.SQL.Exec("ALTER TABLE revocations RENAME TO revocations_away"); err != nil {
			t.Fatal(err)
		}
		// Let a few syncs fail, then let the server's clock pass the bound.
		time.Sleep(400 * time.Millisecond)
		s.clock.Advance(time.Second)
		resp := s.me(t, reg.AccessToken)
		if resp.Status != http.StatusServiceUnavailable {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		expectCode(t, resp, "UNAVAILABLE")
		// Requests without a token do not depend on revocation state.
		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "rupert", "password": "bad-password"}}), "UNAUTHENTICATED")

		if _, err := db.SQL.Exec("ALTER TABLE revocations_away RENAME TO revocations"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() bool { return s.me(t, reg.AccessToken).Status == http.StatusOK })
		expectOK(t, s.me(t, reg.AccessToken))
	})
}

func TestVerifyingATokenDoesNoDatabaseWork(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		var mu sync.Mutex
		statements := map[string][]string{}
		observe := func(ctx context.Context, statement string) {
			if id := requestlog.ID(ctx); id != "" {
				mu.Lock()
				statements[id] = append(statements[id], statement)
				mu.Unlock()
			}
		}
		s := startServerWith(t, dbURL, observe)
		reg := s.register(t, "sybil", "open-sesame-42")
		call := func(id, token, query string) []string {
			resp := s.do(t, request{Query: query, token: token, header: http.Header{requestlog.IDHeader: {id}}})
			expectOK(t, resp)
			mu.Lock()
			defer mu.Unlock()
			return statements[id]
		}
		if got := call("typename-with-token", reg.AccessToken, `{ __typename }`); len(got) != 0 {
			t.Fatalf("verifying a token ran %d statements: %v", len(got), got)
		}
		// `me` reads the user once; verification adds nothing to it.
		if got := call("me-first", reg.AccessToken, meQuery); len(got) > 1 {
			t.Fatalf("me ran %d statements: %v", len(got), got)
		}
		if got := call("me-again", reg.AccessToken, meQuery); len(got) > 1 {
			t.Fatalf("me ran %d statements: %v", len(got), got)
		}
		if got := call("register", "", `mutation { register(input: {username: "trent", password: "open-sesame-42"}) { accessToken } }`); len(got) == 0 {
			t.Fatal("observer saw no statements for register: the count above proves nothing")
		}
	})
}

func waitFor(t testing.TB, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// People type passwords into the username field. A failed login keeps the
// typed name in the audit log only if it could be a username; anything
// else is left out, and the event says so.
func TestFailedLoginAuditKeepsOnlyPossibleUsernames(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "auditor")
		s.register(t, "typist", "open-sesame-42")
		for _, typed := range []string{"correct horse battery staple", "open-sesame-42!", "Tr0ub4dor&3", strings.Repeat("x", 33), "no_such_user", "typist"} {
			expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": typed, "password": "wrong-guess-1"}}), "UNAUTHENTICATED")
		}
		var got []string
		for _, e := range s.events(t, admin.AccessToken, map[string]any{"kind": "LOGIN_FAILED", "first": 10}).Edges {
			name, detail := "", ""
			if e.Node.Username != nil {
				name = *e.Node.Username
			}
			if e.Node.Detail != nil {
				detail = *e.Node.Detail
			}
			got = append(got, name+"|"+detail)
		}
		marker := "|typed name is not a possible username; not stored"
		want := []string{"typist|", "no_such_user|", marker, marker, marker, marker}
		if !slices.Equal(got, want) {
			t.Fatalf("login_failed events, newest first (username|detail):\n got %q\nwant %q", got, want)
		}
		var stored int
		if err := s.rawDB(t).SQL.QueryRow("SELECT COUNT(*) FROM auth_events WHERE username LIKE '%horse%' OR username LIKE '%sesame%' OR username LIKE '%ub4dor%' OR detail LIKE '%horse%'").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != 0 {
			t.Fatalf("%d audit rows hold a typed password", stored)
		}
	})
}
