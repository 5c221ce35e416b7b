package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/graph"
	"github.com/keycard/keycard/oauth"
	"github.com/keycard/keycard/playground"
	"github.com/keycard/keycard/requestlog"
)

// MaxBodyBytes caps a request body; a GraphQL document or token request for
// keycard is a few hundred bytes, so 1 MiB is generous and bounds what one
// request can cost. Each face answers an oversized body in its own format.
const MaxBodyBytes = 1 << 20

func (a *App) routes() http.Handler {
	cookies := graph.CookieMode{
		Enabled:        a.cfg.RefreshCookie,
		Name:           graph.RefreshCookieName,
		MaxAge:         a.cfg.RefreshTTL,
		Path:           "/graphql",
		Secure:         a.secureCookie,
		AllowedOrigins: a.cfg.CORSOrigins,
	}
	if a.cfg.Mode == config.Production {
		// Secure, Path=/, no Domain: a sibling subdomain cannot plant it.
		cookies.Name, cookies.Path = graph.HostRefreshCookieName, "/"
	}
	gql := graph.NewHandler(a.service, graph.Options{
		Introspection: a.cfg.Introspection,
		QueryLimits:   graph.QueryLimits(a.cfg.GraphQL),
		Cookies:       cookies,
		Logger:        a.log,
	})
	mux := http.NewServeMux()
	mux.Handle("/graphql", deadline(limitGraphQLBody(auth.Middleware(a.authenticate)(gql))))
	if a.cfg.Playground {
		// Off in production unless asked for: a page that invites pasting
		// tokens has no place on a production origin by default.
		playground.New().Register(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.HandleFunc("GET /.well-known/jwks.json", a.jwks)
	oauthMux := http.NewServeMux()
	oauth.New(a.service, oauth.Options{
		Issuer:             a.cfg.Issuer,
		IntrospectionToken: a.cfg.IntrospectionToken,
		PublicURL:          a.cfg.PublicURL,
		MaxBodyBytes:       MaxBodyBytes,
	}).Register(oauthMux)
	mux.Handle("/oauth/", deadline(oauthMux))
	mux.Handle("GET /.well-known/oauth-authorization-server", oauthMux)
	clients := newClientAddresses(a.cfg.TrustedProxies, a.log)
	return requestlog.Middleware(a.securityHeaders(a.cors(clients.middleware(a.accessLog(mux)))))
}

// authenticate is the service's token check that also tells the request
// log whose request it is.
func (a *App) authenticate(ctx context.Context, header string) (*auth.Claims, error) {
	claims, err := a.service.Authenticate(ctx, header)
	if err == nil {
		requestlog.NoteUser(ctx, claims.UserID(), claims.SessionID)
	}
	return claims, err
}

// securityHeaders are the standard defensive headers for an API; the
// playground sets a policy of its own that lets its scripts run. In
// production, HSTS tells browsers to use HTTPS only (a TLS-terminating
// proxy in front is common, so it is sent whatever the local scheme).
func (a *App) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if a.cfg.Mode == config.Production {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// corsAllowHeaders are the request headers browser frontends send: JSON
// bodies, bearer tokens, request ids, and the CSRF headers of cookie mode.
const corsAllowHeaders = "Authorization, Content-Type, Accept, X-Request-Id, X-CSRF-Protection, Apollo-Require-Preflight, Apollographql-Client-Name, Apollographql-Client-Version"

// cors lets the listed browser origins call the API (credentials included,
// for cookie mode); any other origin gets no CORS headers, so the browser
// keeps the response from it.
func (a *App) cors(next http.Handler) http.Handler {
	allowed := make(map[string]bool, len(a.cfg.CORSOrigins))
	for _, o := range a.cfg.CORSOrigins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin == "" || !allowed[origin] {
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
		next.ServeHTTP(w, r)
	})
}

// viaHTTPS reports a trusted proxy saying the client used HTTPS.
func (a *App) viaHTTPS(r *http.Request) bool {
	peer, ok := peerAddr(r)
	return ok && isTrusted(peer, a.cfg.TrustedProxies) &&
		strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// secureCookie is true in production, and in development whenever the
// request came over HTTPS (directly, or via a trusted proxy that says so),
// so that local development over plain HTTP still gets its cookie.
func (a *App) secureCookie(r *http.Request) bool {
	return a.cfg.Mode == config.Production || r.TLS != nil || a.viaHTTPS(r)
}

// ready answers 200 only while the database answers, so a load balancer
// takes an instance that lost its database out of rotation.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// jwks publishes the public verification keys (empty with HS256), so
// resource servers verify tokens without calling keycard. Caches may keep it
// a few minutes: a new key is published before it signs (add it to
// KEYCARD_JWT_VERIFY_KEY_FILES first), so that delay is harmless.
func (a *App) jwks(w http.ResponseWriter, r *http.Request) {
	body, err := a.tokens.JWKS()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal server error"})
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requestDeadline bounds one GraphQL request, queueing for a password-hash
// slot and database waits included: past it, the client gets UNAVAILABLE
// rather than a hung connection.
const requestDeadline = 30 * time.Second

func deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestDeadline)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitGraphQLBody refuses bodies over MaxBodyBytes with a GraphQL error:
// at once when the declared length says so, else when reading passes the
// limit (graph's transport answers that one). /oauth/* caps its own bodies,
// answering in RFC 6749's format.
func limitGraphQLBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errors": []map[string]any{{
				"message":    "request body is too large",
				"extensions": map[string]string{"code": graph.CodeBadRequest},
			}}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// accessLog writes one line per request, with what the handler noted
// (operation, code), and feeds the request metrics. Only method, path,
// status and timing besides (and the ids requestlog.NewHandler adds:
// request, trace, user, session): never headers, query strings or bodies,
// which carry tokens and passwords. The duration is in seconds, a number,
// as log pipelines and Prometheus expect. Health probes log at debug level.
func (a *App) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, outcome := requestlog.WithOutcome(r.Context())
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		elapsed := time.Since(start)
		if outcome.Operation == "" {
			outcome.Operation = "http"
			outcome.Code = http.StatusText(rec.status)
		}
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/.well-known/jwks.json" {
			level = slog.LevelDebug
		}
		a.log.LogAttrs(ctx, level, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.String("operation", outcome.Operation),
			slog.String("code", outcome.Code),
			slog.Float64("duration_s", elapsed.Seconds()),
		)
		if a.metrics != nil {
			a.metrics.Request(outcome.Operation, outcome.Code, elapsed)
		}
	})
}
