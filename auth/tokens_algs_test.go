package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// allAlgs are every algorithm keycard can be configured with.
var allAlgs = []string{AlgHS256, AlgEdDSA, AlgES256, AlgRS256}

// algFixture is a verifier configured for one algorithm on a hand-moved
// clock, plus what an attacker who knows the format would need to forge
// tokens for it.
type algFixture struct {
	alg    string
	base   *tokenFixture // clock, tokens, our key; its claims() are Issue's
	tokens *Tokens
	key    SigningKey
	// other is another key of the same algorithm, not configured.
	other SigningKey
}

func newAlgFixture(t testing.TB, alg string) *algFixture {
	t.Helper()
	key, other := NewHMACKey(testSecret), NewHMACKey(attackerSecret)
	if alg != AlgHS256 {
		key, other = generatedKey(t, alg, 0), generatedKey(t, alg, 1)
	}
	clock := newTestClock()
	tokens, err := NewTokens(TokenConfig{
		Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Leeway: testLeeway,
		Signer: key, Now: clock.Now,
	})
	if err != nil {
		t.Fatalf("NewTokens(%s): %v", alg, err)
	}
	return &algFixture{
		alg:    alg,
		base:   &tokenFixture{tokens: tokens, clock: clock, key: key},
		tokens: tokens,
		key:    key,
		other:  other,
	}
}

// header is the JOSE header Issue writes.
func (f *algFixture) header() map[string]any {
	return map[string]any{"alg": f.alg, "typ": AccessTokenType, "kid": f.key.ID}
}

func (f *algFixture) claims() map[string]any { return f.base.claims() }

