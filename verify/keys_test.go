package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testCtx = context.Background()

// offline makes a verifier that does not follow the feed, for tests that
// move the clock further than the feed could stay fresh.
func offline(o *Options) { o.Credential = "" }

func mustVerify(t *testing.T, v *Verifier, raw string) {
	t.Helper()
	if _, err := v.Verify(testCtx, raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func mustRefuse(t *testing.T, v *Verifier, raw string, kind error) {
	t.Helper()
	if _, err := v.Verify(testCtx, raw); !errors.Is(err, kind) {
		t.Fatalf("Verify = %v, want %v", err, kind)
	}
}

func TestKeyRotationIsPickedUpByUnknownKidRefetch(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, offline)
	before := iss.Token(t)
	mustVerify(t, v, before)

	rotated := iss.AddKey(t, EdDSA)
	iss.UseKey(rotated)
	after := iss.Token(t)
	// The JWKS was fetched at start-up, under MinRefetchInterval ago.
	mustRefuse(t, v, after, ErrInvalidToken)
	if n := iss.JWKSRequests(); n != 1 {
		t.Fatalf("%d JWKS requests within MinRefetchInterval of the first, want 1", n)
	}

	iss.Clock.Advance(defaultMinRefetchInterval)
	mustVerify(t, v, after)
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests, want 2", n)
	}
	// The old key is still published: its tokens live on.
	mustVerify(t, v, before)
	mustVerify(t, v, iss.SignWith(t, "eddsa-1", nil, iss.Claims()))
	if n := iss.JWKSRequests(); n != 2 {
		t.Errorf("%d JWKS requests for known keys, want 2", n)
	}
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, func(o *Options) {
		o.Credential = ""
		o.MinRefetchInterval = time.Minute
	})
	attacker := newTestEd25519(t)
	forge := func() string {
		return SignTestToken(t, jwt.SigningMethodEdDSA, attacker, map[string]any{"typ": AccessTokenType, "kid": NewTestID()}, iss.Claims())
	}
	iss.Clock.Advance(time.Minute)
	// A flood of made-up kids, all at once: one fetch between them.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := v.Verify(testCtx, forge()); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("forged kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests after the flood, want 2 (start-up and one refetch)", n)
	}
	iss.Clock.Advance(time.Minute - time.Second)
	mustRefuse(t, v, forge(), ErrInvalidToken)
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests within the interval, want 2", n)
	}
	iss.Clock.Advance(time.Second)
	mustRefuse(t, v, forge(), ErrInvalidToken)
	if n := iss.JWKSRequests(); n != 3 {
		t.Fatalf("%d JWKS requests once the interval passed, want 3", n)
	}
}

func TestJWKSIsCachedForMaxAgeAndWithdrawnKeysStopVerifying(t *testing.T) {
	iss := NewTestIssuer(t)
	iss.SetJWKSCacheControl("public, max-age=120")
	v := iss.Verifier(t, offline)
	withdrawn := iss.SigningKID()
	cached := iss.Token(t)
	mustVerify(t, v, cached)

	iss.RemoveKey(withdrawn)
	next := iss.AddKey(t, EdDSA)
	iss.Clock.Advance(119 * time.Second)
	// Within max-age the keys fetched stand: cached and new tokens of
	// the withdrawn key pass, with no fetch.
	mustVerify(t, v, cached)
	mustVerify(t, v, iss.Token(t))
	if n := iss.JWKSRequests(); n != 1 {
		t.Fatalf("%d JWKS requests within max-age, want 1", n)
	}

	iss.Clock.Advance(time.Second)
	// max-age ran out: the next Verify refetches, and the withdrawn key's
	// tokens stop verifying, from the cache too.
	mustRefuse(t, v, cached, ErrInvalidToken)
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests after max-age, want 2", n)
	}
	iss.UseKey(next)
	mustVerify(t, v, iss.Token(t))
	if n := iss.JWKSRequests(); n != 2 {
		t.Errorf("%d JWKS requests, want 2: the new key came with the refresh", n)
	}
}

func TestFailedJWKSRefreshKeepsLastGoodKeys(t *testing.T) {
	iss := NewTestIssuer(t)
	iss.SetJWKSCacheControl("max-age=60")
	v := iss.Verifier(t, offline)
	raw := iss.Token(t)
	mustVerify(t, v, raw)

	iss.SetJWKSStatus(http.StatusServiceUnavailable)
	iss.Clock.Advance(time.Minute)
	mustVerify(t, v, raw)
	mustVerify(t, v, iss.Token(t))
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests, want 2", n)
	}
	// Retried once per MinRefetchInterval, not on every request.
	iss.Clock.Advance(defaultMinRefetchInterval - time.Second)
	mustVerify(t, v, raw)
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests before the retry is due, want 2", n)
	}
	// An unknown kid while the JWKS is down cannot be told from a
	// forgery: unavailable, not invalid.
	iss.UseKey(iss.AddKey(t, EdDSA))
	iss.Clock.Advance(time.Second)
	mustRefuse(t, v, iss.Token(t), ErrUnavailable)
	if n := iss.JWKSRequests(); n != 3 {
		t.Fatalf("%d JWKS requests, want 3", n)
	}

	iss.SetJWKSStatus(0)
	iss.Clock.Advance(defaultMinRefetchInterval)
	mustVerify(t, v, iss.Token(t))
	if n := iss.JWKSRequests(); n != 4 {
		t.Fatalf("%d JWKS requests, want 4", n)
	}
}

