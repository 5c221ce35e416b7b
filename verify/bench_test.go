package verify

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchVerifier returns a verifier of iss's tokens and a token it has
// seen; with feed, it follows the feed and holds revoked session entries
// besides (the clock stands still, so the feed never goes stale).
func benchVerifier(b *testing.B, feed bool, revoked int) (*Verifier, string) {
	b.Helper()
	iss := NewTestIssuer(b)
	v := iss.Verifier(b, func(o *Options) {
		if !feed {
			o.Credential = ""
		}
	})
	far := iss.Clock.Now().Unix() + 3600
	for range revoked {
		v.feed.revocations.add(keyOf(revokedSession, NewTestID()), revocation{exp: far})
	}
	raw := iss.Token(b)
	if _, err := v.Verify(testCtx, raw); err != nil {
		b.Fatal(err)
	}
	return v, raw
}

// BenchmarkVerifyCached is Verify of a token seen before: the common case,
// as a client sends the same token with every request until it expires.
func BenchmarkVerifyCached(b *testing.B) {
	for _, bc := range []struct {
		name    string
		feed    bool
		revoked int
	}{
		{"offline", false, 0},
		{"feed", true, 0},
		{"feed_1M_revoked", true, 1_000_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v, raw := benchVerifier(b, bc.feed, bc.revoked)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(testCtx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyFirstUse is the full verification (EdDSA signature and
// claims) a token gets the first time this process sees it.
func BenchmarkVerifyFirstUse(b *testing.B) {
	v, raw := benchVerifier(b, false, 0)
	set := v.keys.current.Load()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.parse(testCtx, raw, set); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddleware is the whole per-request cost a handler behind
// Middleware pays: the header, Verify of a seen token with 1,000,000
// revoked sessions held, and the claims put in the request context.
// keycard's own auth.BenchmarkMiddleware measures the same.
func BenchmarkMiddleware(b *testing.B) {
	v, raw := benchVerifier(b, true, 1_000_000)
	var seen *Claims
	handler := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = ClaimsFrom(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		handler.ServeHTTP(w, req)
		if seen == nil {
			b.Fatal("no claims in context")
		}
	}
}