// signJWS signs header and claims exactly as given, alg included, with
// method and key: the header may name one algorithm and the signature use
// another.
func signJWS(t testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	t.Helper()
	input := encodeSegment(t, header) + "." + encodeSegment(t, claims)
	sig, err := method.Sign(input, key)
	if err != nil {
		t.Fatalf("sign %s with %T: %v", method.Alg(), key, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// forgeAs signs our header and claims, after the edits, with method and key
// under a header naming method's algorithm.
func (f *algFixture) forgeAs(t testing.TB, method jwt.SigningMethod, key any, editHeader, editClaims func(map[string]any)) string {
	t.Helper()
	header, claims := f.header(), f.claims()
	header["alg"] = method.Alg()
	if editHeader != nil {
		editHeader(header)
	}
	if editClaims != nil {
		editClaims(claims)
	}
	return signJWS(t, method, key, header, claims)
}

// forge signs with our own key: whatever makes the result fail is the edit.
func (f *algFixture) forge(t testing.TB, editHeader, editClaims func(map[string]any)) string {
	t.Helper()
	return f.forgeAs(t, f.key.Method, f.key.Private, editHeader, editClaims)
}

// unsigned is a token whose header names alg and whose signature is sig.
func (f *algFixture) unsigned(t testing.TB, alg, sig string) string {
	t.Helper()
	header := f.header()
	header["alg"] = alg
	return encodeSegment(t, header) + "." + encodeSegment(t, f.claims()) + "." + sig
}

// publicKeyEncodings are the byte strings an algorithm-confusion attacker
// tries as the HMAC secret: every form in which our public key is public.
func publicKeyEncodings(t testing.TB, key SigningKey) map[string][]byte {
	t.Helper()
	pemKey := publicPEM(t, key.Public)
	jwks, err := asymTokens(t, key).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	encodings := map[string][]byte{
		"PEM":                   pemKey,
		"PEM without newline":   []byte(strings.TrimSuffix(string(pemKey), "\n")),
		"DER":                   publicDER(t, key.Public),
		"JWK as published":      set.Keys[0],
		"JWKS as published":     jwks,
		"its kid":               []byte(key.ID),
		"PEM with CRLF endings": []byte(strings.ReplaceAll(string(pemKey), "\n", "\r\n")),
	}
	switch pub := key.Public.(type) {
	case ed25519.PublicKey:
		encodings["raw key"] = pub
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		encodings["raw key"] = point
	case *rsa.PublicKey:
		encodings["raw key"] = x509.MarshalPKCS1PublicKey(pub)
	}
	return encodings
}

type tokenCase struct {
	name  string
	token func(t *testing.T, f *algFixture) string
}

// otherAlgCases sign under our kid with an algorithm other than alg: other
// members of the same family with a key that suits them, and the other
// configurable algorithms.
func otherAlgCases(t *testing.T, alg string) []tokenCase {
	t.Helper()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var cases []tokenCase
	add := func(name string, method jwt.SigningMethod, key func(f *algFixture) any) {
		cases = append(cases, tokenCase{name, func(t *testing.T, f *algFixture) string {
			return f.forgeAs(t, method, key(f), nil, nil)
		}})
	}
	for _, other := range allAlgs {
		if other == alg || other == AlgHS256 && alg != AlgHS256 {
			continue // HS256 under an asymmetric config is the confusion below
		}
		key := func(*algFixture) any { return generatedKey(t, other, 0).Private }
		if other == AlgHS256 {
			key = func(*algFixture) any { return testSecret }
		}
		method, _ := methodFor(other)
		add(other+" under our kid", method, key)
	}
	switch alg {
	case AlgHS256:
		add("HS384 with our secret", jwt.SigningMethodHS384, func(f *algFixture) any { return testSecret })
		add("HS512 with our secret", jwt.SigningMethodHS512, func(f *algFixture) any { return testSecret })
	case AlgEdDSA:
		cases = append(cases, tokenCase{"alg Ed25519 (the fully specified name) with our key", func(t *testing.T, f *algFixture) string {
			header := f.header()
			header["alg"] = "Ed25519"
			return signJWS(t, jwt.SigningMethodEdDSA, f.key.Private, header, f.claims())
		}}, tokenCase{"alg eddsa in lower case with our key", func(t *testing.T, f *algFixture) string {
			header := f.header()
			header["alg"] = "eddsa"
			return signJWS(t, jwt.SigningMethodEdDSA, f.key.Private, header, f.claims())
		}})
	case AlgES256:
		add("ES384 with a P-384 key", jwt.SigningMethodES384, func(*algFixture) any { return p384 })
		add("ES512 with a P-521 key", jwt.SigningMethodES512, func(*algFixture) any { return p521 })
	case AlgRS256:
		add("RS384 with our key", jwt.SigningMethodRS384, func(f *algFixture) any { return f.key.Private })
		add("RS512 with our key", jwt.SigningMethodRS512, func(f *algFixture) any { return f.key.Private })
		add("PS256 with our key", jwt.SigningMethodPS256, func(f *algFixture) any { return f.key.Private })
	}
	if alg != AlgHS256 {
		// RFC 8725 §2.1: a verifier that let the token pick HS256 would use
		// our public key as the HMAC secret, and anyone can compute that.
		encodings := publicKeyEncodings(t, generatedKey(t, alg, 0))
		for _, name := range slices.Sorted(maps.Keys(encodings)) {
			secret := encodings[name]
			add("HS256 keyed with our public key as "+name, jwt.SigningMethodHS256, func(*algFixture) any { return secret })
		}
	}
	return cases
}

// algRejectCases are built so that only the named defect can make each
// fail: the rest is what Issue would write, signed with our key unless the
// case is about the key.
func algRejectCases(t *testing.T, alg string) []tokenCase {
	t.Helper()
	cases := []tokenCase{
		{"alg none", func(t *testing.T, f *algFixture) string { return f.unsigned(t, "none", "") }},
		{"alg None", func(t *testing.T, f *algFixture) string { return f.unsigned(t, "None", "") }},
		{"alg NONE", func(t *testing.T, f *algFixture) string { return f.unsigned(t, "NONE", "") }},
		{"alg none with our signature attached", func(t *testing.T, f *algFixture) string {
			raw := f.forge(t, nil, nil)
			return f.unsigned(t, "none", raw[strings.LastIndexByte(raw, '.')+1:])
		}},
		{"alg missing", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { delete(h, "alg") }, nil)
		}},
		{"our alg with an empty signature", func(t *testing.T, f *algFixture) string {
			raw := f.forge(t, nil, nil)
			return raw[:strings.LastIndexByte(raw, '.')+1]
		}},
		{"truncated signature", func(t *testing.T, f *algFixture) string {
			raw := f.forge(t, nil, nil)
			return raw[:len(raw)-4]
		}},
		{"signature of another token", func(t *testing.T, f *algFixture) string {
			donor := f.forge(t, nil, nil)
			raw := f.forge(t, nil, func(c map[string]any) { c["roles"] = []string{"admin"} })
			return raw[:strings.LastIndexByte(raw, '.')] + donor[strings.LastIndexByte(donor, '.'):]
		}},
		{"another key of the same algorithm under its own kid", func(t *testing.T, f *algFixture) string {
			return f.forgeAs(t, f.other.Method, f.other.Private, func(h map[string]any) { h["kid"] = f.other.ID }, nil)
		}},
		{"another key of the same algorithm under our kid", func(t *testing.T, f *algFixture) string {
			return f.forgeAs(t, f.other.Method, f.other.Private, nil, nil)
		}},
		{"another key carried in the jwk header", func(t *testing.T, f *algFixture) string {
			return f.forgeAs(t, f.other.Method, f.other.Private, func(h map[string]any) {
				h["kid"] = f.other.ID
				h["jwk"] = otherJWK(t, f)
			}, nil)
		}},
		{"another key's set in the jku header", func(t *testing.T, f *algFixture) string {
			return f.forgeAs(t, f.other.Method, f.other.Private, func(h map[string]any) {
				h["kid"] = f.other.ID
				h["jku"] = "https://attacker.example/jwks.json"
			}, nil)
		}},
		{"missing kid", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { delete(h, "kid") }, nil)
		}},
		{"empty kid", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["kid"] = "" }, nil)
		}},
		{"kid not a string", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["kid"] = []string{f.key.ID} }, nil)
		}},
		{"kid in another case", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["kid"] = strings.ToUpper(f.key.ID) }, nil)
		}},
		{"missing exp", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "exp") })
		}},
		{"exp null", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["exp"] = nil })
		}},
		{"expired beyond leeway", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) {
				c["exp"] = f.base.clock.Now().Add(-testLeeway - time.Second).Unix()
			})
		}},
		{"nbf in the future beyond leeway", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) {
				c["nbf"] = f.base.clock.Now().Add(testLeeway + time.Second).Unix()
			})
		}},
		{"nbf far in the future", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["nbf"] = f.base.clock.Now().Add(24 * time.Hour).Unix() })
		}},
		{"wrong iss", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["iss"] = "https://evil.test" })
		}},
		{"missing iss", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "iss") })
		}},
		{"wrong aud", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["aud"] = []string{"another-api"} })
		}},
		{"typ JWT", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["typ"] = "JWT" }, nil)
		}},
		{"typ of a DPoP proof", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["typ"] = "dpop+jwt" }, nil)
		}},
		{"missing typ", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { delete(h, "typ") }, nil)
		}},
		{"crit header", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["crit"] = []string{"exp"} }, nil)
		}},
		{"over MaxTokenBytes", func(t *testing.T, f *algFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["pad"] = strings.Repeat("a", MaxTokenBytes) })
		}},
		{"one byte over MaxTokenBytes", func(t *testing.T, f *algFixture) string {
			return signedOfLength(t, f, MaxTokenBytes+1)
		}},
	}
	switch alg {
	case AlgES256:
		// RFC 7518 §3.4: the signature is R || S, 64 bytes; the ASN.1 DER
		// form other libraries produce must not be a second spelling.
		cases = append(cases, tokenCase{"ES256 signature in ASN.1 DER form", func(t *testing.T, f *algFixture) string {
			header, claims := f.header(), f.claims()
			input := encodeSegment(t, header) + "." + encodeSegment(t, claims)
			digest := sha256.Sum256([]byte(input))
			der, err := ecdsa.SignASN1(rand.Reader, f.key.Private.(*ecdsa.PrivateKey), digest[:])
			if err != nil {
				t.Fatal(err)
			}
			return input + "." + base64.RawURLEncoding.EncodeToString(der)
		}})
	case AlgEdDSA:
		// RFC 8032 §5.1.7: S must be below the group order L; S + L would
		// verify under a lax implementation and give a second spelling.
		cases = append(cases, tokenCase{"EdDSA signature with S + L", func(t *testing.T, f *algFixture) string {
			raw := f.forge(t, nil, nil)
			dot := strings.LastIndexByte(raw, '.')
			sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
			if err != nil {
				t.Fatal(err)
			}
			order, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
			s := new(big.Int).SetBytes(reversed(sig[32:]))
			s.Add(s, order)
			copy(sig[32:], reversed(s.FillBytes(make([]byte, 32))))
			return raw[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
		}})
	case AlgRS256:
		cases = append(cases, tokenCase{"RS256 signature with a leading zero byte", func(t *testing.T, f *algFixture) string {
			raw := f.forge(t, nil, nil)
			dot := strings.LastIndexByte(raw, '.')
			sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
			if err != nil {
				t.Fatal(err)
			}
			return raw[:dot+1] + base64.RawURLEncoding.EncodeToString(append([]byte{0}, sig...))
		}})
	}
	return append(cases, otherAlgCases(t, alg)...)
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// otherJWK is the other key's public JWK, as an attacker would embed it.
func otherJWK(t *testing.T, f *algFixture) map[string]any {
	t.Helper()
	if f.alg == AlgHS256 {
		return map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attackerSecret)}
	}
	jwk, err := publicJWK(f.other.Public)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jwk)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// signedOfLength signs, with our key, a token otherwise as issued of
