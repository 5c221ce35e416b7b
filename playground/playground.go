// Package playground serves keycard's GraphQL playground, GraphiQL, at
// GET / with its scripts, styles and editor workers under /playground/. The
// files are embedded in the binary (dist/, built by ui/build.mjs from the
// npm packages pinned in ui/package-lock.json; CI rebuilds them and checks
// they match byte for byte), so the page works with no network beyond
// keycard itself and loads nothing from a CDN. It imports only the standard
// library.
package playground

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// ContentSecurityPolicy is the page's CSP. Scripts, workers and requests
// go to this origin only: no inline or remote script can run, and nothing a
// script does can send a pasted token elsewhere. Styles may be inline
// because the editor (Monaco) writes <style> elements at run time; CSS
// cannot run script. Fonts and images include data: URLs, which is how
// GraphiQL's stylesheet carries its fonts and icons.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the playground.
type Handler struct {
	files fs.FS
	// gzipped holds, per file, its compression, made on first request and
	// kept: the editor's script is megabytes and compresses to a fraction.
	gzipped map[string]func() []byte
}

// New returns the playground's handler.
func New() *Handler {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed directive guarantees dist exists
	}
	h := &Handler{files: files, gzipped: map[string]func() []byte{}}
	_ = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			h.gzipped[name] = sync.OnceValue(func() []byte { return compress(files, name) })
		}
		return err
	})
	return h
}

// Register adds the page and its assets to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The page names the current assets: revalidated, so an upgrade shows.
		h.serve(w, r, "index.html", "no-cache")
	})
	mux.HandleFunc("GET /playground/{file}", func(w http.ResponseWriter, r *http.Request) {
		// Asset names carry a hash of their content.
		h.serve(w, r, "playground/"+r.PathValue("file"), "public, max-age=31536000, immutable")
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name, cacheControl string) {
	gzipped, ok := h.gzipped[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	header := w.Header()
	// Workers get their policy from their own response, so every file
	// carries it, not only the page.
	header.Set("Content-Security-Policy", ContentSecurityPolicy)
	header.Set("Content-Type", contentType(name))
	header.Set("Cache-Control", cacheControl)
	header.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		header.Set("Content-Encoding", "gzip")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(gzipped()))
		return
	}
	f, err := h.files.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, name, time.Time{}, f.(io.ReadSeeker))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func compress(files fs.FS, name string) []byte {
	body, err := fs.ReadFile(files, name)
	if err != nil {
		panic(err) // listed by WalkDir over the same embedded files
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes()
}
