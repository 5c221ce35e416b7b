package app_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegisterLoginMe(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "Alice", "correct horse battery")
		if reg.TokenType != "Bearer" || reg.ExpiresIn != 900 || reg.AccessToken == "" || reg.refresh() == "" {
			t.Fatalf("register payload: %+v", reg)
		}
		if reg.User.Username != "Alice" || reg.User.Email != nil || len(reg.User.Roles) != 0 || reg.User.ID == "" {
			t.Fatalf("register user: %+v", reg.User)
		}
		if _, err := time.Parse(time.RFC3339Nano, reg.User.CreatedAt); err != nil {
			t.Fatalf("createdAt %q is not RFC 3339: %v", reg.User.CreatedAt, err)
		}

		login := s.login(t, "Alice", "correct horse battery")
		if login.User.ID != reg.User.ID || login.AccessToken == reg.AccessToken || login.refresh() == reg.refresh() {
			t.Fatalf("login must open a new session for the same user: %+v", login)
		}

		for _, token := range []string{reg.AccessToken, login.AccessToken} {
			resp := s.me(t, token)
			expectOK(t, resp)
			var me user
			resp.into(t, "me", &me)
			if me.ID != reg.User.ID || me.Username != "Alice" || me.CreatedAt != reg.User.CreatedAt || me.Email != nil || len(me.Roles) != 0 {
				t.Fatalf("me = %+v, want %+v", me, reg.User)
			}
		}
	})
}

func TestRegisterWithEmail(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		resp := s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{
			"username": "bob", "password": "open-sesame-42", "email": "Bob@Example.com"}})
		expectOK(t, resp)
		var p authPayload
		resp.into(t, "register", &p)
		if p.User.Email == nil || *p.User.Email != "Bob@Example.com" {
			t.Fatalf("email not kept as given: %+v", p.User)
		}
		// Email uniqueness ignores case, like usernames.
		resp = s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{
			"username": "bobby", "password": "open-sesame-42", "email": "bob@example.COM"}})
		expectCode(t, resp, "USERNAME_TAKEN")
		if resp.field() != "email" {
			t.Fatalf("duplicate email must name field email: %s", resp.Body)
		}
	})
}

func TestUsernameIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "Carol", "open-sesame-42")
		login := s.login(t, "cAROL", "open-sesame-42")
		if login.User.ID != reg.User.ID || login.User.Username != "Carol" {
			t.Fatalf("login with other case: %+v", login.User)
		}
		for _, name := range []string{"Carol", "carol", "CAROL"} {
			t.Run(name, func(t *testing.T) {
				resp := s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": name, "password": "open-sesame-42"}})
				expectCode(t, resp, "USERNAME_TAKEN")
				if resp.field() != "username" {
					t.Fatalf("USERNAME_TAKEN must name field username: %s", resp.Body)
				}
			})
		}
	})
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		input map[string]any
		field string
	}{
		{"username too short", map[string]any{"username": "ab", "password": "open-sesame-42"}, "username"},
		{"username too long", map[string]any{"username": strings.Repeat("a", 33), "password": "open-sesame-42"}, "username"},
		{"username empty", map[string]any{"username": "", "password": "open-sesame-42"}, "username"},
		{"username with space", map[string]any{"username": "bad name", "password": "open-sesame-42"}, "username"},
		{"username with symbol", map[string]any{"username": "bad!name", "password": "open-sesame-42"}, "username"},
		{"username with at sign", map[string]any{"username": "me@example.com", "password": "open-sesame-42"}, "username"},
		{"username non-ASCII", map[string]any{"username": "ünïcode", "password": "open-sesame-42"}, "username"},
		{"password too short", map[string]any{"username": "dave", "password": "short12"}, "password"},
		{"password too long", map[string]any{"username": "dave", "password": strings.Repeat("p", 129)}, "password"},
		{"password empty", map[string]any{"username": "dave", "password": ""}, "password"},
		{"password is the username", map[string]any{"username": "dave_the_user", "password": "Dave_The_User"}, "password"},
		{"password is common", map[string]any{"username": "dave", "password": "password123"}, "password"},
		{"password is common in other case", map[string]any{"username": "dave", "password": "Password123"}, "password"},
		{"email without at", map[string]any{"username": "dave", "password": "open-sesame-42", "email": "dave.example.com"}, "email"},
		{"email without domain dot", map[string]any{"username": "dave", "password": "open-sesame-42", "email": "dave@localhost"}, "email"},
		{"email with display name", map[string]any{"username": "dave", "password": "open-sesame-42", "email": "Dave <dave@example.com>"}, "email"},
		{"email empty", map[string]any{"username": "dave", "password": "open-sesame-42", "email": ""}, "email"},
		{"email too long", map[string]any{"username": "dave", "password": "open-sesame-42", "email": strings.Repeat("d", 250) + "@example.com"}, "email"},
	}
	// Validation refuses before anything is stored: once is enough.
	s := startSQLite(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.gql(t, "", registerMutation, map[string]any{"input": tc.input})
			expectCode(t, resp, "BAD_USER_INPUT")
			if resp.field() != tc.field {
				t.Fatalf("field = %q, want %q: %s", resp.field(), tc.field, resp.Body)
			}
			if resp.Errors[0].Message == "" {
				t.Fatal("validation error without a message")
			}
		})
	}
}