// exactly n bytes, by growing a claim and, where the base64 length cannot
// hit n, a header field.
func signedOfLength(t *testing.T, f *algFixture, n int) string {
	t.Helper()
	for headerPad := 0; headerPad < 3; headerPad++ {
		// Start from a short token and jump close to n: RSA signing every
		// length one by one would take seconds.
		probe := f.forge(t, func(h map[string]any) { h["x-pad"] = strings.Repeat("h", headerPad) }, nil)
		start := max(0, (n-len(probe))*3/4-32)
		for claimPad := start; claimPad < start+64; claimPad++ {
			raw := f.forge(t,
				func(h map[string]any) { h["x-pad"] = strings.Repeat("h", headerPad) },
				func(c map[string]any) { c["pad"] = strings.Repeat("c", claimPad) })
			if len(raw) == n {
				return raw
			}
			if len(raw) > n {
				break
			}
		}
	}
	t.Fatalf("could not sign a token of exactly %d bytes", n)
	return ""
}

func TestVerifyRejectsForEveryAlgorithm(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			for _, tt := range algRejectCases(t, alg) {
				t.Run(tt.name, func(t *testing.T) {
					f := newAlgFixture(t, alg)
					raw := tt.token(t, f)
					claims, err := f.tokens.Verify(raw)
					if !errors.Is(err, ErrInvalidToken) {
						t.Fatalf("Verify(%.80q...) = %v, want ErrInvalidToken", raw, err)
					}
					if claims != nil {
						t.Errorf("Verify returned claims %+v with its error", claims)
					}
				})
			}
		})
	}
}

