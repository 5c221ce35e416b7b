package verify

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzVerify from fuzzSeeds")

// The fuzz issuer is deterministic (Ed25519 signatures are), so the seed
// tokens in testdata stay valid: fixed key, issuer, clock and claims.
const (
	fuzzIssuer = "http://keycard.test"
	fuzzKID    = "fuzz-key"
)

var fuzzKeySeed = []byte("keycard verify fuzz key seed 32b")

func newFuzzIssuer(tb testing.TB) *TestIssuer {
	tb.Helper()
	iss := newTestIssuer(tb, fuzzIssuer)
	iss.AddSigner(tb, fuzzKID, EdDSA, ed25519.NewKeyFromSeed(fuzzKeySeed))
	iss.UseKey(fuzzKID)
	return iss
}

// fuzzSeeds are the seed corpus by name: tokens that verify (named
// valid*) and one near miss per rule.
func fuzzSeeds(tb testing.TB, iss *TestIssuer) map[string]string {
	tb.Helper()
	now := iss.Clock.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := iss.Claims()
		c["jti"], c["sid"] = "4f1c2a3b-5d6e-4f70-8192-a3b4c5d6e7f8", "0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
		if edit != nil {
			edit(c)
		}
		return c
	}
	signed := func(header map[string]any, edit func(jwt.MapClaims)) string {
		return iss.SignWith(tb, fuzzKID, header, claims(edit))
	}
	valid := signed(nil, nil)
	parts := strings.Split(valid, ".")
	public := []byte(iss.PublicKey(fuzzKID).(ed25519.PublicKey))
	return map[string]string{
		"valid":           valid,
		"expired":         signed(nil, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }),
		"other_audience":  signed(nil, func(c jwt.MapClaims) { c["aud"] = "billing" }),
		"no_sid":          signed(nil, func(c jwt.MapClaims) { delete(c, "sid") }),
		"typ_jwt":         signed(map[string]any{"typ": "JWT"}, nil),
		"crit":            signed(map[string]any{"crit": []string{"exp"}}, nil),
		"unknown_kid":     signed(map[string]any{"kid": "rotated"}, nil),
		"valid_jku_jwk":   signed(map[string]any{"jku": "https://attacker.example/", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}, nil),
		"alg_none":        SignTestToken(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"typ": "at+jwt", "kid": fuzzKID}, claims(nil)),
		"alg_confusion":   SignTestToken(tb, jwt.SigningMethodHS256, public, map[string]any{"typ": "at+jwt", "kid": fuzzKID}, claims(nil)),
		"swapped_payload": parts[0] + "." + strings.Split(signed(nil, func(c jwt.MapClaims) { c["roles"] = []string{"admin"} }), ".")[1] + "." + parts[2],
		"two_segments":    parts[0] + "." + parts[1],
		"empty_segments":  "..",
	}
}

// FuzzVerify feeds Verify arbitrary strings: it must never panic, every
// error must be of one of the documented kinds, and whatever it accepts
// golang-jwt alone must accept too under the same rules.
func FuzzVerify(f *testing.F) {
	iss := newFuzzIssuer(f)
	v := iss.Verifier(f, nil)
	public := iss.PublicKey(fuzzKID)
	for _, seed := range fuzzSeeds(f, iss) {
		f.Add(seed)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add(strings.Repeat("A", MaxTokenBytes+1))
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := v.Verify(testCtx, raw)
		if err != nil {
			if claims != nil {
				t.Fatalf("claims along with error %v", err)
			}
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrFeedStale) && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("error of no documented kind: %v", err)
			}
			return
		}
		_, err = jwt.Parse(raw, func(*jwt.Token) (any, error) { return public, nil },
			jwt.WithValidMethods([]string{EdDSA}), jwt.WithExpirationRequired(), jwt.WithIssuer(fuzzIssuer),
			jwt.WithAudience(DefaultAudience), jwt.WithIssuedAt(), jwt.WithLeeway(defaultLeeway),
			jwt.WithStrictDecoding(), jwt.WithTimeFunc(iss.Clock.Now))
		if err != nil {
			t.Fatalf("Verify accepted what golang-jwt refuses: %v", err)
		}
		if len(raw) > MaxTokenBytes || !compactJWS(raw) || claims.Subject == "" || claims.ID == "" || claims.SessionID == "" || claims.IssuedAt == nil {
			t.Fatalf("Verify accepted %q with claims %+v", raw, claims)
		}
	})
}

// TestFuzzSeedsAreCurrent keeps testdata/fuzz/FuzzVerify equal to
// fuzzSeeds, so the committed corpus holds a token that verifies and one
// near miss per rule. -write-fuzz-seeds rewrites it.
func TestFuzzSeedsAreCurrent(t *testing.T) {
	iss := newFuzzIssuer(t)
	seeds := fuzzSeeds(t, iss)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := "go test fuzz v1\nstring(" + strconv.Quote(seeds[name]) + ")\n"
		path := filepath.Join(dir, name)
		if *writeFuzzSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is not current (%v); run go test ./verify -run TestFuzzSeedsAreCurrent -write-fuzz-seeds", path, err)
		}
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := seeds[f.Name()]; !ok {
			t.Errorf("%s is no seed of fuzzSeeds; remove it", filepath.Join(dir, f.Name()))
		}
	}
	v := iss.Verifier(t, nil)
	for name, seed := range seeds {
		_, err := v.Verify(testCtx, seed)
		if valid := strings.HasPrefix(name, "valid"); valid != (err == nil) {
			t.Errorf("seed %s: Verify = %v", name, err)
		}
	}
}
