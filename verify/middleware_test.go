package verify_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keycard/keycard/verify"
)

// protected serves h behind mw and reports the claims next saw.
func protected(mw func(http.Handler) http.Handler) (http.Handler, *[]*verify.Claims) {
	var seen []*verify.Claims
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFrom(r.Context())
		seen = append(seen, c)
		w.WriteHeader(http.StatusNoContent)
	})), &seen
}

func serve(h http.Handler, authorization ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestMiddlewareAnswersPerRFC6750(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	valid := iss.Token(t)
	revokedClaims := iss.Claims()
	revoked := iss.Sign(t, revokedClaims)
	iss.WaitPoll(t, iss.RevokeSession(revokedClaims["sid"].(string), verify.TestUser, iss.Clock.Now().Add(15*time.Minute)), time.Second)
	expired := iss.Sign(t, func() jwt.MapClaims {
		c := iss.Claims()
		c["exp"] = iss.Clock.Now().Add(-time.Minute).Unix()
		return c
	}())
	huge := "Bearer " + strings.Repeat("a", verify.MaxTokenBytes)

	tests := []struct {
		name          string
		authorization []string
		status        int
		challenge     string // WWW-Authenticate
	}{
		{"valid token", []string{"Bearer " + valid}, http.StatusNoContent, ""},
		{"scheme in lower case", []string{"bearer " + valid}, http.StatusNoContent, ""},
		{"several spaces", []string{"Bearer   " + valid}, http.StatusNoContent, ""},
		{"no header", nil, http.StatusUnauthorized, "Bearer"},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, http.StatusUnauthorized, "Bearer"},
		{"Bearer without a token", []string{"Bearer"}, http.StatusBadRequest, `Bearer error="invalid_request"`},
		{"Bearer with two tokens", []string{"Bearer " + valid + " " + valid}, http.StatusBadRequest, `Bearer error="invalid_request"`},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, http.StatusBadRequest, `Bearer error="invalid_request"`},
		{"forged token", []string{"Bearer " + valid[:len(valid)-4] + "AAAA"}, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"expired token", []string{"Bearer " + expired}, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"revoked token", []string{"Bearer " + revoked}, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"header over 8 KiB", []string{huge}, http.StatusUnauthorized, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, seen := protected(v.Middleware)
			w := serve(h, tt.authorization...)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status != http.StatusNoContent {
				if len(*seen) != 0 {
					t.Error("the handler ran")
				}
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
				}
				return
			}
			want, err := v.Verify(ctx, valid)
			if err != nil || len(*seen) != 1 || (*seen)[0] != want {
				t.Errorf("handler saw %v, want the claims of Verify (%v)", *seen, err)
			}
		})
	}
}

// TestMiddlewareCapsTheHeaderAt8KiB: a token of up to 8 KiB verifies, but
// an Authorization header over 8 KiB is refused before any parsing, even
// when the token in it would verify.
func TestMiddlewareCapsTheHeaderAt8KiB(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	var raw string
	for pad := verify.MaxTokenBytes / 2; ; pad++ {
		c := iss.Claims()
		c["padding"] = strings.Repeat("p", pad)
		raw = iss.Sign(t, c)
		if len(raw) > verify.MaxTokenBytes-len("Bearer ") {
			break
		}
	}
	if len(raw) > verify.MaxTokenBytes {
		t.Fatalf("no token just under 8 KiB (%d bytes)", len(raw))
	}
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("a %d-byte token: %v", len(raw), err)
	}
	h, seen := protected(v.Middleware)
	w := serve(h, "Bearer "+raw)
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` || len(*seen) != 0 {
		t.Fatalf("a %d-byte header: status %d, %q", len("Bearer "+raw), w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

func TestMiddlewareAnswers503WhileFeedIsStale(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	raw := iss.Token(t)
	h, _ := protected(v.Middleware)

	iss.SetFeedStatus(http.StatusBadGateway)
	iss.WaitFailedPolls(t, 1, 5*time.Second)
	iss.Clock.Advance(11 * time.Second)
	w := serve(h, "Bearer "+raw)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "5" {
		t.Fatalf("status %d, Retry-After %q; want 503 and 5", w.Code, w.Header().Get("Retry-After"))
	}
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("a 503 challenges for credentials: %q", w.Header().Get("WWW-Authenticate"))
	}
	// A bad token is still a bad token, whatever the feed does.
	if w := serve(h, "Bearer "+raw+"x"); w.Code != http.StatusUnauthorized {
		t.Errorf("bad token while stale: status %d", w.Code)
	}
}

func TestMiddlewareAnswers503WhileKeysAreUnreachable(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, func(o *verify.Options) { o.Credential = "" })
	iss.UseKey(iss.AddKey(t, verify.EdDSA))
	iss.SetJWKSStatus(http.StatusInternalServerError)
	iss.Clock.Advance(10 * time.Second)
	h, _ := protected(v.Middleware)
	w := serve(h, "Bearer "+iss.Token(t))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "10" {
		t.Fatalf("status %d, Retry-After %q; want 503 and 10", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestOptionalMiddlewareLetsAnonymousThrough(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	valid := iss.Token(t)
	tests := []struct {
		name          string
		authorization []string
		status        int
		claims        bool
	}{
		{"no header", nil, http.StatusNoContent, false},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, http.StatusNoContent, false},
		{"valid token", []string{"Bearer " + valid}, http.StatusNoContent, true},
		{"bad token", []string{"Bearer " + valid + "x"}, http.StatusUnauthorized, false},
		{"malformed header", []string{"Bearer"}, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, seen := protected(v.OptionalMiddleware)
			w := serve(h, tt.authorization...)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == http.StatusNoContent && (len(*seen) != 1 || ((*seen)[0] != nil) != tt.claims) {
				t.Errorf("handler saw %v, want claims: %v", *seen, tt.claims)
			}
		})
	}
}

func TestClaimsFrom(t *testing.T) {
	if c, ok := verify.ClaimsFrom(ctx); ok || c != nil {
		t.Errorf("bare context: %v, %v", c, ok)
	}
	if c, ok := verify.ClaimsFrom(verify.ContextWithClaims(ctx, nil)); ok || c != nil {
		t.Errorf("nil claims: %v, %v", c, ok)
	}
	want := &verify.Claims{SessionID: "s"}
	if c, ok := verify.ClaimsFrom(verify.ContextWithClaims(ctx, want)); !ok || c != want {
		t.Errorf("got %v, %v", c, ok)
	}
}