func TestVerifyAcceptsForEveryAlgorithm(t *testing.T) {
	tests := []tokenCase{
		{"as issued", func(t *testing.T, f *algFixture) string {
			raw, _, err := f.tokens.Issue(testUserID, testSession, nil)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}},
		// The control for every rejection: the forging helpers, with
		// nothing edited, make a token that passes.
		{"forged with our key and nothing wrong", func(t *testing.T, f *algFixture) string { return f.forge(t, nil, nil) }},
		{"typ application/at+jwt", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) { h["typ"] = "application/at+jwt" }, nil)
		}},
		// The key comes from kid alone (RFC 8725 §3.10).
		{"jku, x5u and jwk naming another key", func(t *testing.T, f *algFixture) string {
			return f.forge(t, func(h map[string]any) {
				h["jku"] = "https://attacker.example/jwks.json"
				h["x5u"] = "https://attacker.example/cert.pem"
				h["jwk"] = otherJWK(t, f)
			}, nil)
		}},
		{"exactly MaxTokenBytes", func(t *testing.T, f *algFixture) string { return signedOfLength(t, f, MaxTokenBytes) }},
	}
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					f := newAlgFixture(t, alg)
					raw := tt.token(t, f)
					claims, err := f.tokens.Verify(raw)
					if err != nil {
						t.Fatalf("Verify: %v, want accepted", err)
					}
					if claims.UserID() != testUserID || claims.SessionID != testSession {
						t.Errorf("claims sub=%q sid=%q, want %q %q", claims.UserID(), claims.SessionID, testUserID, testSession)
					}
					header := decodeSegment(t, strings.Split(raw, ".")[0])
					if header["alg"] != alg || header["kid"] != f.key.ID {
						t.Errorf("accepted header %v, want alg %s kid %s", header, alg, f.key.ID)
					}
				})
			}
		})
	}
}

// An oversized token must cost nothing: refused on its length before any
// base64 or JSON decoding, which allocate.
func TestVerifyRefusesOversizedTokenBeforeParsing(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newAlgFixture(t, alg)
			huge := f.forge(t, nil, func(c map[string]any) { c["pad"] = strings.Repeat("a", 1<<20) })
			var err error
			allocs := testing.AllocsPerRun(10, func() { _, err = f.tokens.Verify(huge) })
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(1 MiB token) = %v, want ErrInvalidToken", err)
			}
			if allocs != 0 {
				t.Errorf("Verify(1 MiB token) made %v allocations, want 0: it was parsed", allocs)
			}
			// Control: a token within the limit with a bad signature is
			// parsed, and parsing does allocate, so 0 above means something.
			within := signedOfLength(t, f, MaxTokenBytes)
			within = within[:len(within)-4] + "AAAA"
			if parsed := testing.AllocsPerRun(10, func() { _, _ = f.tokens.Verify(within) }); parsed == 0 {
				t.Error("verifying a token within the limit made no allocations; the check above proves nothing")
			}
		})
	}
}