func TestCacheLifetime(t *testing.T) {
	tests := []struct {
		cacheControl, age string
		want              time.Duration
	}{
		{"", "", defaultKeysTTL},
		{"public, max-age=300", "", 5 * time.Minute},
		{"max-age=120", "", 2 * time.Minute},
		{"MAX-AGE=60", "", time.Minute},
		{`max-age="90"`, "", 90 * time.Second},
		{"max-age=300", "250", 50 * time.Second},
		{"max-age=300", "400", minKeysTTL},
		{"max-age=100, max-age=50", "", 50 * time.Second},
		{"max-age=0", "", minKeysTTL},
		{"max-age=5", "", minKeysTTL},
		{"no-cache", "", minKeysTTL},
		{"public, max-age=300, no-store", "", minKeysTTL},
		{"max-age=86400", "", maxKeysTTL},
		{"max-age=99999999999999999999999", "", maxKeysTTL},
		{"max-age=-5", "", defaultKeysTTL},
		{"max-age=soon", "", defaultKeysTTL},
		{"s-maxage=10", "", defaultKeysTTL},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.cacheControl != "" {
			h.Set("Cache-Control", tt.cacheControl)
		}
		if tt.age != "" {
			h.Set("Age", tt.age)
		}
		if got := cacheLifetime(h); got != tt.want {
			t.Errorf("Cache-Control %q, Age %q: %v, want %v", tt.cacheControl, tt.age, got, tt.want)
		}
	}
}

