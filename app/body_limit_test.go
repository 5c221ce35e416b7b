package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/store/storetest"
)

// oversizedRequest posts body to path, either with its length declared
// (refused before reading) or chunked (refused when reading passes the
// cap), and decodes the JSON answer.
func oversizedRequest(t *testing.T, s *server, path, contentType, body string, chunked bool, header http.Header) (int, http.Header, map[string]any) {
	t.Helper()
	var reader io.Reader = strings.NewReader(body)
	if chunked {
		// A reader of unknown length makes the client send chunked.
		reader = io.MultiReader(reader)
	}
	req, err := http.NewRequest(http.MethodPost, s.http.URL+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.http.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatalf("POST %s: %d, not JSON: %s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, decoded
}

// The body cap does not depend on the database: one run on SQLite.
func TestOversizedGraphQLBodyGetsGraphQLError(t *testing.T) {
	s := startServer(t, storetest.SQLiteURL(t))
	body := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", app.MaxBodyBytes) + `"}}`
	for _, chunked := range []bool{false, true} {
		status, _, answer := oversizedRequest(t, s, "/graphql", "application/json", body, chunked, nil)
		errs, _ := answer["errors"].([]any)
		if status != http.StatusRequestEntityTooLarge || len(errs) != 1 {
			t.Fatalf("chunked=%v: %d %v, want 413 with one GraphQL error", chunked, status, answer)
		}
		ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
		if ext["code"] != "BAD_REQUEST" {
			t.Errorf("chunked=%v: extensions %v, want code BAD_REQUEST", chunked, ext)
		}
		if _, ok := answer["error"]; ok {
			t.Errorf("chunked=%v: GraphQL answer carries an OAuth error member: %v", chunked, answer)
		}
	}
}

// OAuth clients parse RFC 6749 §5.2 errors, not GraphQL's: an oversized
// body on /oauth/* is invalid_request, with status 413.
func TestOversizedOAuthBodyGetsRFC6749Error(t *testing.T) {
	s := startServer(t, storetest.SQLiteURL(t), withEnv("KEYCARD_INTROSPECTION_TOKEN", introspectionSecret))
	pad := strings.Repeat("x", app.MaxBodyBytes)
	form := "application/x-www-form-urlencoded"
	introspector := http.Header{"Authorization": {"Bearer " + introspectionSecret}}
	tests := []struct {
		name, path, contentType, body string
		header                        http.Header
	}{
		{"token form", "/oauth/token", form, "grant_type=password&username=olga&password=" + pad, nil},
		{"token JSON", "/oauth/token", "application/json", `{"grant_type":"password","username":"olga","password":"` + pad + `"}`, nil},
		{"revoke", "/oauth/revoke", form, "token=" + pad, nil},
		{"introspect", "/oauth/introspect", form, "token=" + pad, introspector},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			name := tt.name + " declared length"
			if chunked {
				name = tt.name + " chunked"
			}
			t.Run(name, func(t *testing.T) {
				status, header, answer := oversizedRequest(t, s, tt.path, tt.contentType, tt.body, chunked, tt.header)
				if status != http.StatusRequestEntityTooLarge || answer["error"] != "invalid_request" {
					t.Fatalf("%d %v, want 413 invalid_request", status, answer)
				}
				if d, _ := answer["error_description"].(string); !strings.Contains(d, "too large") {
					t.Errorf("error_description %q does not say the body is too large", d)
				}
				if _, ok := answer["errors"]; ok {
					t.Errorf("OAuth answer is GraphQL-shaped: %v", answer)
				}
				if header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", header.Get("Cache-Control"))
				}
			})
		}
	}
	// Control: a token request of ordinary size still reaches the service.
	if status, _, answer := oversizedRequest(t, s, "/oauth/token", form, "grant_type=password&username=olga&password=wrong-password", true, nil); status != http.StatusBadRequest || answer["error"] != "invalid_grant" {
		t.Fatalf("ordinary request: %d %v, want 400 invalid_grant", status, answer)
	}
}