// The longest and non-ASCII values validation lets through must fit the
// columns of every database.
func TestRegisterAcceptsTheBoundaries(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "abc", "8chars!!")
		s.register(t, strings.Repeat("z", 32), strings.Repeat("p", 128))
		s.register(t, "a.b-c_d", "pässwörd")
	})
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "erin", "open-sesame-42")
		attempt := func(username, password string) *response {
			return s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": username, "password": password}})
		}
		wrongPassword := attempt("erin", "open-sesame-43")
		unknownUser := attempt("nobody", "open-sesame-42")
		invalidName := attempt("no such user!", "open-sesame-42")
		for _, resp := range []*response{wrongPassword, unknownUser, invalidName} {
			expectCode(t, resp, "UNAUTHENTICATED")
		}
		if wrongPassword.Errors[0].Message != unknownUser.Errors[0].Message || unknownUser.Errors[0].Message != invalidName.Errors[0].Message {
			t.Fatalf("failure messages differ:\n%s\n%s\n%s", wrongPassword.Body, unknownUser.Body, invalidName.Body)
		}
		if wrongPassword.Status != unknownUser.Status {
			t.Fatalf("statuses differ: %d vs %d", wrongPassword.Status, unknownUser.Status)
		}
	})
}

func TestRefreshRotatesToken(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "frank", "open-sesame-42")
		resp := s.refresh(t, reg.refresh())
		expectOK(t, resp)
		var rotated authPayload
		resp.into(t, "refresh", &rotated)
		if rotated.refresh() == "" || rotated.refresh() == reg.refresh() || rotated.AccessToken == "" || rotated.User.ID != reg.User.ID {
			t.Fatalf("refresh did not rotate: %+v", rotated)
		}
		expectOK(t, s.me(t, rotated.AccessToken))
		// The new refresh token works in turn.
		next := s.refresh(t, rotated.refresh())
		expectOK(t, next)
	})
}

func TestReusedRefreshTokenRevokesSession(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "grace", "open-sesame-42")
		other := s.login(t, "grace", "open-sesame-42")

		var rotated authPayload
		resp := s.refresh(t, reg.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &rotated)

		// The old token again: theft. It fails, and so does the newest
		// token and every access token of the session.
		expectCode(t, s.refresh(t, reg.refresh()), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, rotated.refresh()), "UNAUTHENTICATED")
		expectCode(t, s.me(t, rotated.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.me(t, reg.AccessToken), "UNAUTHENTICATED")

		// Another session of the same user is not affected.
		expectOK(t, s.me(t, other.AccessToken))
		expectOK(t, s.refresh(t, other.refresh()))
	})
}

func TestReuseOfOlderTokenInChainRevokesSession(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "heidi", "open-sesame-42")
		first := reg.refresh()
		current := first
		for i := 0; i < 3; i++ {
			var p authPayload
			resp := s.refresh(t, current)
			expectOK(t, resp)
			resp.into(t, "refresh", &p)
			current = p.refresh()
		}
		expectCode(t, s.refresh(t, first), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, current), "UNAUTHENTICATED")
	})
}

func TestConcurrentRefreshWithOneTokenLetsOneWin(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "ivan", "open-sesame-42")
		const n = 8
		results := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.refresh(t, reg.refresh())
			}()
		}
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch {
			case len(r.Errors) == 0:
				ok++
			case r.code() != "UNAUTHENTICATED":
				t.Fatalf("unexpected error: %s", r.Body)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent refreshes with one token succeeded, want exactly 1", ok)
		}
	})
}

func TestLogoutCurrentEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		first := s.register(t, "judy", "open-sesame-42")
		second := s.login(t, "judy", "open-sesame-42")

		resp := s.gql(t, first.AccessToken, logoutMutation, map[string]any{"scope": "CURRENT"})
		expectOK(t, resp)
		if string(resp.Data["logout"]) != "true" {
			t.Fatalf("logout = %s", resp.Data["logout"])
		}
		expectCode(t, s.me(t, first.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, first.refresh()), "UNAUTHENTICATED")
		// Logging out twice with the same token is refused: it is revoked.
		expectCode(t, s.gql(t, first.AccessToken, logoutMutation, nil), "UNAUTHENTICATED")

		expectOK(t, s.me(t, second.AccessToken))
		expectOK(t, s.refresh(t, second.refresh()))
	})
}

func TestLogoutDefaultsToCurrent(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		first := s.register(t, "ken", "open-sesame-42")
		second := s.login(t, "ken", "open-sesame-42")
		expectOK(t, s.gql(t, first.AccessToken, `mutation { logout }`, nil))
		expectCode(t, s.me(t, first.AccessToken), "UNAUTHENTICATED")
		expectOK(t, s.me(t, second.AccessToken))
	})
}

func TestLogoutAllEndsEverySession(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		first := s.register(t, "laura", "open-sesame-42")
		second := s.login(t, "laura", "open-sesame-42")
		var third authPayload
		resp := s.refresh(t, second.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &third)
		bystander := s.register(t, "mallory", "open-sesame-42")

		expectOK(t, s.gql(t, first.AccessToken, logoutMutation, map[string]any{"scope": "ALL"}))
		for _, token := range []string{first.AccessToken, second.AccessToken, third.AccessToken} {
			expectCode(t, s.me(t, token), "UNAUTHENTICATED")
		}
		for _, token := range []string{first.refresh(), third.refresh()} {
			expectCode(t, s.refresh(t, token), "UNAUTHENTICATED")
		}
		expectOK(t, s.me(t, bystander.AccessToken))
		// Signing in again works: logout is not a lock-out.
		fresh := s.login(t, "laura", "open-sesame-42")
		expectOK(t, s.me(t, fresh.AccessToken))
	})
}

func TestLogoutRequiresToken(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	expectCode(t, s.gql(t, "", logoutMutation, nil), "UNAUTHENTICATED")
	expectCode(t, s.me(t, ""), "UNAUTHENTICATED")
}

func TestRevocationSurvivesRestart(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		loggedOut := s.register(t, "nina", "open-sesame-42")
		kept := s.login(t, "nina", "open-sesame-42")
		expectOK(t, s.gql(t, loggedOut.AccessToken, logoutMutation, nil))

		s.restart()

		expectCode(t, s.me(t, loggedOut.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, loggedOut.refresh()), "UNAUTHENTICATED")
		expectOK(t, s.me(t, kept.AccessToken))
		expectOK(t, s.refresh(t, kept.refresh()))
	})
}

func TestDevelopmentSecretIsKeptAcrossRestarts(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "oscar", "open-sesame-42")
		s.restart()
		expectOK(t, s.me(t, reg.AccessToken))
	}, withEnv("KEYCARD_JWT_SECRET", ""))
}

func TestTokensAreNotInterchangeable(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "peggy", "open-sesame-42")
	expectCode(t, s.me(t, reg.refresh()), "UNAUTHENTICATED")
	expectCode(t, s.refresh(t, reg.AccessToken), "UNAUTHENTICATED")
	expectCode(t, s.refresh(t, ""), "UNAUTHENTICATED")
	expectCode(t, s.gql(t, "", `mutation { refresh { accessToken } }`, nil), "UNAUTHENTICATED")
	// Both still work for their own purpose.
	expectOK(t, s.me(t, reg.AccessToken))
	expectOK(t, s.refresh(t, reg.refresh()))
}

