package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// browser is a client with a real cookie jar, as a browser tab would be.
type browser struct {
	t      testing.TB
	s      *server
	client *http.Client
	origin string
}

func (s *server) browser(t testing.TB, origin string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, client: &http.Client{Jar: jar}, origin: origin}
}

// post sends a GraphQL request the way a frontend in cookie mode does:
// credentials included, the CSRF header set (unless csrf is false).
func (b *browser) post(query string, vars map[string]any, bearer string, csrf bool) *response {
	b.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, b.s.http.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	if csrf {
		req.Header.Set("X-CSRF-Protection", "1")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	out.Body = buf.String()
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		b.t.Fatalf("not JSON (%d): %s", resp.StatusCode, out.Body)
	}
	return out
}

func (b *browser) cookie() *http.Cookie {
	u, _ := url.Parse(b.s.http.URL + "/graphql")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "keycard_refresh" {
			return c
		}
	}
	return nil
}

// setCookieHeader is the refresh cookie resp sets, by either name: the
// development one or production's __Host- one.
func setCookieHeader(t testing.TB, resp *response) *http.Cookie {
	t.Helper()
	for _, line := range resp.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && (c.Name == "keycard_refresh" || c.Name == "__Host-keycard_refresh") {
			return c
		}
	}
	return nil
}

const appOrigin = "https://app.example.com"

func TestCookieModeKeepsRefreshTokenOutOfReach(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		tab := s.browser(t, appOrigin)
		resp := tab.post(registerMutation, map[string]any{"input": map[string]any{"username": "cookie_user", "password": "open-sesame-42"}}, "", true)
		expectOK(t, resp)
		var reg authPayload
		resp.into(t, "register", &reg)
		if reg.RefreshToken != nil {
			t.Fatalf("refresh token in the body in cookie mode: %s", resp.Body)
		}
		c := setCookieHeader(t, resp)
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/graphql" ||
			c.MaxAge != 720*3600 || c.Secure || !strings.HasPrefix(c.Value, "kcr_") {
			t.Fatalf("refresh cookie: %+v", c)
		}

		// refresh with no argument reads the cookie, and rotates it.
		resp = tab.post(`mutation { refresh { accessToken refreshToken } }`, nil, "", true)
		expectOK(t, resp)
		var rotated authPayload
		resp.into(t, "refresh", &rotated)
		if rotated.RefreshToken != nil || rotated.AccessToken == "" {
			t.Fatalf("refresh in cookie mode: %s", resp.Body)
		}
		next := tab.cookie()
		if next == nil || next.Value == c.Value {
			t.Fatal("refresh did not rotate the cookie")
		}
		expectOK(t, s.me(t, rotated.AccessToken))

		// The old cookie value, replayed, is theft: the session dies.
		thief := s.browser(t, appOrigin)
		u, _ := url.Parse(s.http.URL + "/graphql")
		thief.client.Jar.SetCookies(u, []*http.Cookie{{Name: "keycard_refresh", Value: c.Value, Path: "/graphql"}})
		expectCode(t, thief.post(`mutation { refresh { accessToken } }`, nil, "", true), "UNAUTHENTICATED")
		expectCode(t, tab.post(`mutation { refresh { accessToken } }`, nil, "", true), "UNAUTHENTICATED")
	}, withEnv("KEYCARD_REFRESH_COOKIE", "on"), withEnv("KEYCARD_CORS_ORIGINS", appOrigin))
}

