package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const introspectionSecret = "introspection-secret-0123456789"

// oauthReply is a decoded answer of an OAuth endpoint.
type oauthReply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r oauthReply) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

func (s *server) oauthPost(t testing.TB, path, contentType, body string, header http.Header) oauthReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := oauthReply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s: not JSON: %s", path, raw)
		}
	}
	return out
}

func (s *server) form(t testing.TB, path string, values url.Values) oauthReply {
	t.Helper()
	return s.oauthPost(t, path, "application/x-www-form-urlencoded", values.Encode(), nil)
}

func expectOAuthError(t testing.TB, r oauthReply, status int, code string) {
	t.Helper()
	if r.Status != status || r.str("error") != code || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Raw)
	}
}

func TestOAuthTokenEndpointPasswordAndRefreshGrants(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "olivia", "open-sesame-42")

		got := s.form(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"Olivia"}, "password": {"open-sesame-42"}})
		if got.Status != http.StatusOK || got.str("token_type") != "Bearer" || got.Body["expires_in"] != float64(900) ||
			got.str("access_token") == "" || !strings.HasPrefix(got.str("refresh_token"), "kcr_") ||
			got.Header.Get("Cache-Control") != "no-store" || got.Header.Get("Pragma") != "no-cache" {
			t.Fatalf("password grant: %d %v %s", got.Status, got.Header, got.Raw)
		}
		// The same tokens as the GraphQL face: one service behind both.
		expectOK(t, s.me(t, got.str("access_token")))

		viaJSON := s.oauthPost(t, "/oauth/token", "application/json", `{"grant_type":"password","username":"olivia","password":"open-sesame-42"}`, nil)
		if viaJSON.Status != http.StatusOK || viaJSON.str("access_token") == "" {
			t.Fatalf("JSON body: %s", viaJSON.Raw)
		}

		rotated := s.form(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got.str("refresh_token")}})
		if rotated.Status != http.StatusOK || rotated.str("refresh_token") == got.str("refresh_token") {
			t.Fatalf("refresh grant: %s", rotated.Raw)
		}
		// Reuse of the rotated token: invalid_grant, and the session is gone.
		expectOAuthError(t, s.form(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {got.str("refresh_token")}}), http.StatusBadRequest, "invalid_grant")
		expectCode(t, s.me(t, rotated.str("access_token")), "UNAUTHENTICATED")
		// A GraphQL refresh token works here too.
		reg := s.login(t, "olivia", "open-sesame-42")
		if r := s.form(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {reg.refresh()}}); r.Status != http.StatusOK {
			t.Fatalf("GraphQL refresh token on /oauth/token: %s", r.Raw)
		}
	})
}

func TestOAuthTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	s.register(t, "oscar_o", "open-sesame-42")
	cases := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"wrong password", "application/x-www-form-urlencoded", "grant_type=password&username=oscar_o&password=nope-nope-nope", 400, "invalid_grant"},
		{"unknown user", "application/x-www-form-urlencoded", "grant_type=password&username=nobody_x&password=nope-nope-nope", 400, "invalid_grant"},
		{"bad refresh token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=kcr_nope", 400, "invalid_grant"},
		{"no grant_type", "application/x-www-form-urlencoded", "username=oscar_o&password=open-sesame-42", 400, "invalid_request"},
		{"unknown grant_type", "application/x-www-form-urlencoded", "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"authorization_code", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=x", 400, "unsupported_grant_type"},
		{"missing password", "application/x-www-form-urlencoded", "grant_type=password&username=oscar_o", 400, "invalid_request"},
		{"missing refresh token", "application/x-www-form-urlencoded", "grant_type=refresh_token", 400, "invalid_request"},
		{"repeated parameter", "application/x-www-form-urlencoded", "grant_type=password&username=oscar_o&username=other&password=x", 400, "invalid_request"},
		{"malformed JSON", "application/json", `{"grant_type":`, 400, "invalid_request"},
		{"non-string JSON", "application/json", `{"grant_type":"password","username":"oscar_o","password":12345678}`, 400, "invalid_request"},
		{"other content type", "text/plain", "grant_type=password", 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectOAuthError(t, s.oauthPost(t, "/oauth/token", tc.contentType, tc.body, nil), tc.status, tc.code)
		})
	}
	resp, err := s.http.Client().Get(s.http.URL + "/oauth/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /oauth/token: %d", resp.StatusCode)
	}
}

func TestOAuthTokenEndpointIsRateLimitedLikeGraphQL(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_RATE_LIMITS", "login.username_ip=3/1m"))
	s.register(t, "limited_o", "open-sesame-42")
	bad := url.Values{"grant_type": {"password"}, "username": {"limited_o"}, "password": {"nope-nope-nope"}}
	for range 2 {
		expectOAuthError(t, s.form(t, "/oauth/token", bad), 400, "invalid_grant")
	}
	// The GraphQL face shares the bucket.
	expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "limited_o", "password": "nope-nope-nope"}}), "UNAUTHENTICATED")
	r := s.form(t, "/oauth/token", bad)
	if r.Status != http.StatusTooManyRequests || r.str("error") != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v %s", r.Status, r.Header, r.Raw)
	}
}

