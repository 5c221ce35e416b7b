package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkVerifyFirstUse is the full golang-jwt verification a token gets
// the first time this process sees it.
func BenchmarkVerifyFirstUse(b *testing.B) {
	f := newTokenFixture(b)
	raw, _, err := f.tokens.Issue(testUserID, testSession, []string{"admin"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.tokens.parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is Verify of a token seen before: the common case, since a
// client sends the same token with every request until it expires.
func BenchmarkVerify(b *testing.B) {
	f := newTokenFixture(b)
	raw, _, err := f.tokens.Issue(testUserID, testSession, []string{"admin"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.tokens.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is the per-request cost of a bearer token: header
// checks, Verify and the revocation look-up. The sizes show that the look-up
// does not grow with the list.
func BenchmarkAuthenticate(b *testing.B) {
	for _, revoked := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("revoked=%d", revoked), func(b *testing.B) {
			f := newTokenFixture(b)
			revocations := NewRevocations(f.clock.Now, time.Hour, nil)
			if err := revocations.Sync(context.Background(), &revocationLog{}); err != nil {
				b.Fatal(err)
			}
			until := f.clock.Now().Add(time.Hour)
			for range revoked {
				revocations.Add(uuid.NewString(), until)
			}
			if revocations.Len() != revoked {
				b.Fatalf("Len = %d, want %d", revocations.Len(), revoked)
			}
			// Authenticate uses neither the store nor the password hasher.
			service, err := NewService(nil, nil, f.tokens, revocations, NewUserCache(), Options{RefreshTTL: 720 * time.Hour, Now: f.clock.Now})
			if err != nil {
				b.Fatal(err)
			}
			raw, _, err := f.tokens.Issue(testUserID, testSession, []string{"admin"})
			if err != nil {
				b.Fatal(err)
			}
			header := "Bearer " + raw
			b.ReportAllocs()
			for b.Loop() {
				if _, err := service.Authenticate(context.Background(), header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHMACFloor is HMAC-SHA256 alone over a token's signing input: no
// verifier can be cheaper. golang-jwt keys a fresh HMAC per token, so
// "new key" is the like-for-like floor; "reset" is what caching the keyed
// state would leave.
func BenchmarkHMACFloor(b *testing.B) {
	f := newTokenFixture(b)
	raw, _, err := f.tokens.Issue(testUserID, testSession, []string{"admin"})
	if err != nil {
		b.Fatal(err)
	}
	signingInput := []byte(raw[:strings.LastIndexByte(raw, '.')])
	sum := make([]byte, 0, sha256.Size)

	b.Run("new key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mac := hmac.New(sha256.New, testSecret)
			mac.Write(signingInput)
			sum = mac.Sum(sum[:0])
		}
	})
	b.Run("reset", func(b *testing.B) {
		mac := hmac.New(sha256.New, testSecret)
		b.ReportAllocs()
		for b.Loop() {
			mac.Reset()
			mac.Write(signingInput)
			sum = mac.Sum(sum[:0])
		}
	})
}

// BenchmarkArgon2OWASP is the cost of one password hash with the production
// parameters: the unit of login throughput (cores ÷ this = the ceiling).
func BenchmarkArgon2OWASP(b *testing.B) {
	p, err := NewPasswords(OWASPParams(), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddleware is the whole per-request auth cost an HTTP handler
// pays: reading the header, Authenticate (with 1,000,000 revoked entries
// held), and putting the claims in the request context.
func BenchmarkMiddleware(b *testing.B) {
	f := newTokenFixture(b)
	revocations := NewRevocations(f.clock.Now, time.Hour, nil)
	if err := revocations.Sync(context.Background(), &revocationLog{}); err != nil {
		b.Fatal(err)
	}
	until := f.clock.Now().Add(time.Hour)
	for range 1_000_000 {
		revocations.Add(uuid.NewString(), until)
	}
	service, err := NewService(nil, nil, f.tokens, revocations, NewUserCache(), Options{RefreshTTL: 720 * time.Hour, Now: f.clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	raw, _, err := f.tokens.Issue(testUserID, testSession, []string{"admin"})
	if err != nil {
		b.Fatal(err)
	}
	var seen *Claims
	handler := Middleware(service.Authenticate)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = ForContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
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
