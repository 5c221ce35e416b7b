package verify

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

type claimsKey struct{}

// ClaimsFrom returns the claims Middleware verified for this request.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// ContextWithClaims returns ctx carrying c as Middleware would, for tests
// of handlers and for faces that verify tokens by other means.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// Middleware lets a request through to next only with a valid bearer
// token, its claims in the request context (ClaimsFrom). It answers as RFC
// 6750 §3 says:
//
//   - no Authorization header, or another scheme: 401 with
//     "WWW-Authenticate: Bearer" (no error: the client did not try);
//   - a malformed header or more than one: 400, error="invalid_request";
//   - a bad, expired or revoked token, or a header over 8 KiB: 401,
//     error="invalid_token" (get a new token);
//   - a stale revocation feed or unreachable keys: 503 with Retry-After.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return v.middleware(next, false)
}

// OptionalMiddleware is Middleware for routes that also serve anonymous
// callers: a request without a bearer token passes with no claims in its
// context. A token that is presented must still verify; a bad one is
// refused, so the client learns to renew it instead of being served as
// anonymous.
func (v *Verifier) OptionalMiddleware(next http.Handler) http.Handler {
	return v.middleware(next, true)
}

func (v *Verifier) middleware(next http.Handler, anonymous bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		if len(values) > 1 {
			// Two credentials are ambiguous: proxies may pick either.
			refuse(w, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
			return
		}
		raw, found := "", false
		if len(values) == 1 {
			// Refused before any parsing, so a huge header costs nothing.
			if len(values[0]) > MaxTokenBytes {
				refuse(w, http.StatusUnauthorized, "invalid_token", "Authorization header too long")
				return
			}
			var malformed bool
			raw, found, malformed = bearer(values[0])
			if malformed {
				refuse(w, http.StatusBadRequest, "invalid_request", "malformed Authorization header")
				return
			}
		}
		if !found {
			if anonymous {
				next.ServeHTTP(w, r)
				return
			}
			refuse(w, http.StatusUnauthorized, "", "bearer token required")
			return
		}
		claims, err := v.Verify(r.Context(), raw)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), claims)))
		case errors.Is(err, ErrInvalidToken) && strings.ContainsAny(raw, " \t"):
			// Looked for only now: a verified token has no blanks, and
			// scanning every token for them would double the cost of
			// a cached one.
			refuse(w, http.StatusBadRequest, "invalid_request", "malformed Authorization header")
		case errors.Is(err, ErrFeedStale), errors.Is(err, ErrUnavailable):
			h := w.Header()
			h.Set("Retry-After", v.retryAfter)
			h.Set("Cache-Control", "no-store")
			http.Error(w, "cannot verify access tokens right now; retry later", http.StatusServiceUnavailable)
		case errors.Is(err, ErrRevoked):
			refuse(w, http.StatusUnauthorized, "invalid_token", "access token revoked")
		default:
			refuse(w, http.StatusUnauthorized, "invalid_token", "invalid access token")
		}
	})
}

// bearer takes the token out of an Authorization header value: found is
// false for another scheme, malformed true for "Bearer" without a token
// (RFC 6750 §2.1: "Bearer" 1*SP b64token).
func bearer(header string) (token string, found, malformed bool) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, false
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" {
		return "", false, true
	}
	return token, true, false
}

// refuse answers with an RFC 6750 challenge; code is empty when the
// client sent no bearer token at all.
func refuse(w http.ResponseWriter, status int, code, message string) {
	challenge := "Bearer"
	if code != "" {
		challenge = `Bearer error="` + code + `"`
	}
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Cache-Control", "no-store")
	http.Error(w, message, status)
}