func TestExpiredAccessTokenIsRejected(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "quentin", "open-sesame-42")
		s.clock.Advance(14 * time.Minute)
		expectOK(t, s.me(t, reg.AccessToken))
		s.clock.Advance(2 * time.Minute)
		expectCode(t, s.me(t, reg.AccessToken), "UNAUTHENTICATED")
		// The refresh token outlives it and mints a working one.
		var p authPayload
		resp := s.refresh(t, reg.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &p)
		expectOK(t, s.me(t, p.AccessToken))
	}, withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "24h"))
}

func TestExpiredRefreshTokenIsRejected(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "rupert", "open-sesame-42")
		s.clock.Advance(2*time.Hour + time.Second)
		expectCode(t, s.refresh(t, reg.refresh()), "UNAUTHENTICATED")
	}, withEnv("KEYCARD_REFRESH_TTL", "2h"), withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "24h"))
}

func TestConcurrentRegistrationOfOneUsername(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		const n = 30
		results := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "Sybil"
				if i%2 == 1 {
					name = "sybil"
				}
				results[i] = s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": name, "password": "open-sesame-42"}})
			}()
		}
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch {
			case len(r.Errors) == 0:
				ok++
			case r.code() != "USERNAME_TAKEN":
				t.Errorf("want USERNAME_TAKEN, got %s", r.Body)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent registrations succeeded, want exactly 1", ok, n)
		}
	})
}

func TestMalformedRequestsGet4xxAndServerStaysUp(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	post := func(t testing.TB, contentType, body string) *response {
		req, err := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		return s.send(t, req)
	}
	cases := []struct {
		name        string
		contentType string
		body        string
		status      int
	}{
		{"malformed JSON", "application/json", `{"query": "mutation { login(input: {username: \"x\", password: \"hunter2secret\"`, http.StatusBadRequest},
		{"JSON array of junk", "application/json", `[1,2,3]`, http.StatusBadRequest},
		{"query not a string", "application/json", `{"query": 5}`, http.StatusBadRequest},
		{"empty body", "application/json", ``, http.StatusBadRequest},
		{"form body", "application/x-www-form-urlencoded", `query={me{id}}`, http.StatusUnsupportedMediaType},
		{"oversized body", "application/json", `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`, http.StatusRequestEntityTooLarge},
		{"syntax error", "application/json", `{"query":"{ me { id "}`, http.StatusBadRequest},
		{"unknown field", "application/json", `{"query":"{ nope }"}`, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, tc.contentType, tc.body)
			if resp.Status != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.Status, tc.status, resp.Body)
			}
			if len(resp.Errors) == 0 {
				t.Fatalf("no error message: %s", resp.Body)
			}
			if strings.Contains(resp.Body, "hunter2secret") {
				t.Fatalf("response echoes the request body: %s", resp.Body)
			}
		})
	}
	s.register(t, "trent", "open-sesame-42")
}

func TestOversizedBodyWithoutContentLength(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	body := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	// A reader without a known length makes the client send chunked,
	// so the limit must hold while reading, not only on the header.
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp := s.send(t, req)
	if resp.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d: %s", resp.Status, resp.Body)
	}
	expectCode(t, s.me(t, ""), "UNAUTHENTICATED")
}

func TestGetServesQueriesAndRefusesMutations(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "uma", "open-sesame-42")
	resp := s.get(t, reg.AccessToken, meQuery, nil)
	expectOK(t, resp)
	resp = s.get(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "uma", "password": "open-sesame-42"}})
	if resp.Status != http.StatusMethodNotAllowed || len(resp.Errors) == 0 {
		t.Fatalf("mutation over GET: status %d: %s", resp.Status, resp.Body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := s.http.Client().Get(s.http.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s = %d", path, resp.StatusCode)
			}
		}
		resp, err := s.http.Client().Get(s.http.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("playground: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

func TestMissingOrMistypedVariablesAreBadUserInput(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	resp := s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": "yvonne"}})
	expectCode(t, resp, "BAD_USER_INPUT")
	if resp.field() != "password" || resp.Status != http.StatusBadRequest {
		t.Fatalf("missing password: status %d: %s", resp.Status, resp.Body)
	}
	resp = s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": 42, "password": "open-sesame-42"}})
	expectCode(t, resp, "BAD_USER_INPUT")
	if resp.field() != "username" {
		t.Fatalf("mistyped username: %s", resp.Body)
	}
	expectCode(t, s.gql(t, "", registerMutation, nil), "BAD_USER_INPUT")
}
