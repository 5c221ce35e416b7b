package app_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/keycard/keycard/playground"
	"github.com/keycard/keycard/store/storetest"
)

// playgroundAnswer is the status of GET / and of the entry script it names
// (the script's path is read from a development server's page).
func playgroundAnswer(t *testing.T, s *server, script string) (page, asset int, csp string) {
	t.Helper()
	get := func(path string) *http.Response {
		resp, err := s.http.Client().Get(s.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := get("/")
	return resp.StatusCode, get(script).StatusCode, resp.Header.Get("Content-Security-Policy")
}

func TestPlaygroundIsOffInProductionUnlessEnabled(t *testing.T) {
	t.Parallel()
	dbURL := storetest.SQLiteURL(t)
	dev := startServer(t, dbURL)
	resp, err := dev.http.Client().Get(dev.http.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`src="(playground/main-[A-Z0-9]+\.js)"`).FindSubmatch(html)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("development GET /: %d\n%s", resp.StatusCode, html)
	}
	script := "/" + string(m[1])

	for _, tc := range []struct {
		name string
		env  []string
		on   bool
	}{
		{"development", nil, true},
		{"development, switched off", []string{"KEYCARD_PLAYGROUND", "off"}, false},
		{"production", []string{"KEYCARD_ENV", "production"}, false},
		{"production, switched on", []string{"KEYCARD_ENV", "production", "KEYCARD_PLAYGROUND", "on"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []serverOption
			for i := 0; i+1 < len(tc.env); i += 2 {
				opts = append(opts, withEnv(tc.env[i], tc.env[i+1]))
			}
			s := startServer(t, dbURL, opts...)
			page, asset, csp := playgroundAnswer(t, s, script)
			want := http.StatusNotFound
			if tc.on {
				want = http.StatusOK
			}
			if page != want || asset != want {
				t.Fatalf("GET / %d, GET %s %d; want %d", page, script, asset, want)
			}
			// Off, the path is an API 404 under the API's own policy.
			wantCSP := "default-src 'none'; frame-ancestors 'none'"
			if tc.on {
				wantCSP = playground.ContentSecurityPolicy
			}
			if csp != wantCSP {
				t.Fatalf("CSP %q, want %q", csp, wantCSP)
			}
			if !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Fatal("the page may be framed")
			}
		})
	}
}