func TestOAuthRevoke(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		s.register(t, "rhea", "open-sesame-42")
		first := s.login(t, "rhea", "open-sesame-42")
		second := s.login(t, "rhea", "open-sesame-42")

		// An access token: that token stops working, its session does not.
		r := s.form(t, "/oauth/revoke", url.Values{"token": {first.AccessToken}, "token_type_hint": {"access_token"}})
		if r.Status != http.StatusOK {
			t.Fatalf("revoke access token: %d %s", r.Status, r.Raw)
		}
		expectCode(t, s.me(t, first.AccessToken), "UNAUTHENTICATED")
		var fresh authPayload
		resp := s.refresh(t, first.refresh())
		expectOK(t, resp)
		resp.into(t, "refresh", &fresh)
		expectOK(t, s.me(t, fresh.AccessToken))

		// A refresh token: its whole session ends.
		if r := s.form(t, "/oauth/revoke", url.Values{"token": {second.refresh()}}); r.Status != http.StatusOK {
			t.Fatalf("revoke refresh token: %d %s", r.Status, r.Raw)
		}
		expectCode(t, s.refresh(t, second.refresh()), "UNAUTHENTICATED")
		expectCode(t, s.me(t, second.AccessToken), "UNAUTHENTICATED")
		expectOK(t, s.me(t, fresh.AccessToken))

		// Unknown tokens: 200 all the same (RFC 7009 §2.2).
		for name, token := range map[string]string{"unknown refresh token": "kcr_unknown", "garbage": "garbage", "already revoked": second.refresh()} {
			t.Run(name, func(t *testing.T) {
				if r := s.form(t, "/oauth/revoke", url.Values{"token": {token}}); r.Status != http.StatusOK {
					t.Fatalf("revoke %q: %d %s", token, r.Status, r.Raw)
				}
			})
		}
		expectOAuthError(t, s.form(t, "/oauth/revoke", url.Values{}), 400, "invalid_request")
	})
}

func TestOAuthIntrospection(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "ivy", "open-sesame-42")
		auth := http.Header{"Authorization": {"Bearer " + introspectionSecret}}
		introspect := func(t testing.TB, token string, header http.Header) oauthReply {
			return s.oauthPost(t, "/oauth/introspect", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode(), header)
		}
		r := introspect(t, reg.AccessToken, auth)
		claims := claimsOf(t, reg.AccessToken)
		if r.Status != http.StatusOK || r.Body["active"] != true || r.str("sub") != reg.User.ID || r.str("username") != "ivy" ||
			r.str("jti") != claims["jti"] || r.Body["exp"] != claims["exp"] || r.Body["iat"] != claims["iat"] || r.str("token_type") != "Bearer" {
			t.Fatalf("active token: %d %s", r.Status, r.Raw)
		}
		for name, token := range map[string]string{"refresh token": reg.refresh(), "garbage": "x.y.z", "empty-ish": "kcr_"} {
			t.Run(name, func(t *testing.T) {
				if r := introspect(t, token, auth); r.Status != http.StatusOK || r.Raw != "{\"active\":false}\n" {
					t.Fatalf("%s: %d %s", name, r.Status, r.Raw)
				}
			})
		}
		expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))
		if r := introspect(t, reg.AccessToken, auth); r.Body["active"] != false {
			t.Fatalf("revoked token is active: %s", r.Raw)
		}
		for _, header := range []http.Header{nil, {"Authorization": {"Bearer wrong"}}} {
			if r := introspect(t, reg.AccessToken, header); r.Status != http.StatusUnauthorized {
				t.Fatalf("without the introspection token: %d %s", r.Status, r.Raw)
			}
		}
	}, withEnv("KEYCARD_INTROSPECTION_TOKEN", introspectionSecret))
}

func TestOAuthIntrospectionIsOffWithoutAToken(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	r := s.oauthPost(t, "/oauth/introspect", "application/x-www-form-urlencoded", "token=x", http.Header{"Authorization": {"Bearer anything"}})
	if r.Status != http.StatusNotFound {
		t.Fatalf("introspection without KEYCARD_INTROSPECTION_TOKEN: %d", r.Status)
	}
}

// The metadata document and the tokens' iss follow the issuer rule, and no
// URL in the document comes from the request's Host: the document is
// publicly cacheable, so a forged Host would poison it for everyone.
func TestOAuthMetadata(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name            string
		opts            []serverOption
		issuer, baseURL string
	}{
		{"development default", nil, devIssuer, devIssuer},
		{"public URL", []serverOption{withEnv("KEYCARD_PUBLIC_URL", "https://auth.example.com")}, "https://auth.example.com", "https://auth.example.com"},
		{"issuer and public URL", []serverOption{withEnv("KEYCARD_PUBLIC_URL", "https://auth.example.com"), withEnv("KEYCARD_ISSUER", "https://id.example.com")}, "https://id.example.com", "https://auth.example.com"},
		{"production", []serverOption{withEnv("KEYCARD_ENV", "production"), withEnv("KEYCARD_PUBLIC_URL", "https://auth.example.com")}, "https://auth.example.com", "https://auth.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startSQLite(t, append(tt.opts, withEnv("KEYCARD_INTROSPECTION_TOKEN", introspectionSecret))...)
			req, err := http.NewRequest(http.MethodGet, s.http.URL+"/.well-known/oauth-authorization-server", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "evil.example"
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := s.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			base := tt.baseURL
			if doc["issuer"] != tt.issuer || doc["token_endpoint"] != base+"/oauth/token" || doc["revocation_endpoint"] != base+"/oauth/revoke" ||
				doc["introspection_endpoint"] != base+"/oauth/introspect" || doc["jwks_uri"] != base+"/.well-known/jwks.json" {
				t.Fatalf("metadata: %v", doc)
			}
			grants, _ := doc["grant_types_supported"].([]any)
			if !slices.Contains(grants, any("password")) || !slices.Contains(grants, any("refresh_token")) {
				t.Fatalf("grant types: %v", grants)
			}
			reg := s.register(t, unique("issued"), "open-sesame-42")
			if iss := claimsOf(t, reg.AccessToken)["iss"]; iss != tt.issuer {
				t.Fatalf("token iss = %v, want %q", iss, tt.issuer)
			}
		})
	}
}
