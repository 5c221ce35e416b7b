// Package oauth is keycard's second face, for clients that do not speak
// GraphQL: the OAuth 2.0 token endpoint (RFC 6749: password and
// refresh_token grants), token revocation (RFC 7009), token introspection
// for resource servers (RFC 7662) and authorization server metadata
// (RFC 8414). It only translates HTTP to calls of the auth service; every
// decision (rate limits, rotation, reuse detection) is the service's, and
// every refusal, an oversized body included, is answered in RFC 6749's own
// error format. It imports auth (the service and its errors) and requestlog
// (to note each answer for the access log and metrics), nothing else of
// keycard.
package oauth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/requestlog"
)

// Options configure the OAuth endpoints.
type Options struct {
	// Issuer is the "iss" of tokens and of the metadata document.
	Issuer string
	// IntrospectionToken guards the introspection endpoint; empty
	// disables it.
	IntrospectionToken string
	// PublicURL is the base of the metadata document's endpoint URLs.
	// It is configured, never taken from a request: the Host header is
	// the client's to choose, and the document is publicly cacheable.
	PublicURL string
	// MaxBodyBytes caps a request body (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes is far more than any token request needs.
const DefaultMaxBodyBytes = 1 << 20

// Handler serves the OAuth endpoints.
type Handler struct {
	svc  *auth.Service
	opts Options
}

// New returns the OAuth endpoints of svc.
func New(svc *auth.Service, opts Options) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Handler{svc: svc, opts: opts}
}

// Register adds the endpoints to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/oauth/token", h.limitBody(h.token))
	mux.Handle("/oauth/revoke", h.limitBody(h.revoke))
	mux.Handle("/oauth/introspect", h.limitBody(h.introspect))
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", h.metadata)
}

// limitBody refuses a body over MaxBodyBytes: at once when the declared
// length says so, else when reading passes the limit (see params), so one
// request cannot make keycard read or buffer an unbounded body.
func (h *Handler) limitBody(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > h.opts.MaxBodyBytes {
			// The unread body would otherwise be drained for keep-alive.
			w.Header().Set("Connection", "close")
			fail(w, r, http.StatusRequestEntityTooLarge, errInvalidRequest, msgTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
		next(w, r)
	})
}

const msgTooLarge = "request body is too large"

// Error codes of RFC 6749 §5.2, and the ones keycard adds for its own
// conditions.
const (
	errInvalidRequest       = "invalid_request"
	errInvalidGrant         = "invalid_grant"
	errUnsupportedGrantType = "unsupported_grant_type"
	errRateLimited          = "rate_limited"
	errUnavailable          = "temporarily_unavailable"
	errServer               = "server_error"
)

// oauthError is the JSON error body of RFC 6749 §5.2.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	RetryAfter  int    `json:"retry_after,omitempty"`
}

// noStore marks a response that carries or concerns tokens (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// endpoint names the OAuth endpoint of r for logs and metrics.
func endpoint(r *http.Request) string {
	return "oauth." + strings.TrimPrefix(r.URL.Path, "/oauth/")
}

// succeed notes a successful answer for logs and metrics.
func succeed(r *http.Request) { requestlog.Note(r.Context(), endpoint(r), "OK") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	requestlog.Note(r.Context(), endpoint(r), code)
	noStore(w)
	writeJSON(w, status, oauthError{Error: code, Description: description})
}

// failWith maps a service error to its OAuth answer: the one place this
// face turns domain error kinds into protocol errors.
func failWith(w http.ResponseWriter, r *http.Request, err error) {
	var domain *auth.Error
	if !errors.As(err, &domain) {
		domain = auth.Internal(err)
	}
	switch domain.Kind {
	case auth.KindUnauthenticated:
		fail(w, r, http.StatusBadRequest, errInvalidGrant, domain.Message)
	case auth.KindInvalidInput, auth.KindConflict:
		fail(w, r, http.StatusBadRequest, errInvalidRequest, domain.Message)
	case auth.KindRateLimited:
		seconds := int(math.Ceil(domain.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		requestlog.Note(r.Context(), endpoint(r), errRateLimited)
		noStore(w)
		writeJSON(w, http.StatusTooManyRequests, oauthError{Error: errRateLimited, Description: domain.Message, RetryAfter: seconds})
	case auth.KindUnavailable:
		w.Header().Set("Retry-After", "1")
		fail(w, r, http.StatusServiceUnavailable, errUnavailable, domain.Message)
	default:
		fail(w, r, http.StatusInternalServerError, errServer, "internal server error")
	}
}

// badRequest is why params refused a request, and the status to answer.
type badRequest struct {
	status      int
	description string
}

// params reads the request parameters: form-encoded as RFC 6749 prescribes,
// or a JSON object of strings. A parameter given twice is refused
// (RFC 6749 §3.2).
func params(r *http.Request) (map[string]string, *badRequest) {
	if r.Method != http.MethodPost {
		return nil, &badRequest{http.StatusBadRequest, "use POST"}
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, unreadable(err, "malformed form body")
		}
		for key, values := range r.PostForm {
			if len(values) > 1 {
				return nil, &badRequest{http.StatusBadRequest, "parameter " + key + " is repeated"}
			}
			out[key] = values[0]
		}
	case "application/json":
		var raw map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, unreadable(err, "malformed JSON body")
		}
		for key, value := range raw {
			s, ok := value.(string)
			if !ok {
				return nil, &badRequest{http.StatusBadRequest, "parameter " + key + " must be a string"}
			}
			out[key] = s
		}
	default:
		return nil, &badRequest{http.StatusBadRequest, "Content-Type must be application/x-www-form-urlencoded or application/json"}
	}
	return out, nil
}