func TestParseJWK(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	ed := newTestEd25519(t).Public().(ed25519.PublicKey)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := ec.PublicKey.Bytes()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	okp := jwk{Kty: "OKP", Crv: "Ed25519", X: b64(ed), Kid: "k", Alg: EdDSA, Use: "sig"}
	p256 := jwk{Kty: "EC", Crv: "P-256", X: b64(point[1:33]), Y: b64(point[33:]), Kid: "k", Alg: ES256}
	rsaJWK := jwk{Kty: "RSA", N: b64(rsaKey.N.Bytes()), E: "AQAB", Kid: "k", Alg: RS256}
	all := []string{EdDSA, ES256, RS256}
	edit := func(j jwk, change func(*jwk)) jwk { change(&j); return j }
	offCurve := slicesClone(point)
	offCurve[64] ^= 1

	tests := []struct {
		name    string
		jwk     jwk
		allowed []string
		want    string // "" accepts
	}{
		{"Ed25519", okp, all, ""},
		{"P-256", p256, all, ""},
		{"RSA", rsaJWK, all, ""},
		{"key_ops verify", edit(okp, func(j *jwk) { j.KeyOps = []string{"verify"} }), all, ""},
		{"no kid", edit(okp, func(j *jwk) { j.Kid = "" }), all, "no kid"},
		{"use enc", edit(okp, func(j *jwk) { j.Use = "enc" }), all, "not sig"},
		{"key_ops without verify", edit(okp, func(j *jwk) { j.KeyOps = []string{"sign"} }), all, "key_ops"},
		{"no alg", edit(okp, func(j *jwk) { j.Alg = "" }), all, "no alg"},
		{"alg not pinned", rsaJWK, []string{EdDSA}, "not among the pinned"},
		{"an HMAC key", jwk{Kty: "oct", Kid: "k", Alg: HS256}, []string{HS256, EdDSA}, "not among the pinned"},
		{"EdDSA alg on an EC key", edit(p256, func(j *jwk) { j.Alg = EdDSA }), all, "kty OKP"},
		{"ES256 on another curve", edit(p256, func(j *jwk) { j.Crv = "P-384" }), all, "crv P-256"},
		{"RS256 alg on an OKP key", edit(okp, func(j *jwk) { j.Alg = RS256 }), all, "kty RSA"},
		{"x too short", edit(okp, func(j *jwk) { j.X = b64(ed[:31]) }), all, "31 bytes"},
		{"x padded", edit(okp, func(j *jwk) { j.X += "=" }), all, "unpadded base64url"},
		{"x with a line break", edit(okp, func(j *jwk) { j.X = j.X[:5] + "\n" + j.X[5:] }), all, "unpadded base64url"},
		{"x in standard base64", edit(okp, func(j *jwk) { j.X = strings.ReplaceAll(strings.ReplaceAll(j.X, "-", "+"), "_", "/") + "+" }), all, "unpadded base64url"},
		{"EC point off the curve", edit(p256, func(j *jwk) { j.Y = b64(offCurve[33:]) }), all, "not on curve"},
		{"EC coordinate without its leading zeros", edit(p256, func(j *jwk) { j.X = b64(point[2:33]) }), all, "31 bytes"},
		{"RSA of 1024 bits", edit(rsaJWK, func(j *jwk) { j.N = b64(weakRSA.N.Bytes()) }), all, "1024 bits"},
		{"RSA exponent 1", edit(rsaJWK, func(j *jwk) { j.E = "AQ" }), all, "exponent 1"},
		{"RSA exponent even", edit(rsaJWK, func(j *jwk) { j.E = "AQAA" }), all, "exponent"},
		{"RSA modulus with a leading zero", edit(rsaJWK, func(j *jwk) { j.N = b64(append([]byte{0}, rsaKey.N.Bytes()...)) }), all, "minimal"},
		{"RSA without e", edit(rsaJWK, func(j *jwk) { j.E = "" }), all, "e is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := parseJWK(tt.jwk, tt.allowed)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "" && key.alg != tt.jwk.Alg:
				t.Fatalf("key bound to %q, want %q", key.alg, tt.jwk.Alg)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestJWKSKeysAreUsedOnlyAsPublished checks through the issuer that keys
// with the wrong use or alg, and kids listed twice, verify nothing.
func TestJWKSKeysAreUsedOnlyAsPublished(t *testing.T) {
	iss := NewTestIssuer(t)
	good := iss.SigningKID()
	encryption := iss.AddKey(t, EdDSA)
	iss.EditJWK(encryption, func(j map[string]any) { j["use"] = "enc" })
	mislabelled := iss.AddKey(t, ES256)
	iss.EditJWK(mislabelled, func(j map[string]any) { j["alg"] = RS256 })
	twice := iss.AddKey(t, EdDSA)
	impostor := iss.AddKey(t, EdDSA)
	iss.EditJWK(impostor, func(j map[string]any) { j["kid"] = twice })
	v := iss.Verifier(t, offline)

	mustVerify(t, v, iss.SignWith(t, good, nil, iss.Claims()))
	for _, kid := range []string{encryption, mislabelled} {
		t.Run(kid, func(t *testing.T) {
			mustRefuse(t, v, iss.SignWith(t, kid, nil, iss.Claims()), ErrInvalidToken)
		})
	}
	// Two keys under one kid: neither verifies under it.
	for _, signer := range []string{twice, impostor} {
		t.Run("kid listed twice, signed by "+signer, func(t *testing.T) {
			mustRefuse(t, v, iss.SignWith(t, signer, map[string]any{"kid": twice}, iss.Claims()), ErrInvalidToken)
		})
	}
}

// TestKeyIsBoundToItsAlg: a token naming another pinned algorithm than its
// key's JWK is refused before golang-jwt tries the key with it.
func TestKeyIsBoundToItsAlg(t *testing.T) {
	iss := NewTestIssuer(t)
	edKID := iss.SigningKID()
	esKID := iss.AddKey(t, ES256)
	v := iss.Verifier(t, offline)
	for _, tt := range []struct{ name, alg, kid, signer string }{
		{"ES256 under an EdDSA key", ES256, edKID, esKID},
		{"EdDSA under an ES256 key", EdDSA, esKID, edKID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := iss.SignWith(t, tt.signer, map[string]any{"kid": tt.kid}, iss.Claims())
			if _, err := v.Verify(testCtx, raw); !errors.Is(err, errKeyAlg) {
				t.Fatalf("Verify = %v, want %v", err, errKeyAlg)
			}
		})
	}
}

func TestKeepsAll(t *testing.T) {
	a, b := newTestEd25519(t).Public(), newTestEd25519(t).Public()
	old := map[string]publicKey{"k1": {EdDSA, a}}
	tests := []struct {
		name string
		next map[string]publicKey
		want bool
	}{
		{"same", map[string]publicKey{"k1": {EdDSA, a}}, true},
		{"one added", map[string]publicKey{"k1": {EdDSA, a}, "k2": {EdDSA, b}}, true},
		{"removed", map[string]publicKey{"k2": {EdDSA, b}}, false},
		{"other key under the kid", map[string]publicKey{"k1": {EdDSA, b}}, false},
	}
	for _, tt := range tests {
		if got := keepsAll(old, tt.next); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if !keepsAll(old, maps.Clone(old)) {
		t.Error("a clone is not kept")
	}
}

func newTestEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
