package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

// cheapArgon2 keeps password tests fast; OWASPParams is checked on its own.
var cheapArgon2 = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// testClock is moved by hand, so expiry is tested without sleeping. It
// starts on a whole second because JWT times are whole seconds.
type testClock struct{ now time.Time }

func newTestClock() *testClock {
	return &testClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time { return c.now }

func (c *testClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

const (
	testIssuer   = "https://keycard.test"
	testAudience = "keycard-api"
	testTTL      = 15 * time.Minute
	testLeeway   = 30 * time.Second
	testUserID   = "0190a4b2-7c1e-7a3b-9f42-5c8d2e6f1a01"
	testSession  = "0190a4b2-7c1e-7a3b-9f42-5c8d2e6f1a02"
)

// testSecret is at least 32 bytes, as production requires.
var testSecret = []byte("keycard-test-secret-0123456789-abcdefghijklmnop")

// tokenFixture is a verifier on a hand-moved clock, plus what a test needs
// to forge tokens the way an attacker who knows the format would.
type tokenFixture struct {
	tokens *Tokens
	clock  *testClock
	key    SigningKey
}

func newTokenFixture(t testing.TB) *tokenFixture {
	t.Helper()
	clock := newTestClock()
	key := NewHMACKey(testSecret)
	tokens, err := NewTokens(TokenConfig{
		Issuer:   testIssuer,
		Audience: testAudience,
		TTL:      testTTL,
		Leeway:   testLeeway,
		Signer:   key,
		Now:      clock.Now,
	})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return &tokenFixture{tokens: tokens, clock: clock, key: key}
}

// header is the JOSE header Issue writes.
func (f *tokenFixture) header() map[string]any {
	return map[string]any{"alg": "HS256", "typ": AccessTokenType, "kid": f.key.ID}
}

// claims are the claims Issue writes, as of the fixture's clock.
func (f *tokenFixture) claims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{
		"iss":   testIssuer,
		"aud":   []string{testAudience},
		"sub":   testUserID,
		"exp":   now + int64(testTTL/time.Second),
		"iat":   now,
		"nbf":   now,
		"jti":   uuid.NewString(),
		"sid":   testSession,
		"roles": []string{},
	}
}

// forge signs the fixture's header and claims, after the edits, with the
// real secret: whatever makes the result fail is the edit, not the key.
func (f *tokenFixture) forge(t testing.TB, editHeader, editClaims func(map[string]any)) string {
	t.Helper()
	header, claims := f.header(), f.claims()
	if editHeader != nil {
		editHeader(header)
	}
	if editClaims != nil {
		editClaims(claims)
	}
	return signHS256(encodeSegment(t, header), encodeSegment(t, claims), testSecret)
}

func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signHS256 signs the two segments exactly as given, so tests can sign
// encodings that a JWT library would never produce.
func signHS256(header, payload string, secret []byte) string {
	input := header + "." + payload
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