// unreadable tells a body that passed the size cap (413) from one that is
// malformed (400).
func unreadable(err error, malformed string) *badRequest {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &badRequest{http.StatusRequestEntityTooLarge, msgTooLarge}
	}
	return &badRequest{http.StatusBadRequest, malformed}
}

// tokenResponse is the success body of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	p, bad := params(r)
	if bad != nil {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			bad.status = http.StatusMethodNotAllowed
		}
		fail(w, r, bad.status, errInvalidRequest, bad.description)
		return
	}
	client := auth.ClientFrom(r.Context())
	var grant *auth.Grant
	var err error
	switch p["grant_type"] {
	case "":
		fail(w, r, http.StatusBadRequest, errInvalidRequest, "grant_type is required")
		return
	case "password":
		if p["username"] == "" || p["password"] == "" {
			fail(w, r, http.StatusBadRequest, errInvalidRequest, "username and password are required")
			return
		}
		grant, err = h.svc.Login(r.Context(), p["username"], p["password"], client)
	case "refresh_token":
		if p["refresh_token"] == "" {
			fail(w, r, http.StatusBadRequest, errInvalidRequest, "refresh_token is required")
			return
		}
		grant, err = h.svc.Refresh(r.Context(), p["refresh_token"], client)
	default:
		fail(w, r, http.StatusBadRequest, errUnsupportedGrantType, "grant_type must be password or refresh_token")
		return
	}
	if err != nil {
		failWith(w, r, err)
		return
	}
	requestlog.NoteUser(r.Context(), grant.User.ID, grant.Session.ID)
	succeed(r)
	noStore(w)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  grant.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    int(grant.ExpiresIn / time.Second),
		RefreshToken: grant.RefreshToken,
	})
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	p, bad := params(r)
	if bad != nil {
		fail(w, r, bad.status, errInvalidRequest, bad.description)
		return
	}
	if p["token"] == "" {
		fail(w, r, http.StatusBadRequest, errInvalidRequest, "token is required")
		return
	}
	if err := h.svc.RevokeToken(r.Context(), p["token"], p["token_type_hint"], auth.ClientFrom(r.Context())); err != nil {
		failWith(w, r, err)
		return
	}
	// RFC 7009 §2.2: 200 whether or not the token was valid.
	succeed(r)
	noStore(w)
	w.WriteHeader(http.StatusOK)
}

// introspection is the body of RFC 7662 §2.2.
type introspection struct {
	Active    bool     `json:"active"`
	Sub       string   `json:"sub,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Sid       string   `json:"sid,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	if h.opts.IntrospectionToken == "" {
		http.NotFound(w, r)
		return
	}
	// The caller is a resource server holding the shared introspection
	// token; compared in constant time.
	presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(presented), []byte(h.opts.IntrospectionToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keycard introspection"`)
		fail(w, r, http.StatusUnauthorized, "invalid_client", "introspection requires the introspection bearer token")
		return
	}
	p, bad := params(r)
	if bad == nil && p["token"] == "" {
		bad = &badRequest{http.StatusBadRequest, "token is required"}
	}
	if bad != nil {
		fail(w, r, bad.status, errInvalidRequest, bad.description)
		return
	}
	claims, user, err := h.svc.Introspect(r.Context(), p["token"])
	if err == nil || errors.Is(err, auth.ErrInvalidToken) {
		succeed(r)
	}
	noStore(w)
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	case err != nil:
		failWith(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, introspection{
		Active:    true,
		Sub:       claims.Subject,
		Username:  user.Username,
		TokenType: "Bearer",
		Exp:       claims.ExpiresAt.Unix(),
		Iat:       claims.IssuedAt.Unix(),
		Nbf:       claims.NotBefore.Unix(),
		Jti:       claims.ID,
		Iss:       claims.Issuer,
		Aud:       claims.Audience,
		Sid:       claims.SessionID,
		// The user's roles now, not the token's claim: a role revoked
		// since the token was issued is not vouched for.
		Roles: user.Roles,
	})
}

// metadata is the RFC 8414 document: where the endpoints are and what they
// support.
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	base := h.opts.PublicURL
	doc := map[string]any{
		"issuer":                                     h.opts.Issuer,
		"token_endpoint":                             base + "/oauth/token",
		"revocation_endpoint":                        base + "/oauth/revoke",
		"jwks_uri":                                   base + "/.well-known/jwks.json",
		"grant_types_supported":                      []string{"password", "refresh_token"},
		"response_types_supported":                   []string{},
		"token_endpoint_auth_methods_supported":      []string{"none"},
		"revocation_endpoint_auth_methods_supported": []string{"none"},
	}
	if h.opts.IntrospectionToken != "" {
		doc["introspection_endpoint"] = base + "/oauth/introspect"
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, doc)
}