func TestCookieModeRefusesCrossSiteMutations(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_REFRESH_COOKIE", "on"), withEnv("KEYCARD_CORS_ORIGINS", appOrigin))
	tab := s.browser(t, appOrigin)
	resp := tab.post(registerMutation, map[string]any{"input": map[string]any{"username": "csrf_user", "password": "open-sesame-42"}}, "", true)
	expectOK(t, resp)
	hashes := s.app.Service().Stats().PasswordHashes

	// A cross-site page makes the browser send the cookie with a simple
	// request: no custom header. Refused before any resolver runs.
	resp = tab.post(`mutation { refresh { accessToken } }`, nil, "", false)
	expectCode(t, resp, "FORBIDDEN")
	if resp.Status != http.StatusForbidden {
		t.Fatalf("status %d", resp.Status)
	}
	// A page from an origin that is not allowed, even with the header.
	evil := s.browser(t, "https://evil.example.net")
	evil.client.Jar = tab.client.Jar
	expectCode(t, evil.post(`mutation { refresh { accessToken } }`, nil, "", true), "FORBIDDEN")
	expectCode(t, evil.post(loginMutation, map[string]any{"input": map[string]any{"username": "csrf_user", "password": "open-sesame-42"}}, "", true), "FORBIDDEN")
	if s.app.Service().Stats().PasswordHashes != hashes {
		t.Fatal("a refused mutation still ran its resolver")
	}
	// The session survived the attempts: the real page refreshes fine.
	expectOK(t, tab.post(`mutation { refresh { accessToken } }`, nil, "", true))
	// Apollo's header works as well as keycard's own.
	body := `{"query":"mutation { refresh { accessToken } }"}`
	req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Apollo-Require-Preflight", "true")
	httpResp, err := tab.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	httpResp.Body.Close()
	if httpResp.StatusCode != http.StatusOK {
		t.Fatalf("with apollo-require-preflight: %d", httpResp.StatusCode)
	}
}

func TestCookieModeLogoutClearsTheCookie(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_REFRESH_COOKIE", "on"), withEnv("KEYCARD_CORS_ORIGINS", appOrigin))
	tab := s.browser(t, appOrigin)
	resp := tab.post(registerMutation, map[string]any{"input": map[string]any{"username": "leaver", "password": "open-sesame-42"}}, "", true)
	var reg authPayload
	resp.into(t, "register", &reg)
	if tab.cookie() == nil {
		t.Fatal("no cookie after register")
	}
	resp = tab.post(logoutMutation, nil, reg.AccessToken, true)
	expectOK(t, resp)
	if c := setCookieHeader(t, resp); c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout did not clear the cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	if tab.cookie() != nil {
		t.Fatal("cookie still in the jar after logout")
	}
	expectCode(t, tab.post(`mutation { refresh { accessToken } }`, nil, "", true), "UNAUTHENTICATED")
}

// In production the refresh cookie is __Host-keycard_refresh: Secure,
// Path=/, no Domain, so a page on a sibling subdomain cannot plant one;
// and a keycard_refresh cookie (which such a page could plant) is ignored.
func TestProductionRefreshCookieIsHostPrefixed(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		tab := s.browser(t, "")
		resp := tab.post(registerMutation, map[string]any{"input": map[string]any{"username": "prod_user", "password": "open-sesame-42"}}, "", true)
		expectOK(t, resp)
		c := setCookieHeader(t, resp)
		if c == nil || c.Name != "__Host-keycard_refresh" || !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("production refresh cookie: %v", resp.Header.Values("Set-Cookie"))
		}
		// The browser sends it back over HTTPS only; the test's plain
		// HTTP client sends it by hand.
		send := func(name, value string) *response {
			body := strings.NewReader(`{"query":"mutation { refresh { accessToken } }"}`)
			req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Protection", "1")
			req.AddCookie(&http.Cookie{Name: name, Value: value})
			return s.send(t, req)
		}
		expectCode(t, send("keycard_refresh", c.Value), "UNAUTHENTICATED")
		resp = send("__Host-keycard_refresh", c.Value) // not consumed by the planted one
		expectOK(t, resp)
		if next := setCookieHeader(t, resp); next == nil || next.Name != "__Host-keycard_refresh" || next.Value == c.Value {
			t.Fatalf("rotated cookie: %v", resp.Header.Values("Set-Cookie"))
		}
	}, withEnv("KEYCARD_REFRESH_COOKIE", "on"), withEnv("KEYCARD_ENV", "production"))
}

func TestBodyModeIsTheDefault(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	resp := s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": "body_user", "password": "open-sesame-42"}})
	expectOK(t, resp)
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("cookie set outside cookie mode: %v", resp.Header.Values("Set-Cookie"))
	}
}
