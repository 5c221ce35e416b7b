package playground

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New().Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func fetch(t *testing.T, srv *httptest.Server, path string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without this the transport asks for gzip and undoes it silently.
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

var (
	scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	reference = regexp.MustCompile(`(?i)\b(?:src|href)="([^"]*)"`)
)

func TestPageIsServedWithAStrictPolicy(t *testing.T) {
	srv := newServer(t)
	page := fetch(t, srv, "/")
	if page.status != http.StatusOK || page.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %v", page.status, page.header)
	}
	if got := page.header.Get("Cache-Control"); got != "no-cache" {
		t.Fatalf("Cache-Control %q: the page must be revalidated to pick up new assets", got)
	}
	csp := page.header.Get("Content-Security-Policy")
	if csp != ContentSecurityPolicy {
		t.Fatalf("CSP %q", csp)
	}
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src": "'none'", "script-src": "'self'", "worker-src": "'self'", "connect-src": "'self'",
		"base-uri": "'none'", "form-action": "'none'", "frame-ancestors": "'none'",
	} {
		if directives[name] != want {
			t.Errorf("%s is %q, want %q", name, directives[name], want)
		}
	}
	if strings.Contains(csp, "http:") || strings.Contains(csp, "https:") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
		t.Errorf("CSP allows more than this origin: %q", csp)
	}
}

// What the policy would refuse must not be needed: no inline script, no
// handler attributes, nothing from another origin.
func TestPageHasNoInlineScriptAndNoRemoteReference(t *testing.T) {
	srv := newServer(t)
	html := string(fetch(t, srv, "/").body)
	scripts := scriptTag.FindAllStringSubmatch(html, -1)
	if len(scripts) == 0 {
		t.Fatalf("no script on the page:\n%s", html)
	}
	for _, s := range scripts {
		if strings.TrimSpace(s[2]) != "" || !strings.Contains(s[1], "src=") {
			t.Errorf("inline script: %s", s[0])
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(html) {
		t.Errorf("event handler attribute on the page:\n%s", html)
	}
	for _, ref := range reference.FindAllStringSubmatch(html, -1) {
		if url := ref[1]; strings.Contains(url, "//") || strings.HasPrefix(url, "/") && url != "/" {
			t.Errorf("reference %q is not relative to this origin and path", url)
		}
	}
}

func TestEveryAssetThePageNeedsIsServed(t *testing.T) {
	srv := newServer(t)
	html := string(fetch(t, srv, "/").body)
	var scripts []string
	for _, ref := range reference.FindAllStringSubmatch(html, -1) {
		url := ref[1]
		if strings.HasPrefix(url, "data:") {
			continue
		}
		asset := fetch(t, srv, "/"+url)
		if asset.status != http.StatusOK || len(asset.body) == 0 {
			t.Fatalf("%s: %d", url, asset.status)
		}
		if got := asset.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q for a content-hashed name", url, got)
		}
		if asset.header.Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", url, asset.header.Get("Content-Security-Policy"))
		}
		if strings.HasSuffix(url, ".js") {
			scripts = append(scripts, string(asset.body))
			if asset.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", url, asset.header.Get("Content-Type"))
			}
		}
	}
	if len(scripts) != 1 {
		t.Fatalf("want one entry script, got %d", len(scripts))
	}
	// The editor's workers, named by the entry script.
	workers := regexp.MustCompile(`"\./((?:editor|json|graphql)\.worker-[A-Z0-9]+\.js)"`).FindAllStringSubmatch(scripts[0], -1)
	if len(workers) != 3 {
		t.Fatalf("want the editor, json and graphql workers named in the entry script, got %v", workers)
	}
	for _, w := range workers {
		if got := fetch(t, srv, "/playground/"+w[1]); got.status != http.StatusOK || got.header.Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("worker %s: %d %v", w[1], got.status, got.header)
		}
	}
	// What ui/src puts in: the starting document, the headers template,
	// and the CSRF header for cookie mode.
	for _, want := range []string{"mutation Register($input: RegisterInput!)", "query Me", `"Authorization": "${`, "Bearer \\u2026", "X-CSRF-Protection"} {
		if !strings.Contains(scripts[0], want) {
			t.Errorf("entry script lacks %q", want)
		}
	}
}

func TestAssetsAreGzippedForClientsThatAsk(t *testing.T) {
	srv := newServer(t)
	html := string(fetch(t, srv, "/").body)
	var script string
	for _, ref := range reference.FindAllStringSubmatch(html, -1) {
		if strings.HasSuffix(ref[1], ".js") {
			script = "/" + ref[1]
		}
	}
	plain := fetch(t, srv, script)
	for range 2 { // the second answer comes from what the first compressed
		zipped := fetch(t, srv, script, "Accept-Encoding", "br, gzip")
		if zipped.header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("headers: %v", zipped.header)
		}
		if len(zipped.body) >= len(plain.body)/2 {
			t.Fatalf("gzip body is %d bytes of %d", len(zipped.body), len(plain.body))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.body) {
			t.Fatalf("gzip body does not decompress to the file (err %v)", err)
		}
	}
	if got := fetch(t, srv, script, "Accept-Encoding", "gzip;q=0"); got.header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip;q=0 got %q", got.header.Get("Content-Encoding"))
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{"/playground/", "/playground/nope.js", "/playground/index.html", "/index.html", "/playground/..%2findex.html", "/playground/%2e%2e"} {
		if got := fetch(t, srv, path); got.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, got.status)
		}
	}
}
