package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// attackerSecret stands for any key that is not ours.
var attackerSecret = []byte("attacker-secret-0123456789-abcdefghijklmnop")

func TestIssuedTokenVerifiesWithItsClaims(t *testing.T) {
	f := newTokenFixture(t)
	raw, issued, err := f.tokens.Issue(testUserID, testSession, []string{"admin", "editor"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	claims, err := f.tokens.Verify(raw)
	if err != nil {
		t.Fatalf("Verify(issued token): %v", err)
	}
	now := f.clock.Now()
	checks := []struct {
		name      string
		got, want any
	}{
		{"sub", claims.UserID(), testUserID},
		{"sid", claims.SessionID, testSession},
		{"roles", strings.Join(claims.Roles, ","), "admin,editor"},
		{"iss", claims.Issuer, testIssuer},
		{"aud", strings.Join(claims.Audience, ","), testAudience},
		{"iat", claims.IssuedAt.Unix(), now.Unix()},
		{"nbf", claims.NotBefore.Unix(), now.Unix()},
		{"exp-iat", claims.ExpiresAt.Sub(claims.IssuedAt.Time), testTTL},
		{"jti is a UUID", uuid.Validate(claims.ID), nil},
		{"jti as issued", claims.ID, issued.ID},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	header := decodeSegment(t, strings.Split(raw, ".")[0])
	for name, want := range map[string]string{"alg": "HS256", "typ": AccessTokenType, "kid": f.key.ID} {
		if header[name] != want {
			t.Errorf("header %s = %v, want %q", name, header[name], want)
		}
	}
}

// Clients index roles without a null check; null would break them.
func TestIssueWritesNoRolesAsEmptyList(t *testing.T) {
	f := newTokenFixture(t)
	raw, _, err := f.tokens.Issue(testUserID, testSession, nil)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	payload := decodeSegment(t, strings.Split(raw, ".")[1])
	if roles, ok := payload["roles"].([]any); !ok || len(roles) != 0 {
		t.Errorf(`payload "roles" = %#v, want []`, payload["roles"])
	}
}

func TestIssuedTokensHaveDistinctIDs(t *testing.T) {
	f := newTokenFixture(t)
	_, first, err := f.tokens.Issue(testUserID, testSession, nil)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	_, second, err := f.tokens.Issue(testUserID, testSession, nil)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if first.ID == second.ID {
		t.Errorf("two tokens share jti %s; revoking one would revoke both", first.ID)
	}
}

func TestVerifyExpiryFollowsInjectedClock(t *testing.T) {
	tests := []struct {
		name   string
		after  time.Duration
		wantOK bool
	}{
		{"just issued", 0, true},
		{"at exp", testTTL, true},
		{"past exp within leeway", testTTL + testLeeway - time.Second, true},
		// RFC 7519 §4.1.4: now must be before exp (plus leeway), not equal.
		{"at exp plus leeway", testTTL + testLeeway, false},
		{"past exp beyond leeway", testTTL + testLeeway + time.Second, false},
		{"long expired", 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTokenFixture(t)
			raw, _, err := f.tokens.Issue(testUserID, testSession, nil)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			f.clock.Advance(tt.after)
			_, err = f.tokens.Verify(raw)
			if tt.wantOK && err != nil {
				t.Errorf("Verify %v after issue: %v, want accepted", tt.after, err)
			}
			if !tt.wantOK && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify %v after issue: %v, want ErrInvalidToken", tt.after, err)
			}
		})
	}
}

// Each case is built so that only the named defect can make it fail: the
// rest is what Issue would write, signed with the real secret unless the
// case is about the key.
func TestVerifyRejects(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attackerKey := NewHMACKey(attackerSecret)
	attackerJWK := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attackerSecret)}
	refreshToken, _, err := newRefreshToken()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token func(t *testing.T, f *tokenFixture) string
	}{
		{"empty string", func(*testing.T, *tokenFixture) string { return "" }},
		{"garbage", func(*testing.T, *tokenFixture) string { return "not a token at all" }},
		{"two segments", func(t *testing.T, f *tokenFixture) string {
			return encodeSegment(t, f.header()) + "." + encodeSegment(t, f.claims())
		}},
		{"four segments", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, nil) + ".AAAA"
		}},
		{"refresh token", func(*testing.T, *tokenFixture) string { return refreshToken }},
		// Issued under a longer access lifetime than this configuration's
		// (KEYCARD_ACCESS_TTL since shortened), or minted with a stolen
		// key to outlive revocations: refused whatever its exp says.
		{"lifetime beyond TTL plus leeway", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) {
				c["exp"] = c["iat"].(int64) + int64((testTTL+testLeeway)/time.Second) + 1
			})
		}},
		{"a day-long token under a 15-minute lifetime", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["exp"] = c["iat"].(int64) + 86400 })
		}},
		{"alg none", func(t *testing.T, f *tokenFixture) string {
			header := map[string]any{"alg": "none", "typ": AccessTokenType, "kid": f.key.ID}
			return encodeSegment(t, header) + "." + encodeSegment(t, f.claims()) + "."
		}},
		{"HS256 with empty signature", func(t *testing.T, f *tokenFixture) string {
			raw := f.forge(t, nil, nil)
			return raw[:strings.LastIndexByte(raw, '.')+1]
		}},
		{"HS384 with the right secret", func(t *testing.T, f *tokenFixture) string {
			return signWithLibrary(t, jwt.SigningMethodHS384, f.header(), f.claims(), testSecret)
		}},
		{"HS512 with the right secret", func(t *testing.T, f *tokenFixture) string {
			return signWithLibrary(t, jwt.SigningMethodHS512, f.header(), f.claims(), testSecret)
		}},
		{"RS256 with another key", func(t *testing.T, f *tokenFixture) string {
			return signWithLibrary(t, jwt.SigningMethodRS256, f.header(), f.claims(), rsaKey)
		}},
		{"ES256 with another key", func(t *testing.T, f *tokenFixture) string {
			return signWithLibrary(t, jwt.SigningMethodES256, f.header(), f.claims(), ecKey)
		}},
		{"HS256 with the wrong secret", func(t *testing.T, f *tokenFixture) string {
			return signHS256(encodeSegment(t, f.header()), encodeSegment(t, f.claims()), attackerSecret)
		}},
		{"tampered payload", func(t *testing.T, f *tokenFixture) string {
			parts := strings.Split(f.forge(t, nil, nil), ".")
			claims := f.claims()
			claims["roles"] = []string{"admin"}
			return parts[0] + "." + encodeSegment(t, claims) + "." + parts[2]
		}},
		{"missing exp", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "exp") })
		}},
		{"expired beyond leeway", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) {
				c["exp"] = f.clock.Now().Add(-testLeeway - time.Second).Unix()
			})
		}},
		{"nbf in the future beyond leeway", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) {
				c["nbf"] = f.clock.Now().Add(testLeeway + time.Second).Unix()
			})
		}},
		{"iat in the future beyond leeway", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) {
				c["iat"] = f.clock.Now().Add(testLeeway + time.Second).Unix()
			})
		}},
		{"wrong iss", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["iss"] = "https://evil.test" })
		}},
		{"missing iss", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "iss") })
		}},
		{"wrong aud", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["aud"] = []string{"another-api"} })
		}},
		{"aud as a string of another audience", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["aud"] = "another-api" })
		}},
		{"missing aud", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "aud") })
		}},
		{"empty aud list", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["aud"] = []string{} })
		}},
		{"missing typ", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, func(h map[string]any) { delete(h, "typ") }, nil)
		}},
		{"typ JWT", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, func(h map[string]any) { h["typ"] = "JWT" }, nil)
		}},
		{"typ not a string", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, func(h map[string]any) { h["typ"] = []string{AccessTokenType} }, nil)
		}},
		{"unknown kid", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, func(h map[string]any) { h["kid"] = "some-other-key" }, nil)
		}},
		{"missing kid", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, func(h map[string]any) { delete(h, "kid") }, nil)
		}},
		{"crit header", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, func(h map[string]any) {
				h["crit"] = []string{"urn:example:policy"}
				h["urn:example:policy"] = "strict"
			}, nil)
		}},
		{"padding appended to payload", func(t *testing.T, f *tokenFixture) string {
			payload := padded(t, f)
			return signHS256(encodeSegment(t, f.header()), payload, testSecret)
		}},
		{"standard base64 alphabet in payload", func(t *testing.T, f *tokenFixture) string {
			claims := f.claims()
			claims["note"] = "???>>>" // encodes to '/' and '+' in the standard alphabet
			b, err := json.Marshal(claims)
			if err != nil {
				t.Fatal(err)
			}
			payload := base64.RawStdEncoding.EncodeToString(b)
			if !strings.ContainsAny(payload, "+/") {
				t.Fatalf("payload %s has no '+' or '/'; the case tests nothing", payload)
			}
			return signHS256(encodeSegment(t, f.header()), payload, testSecret)
		}},
		{"non-zero trailing bits in payload", func(t *testing.T, f *tokenFixture) string {
			payload := strings.TrimRight(padded(t, f), "=")
			return signHS256(encodeSegment(t, f.header()), setSpareBit(payload), testSecret)
		}},
		{"non-zero trailing bits in signature", func(t *testing.T, f *tokenFixture) string {
			return setSpareBit(f.forge(t, nil, nil))
		}},
		{"over MaxTokenBytes", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["pad"] = strings.Repeat("a", MaxTokenBytes) })
		}},
		{"missing jti", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "jti") })
		}},
		{"jti not a UUID", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["jti"] = "token-1" })
		}},
		{"missing sid", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "sid") })
		}},
		{"sid not a UUID", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["sid"] = "session-1" })
		}},
		{"missing sub", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { delete(c, "sub") })
		}},
		{"roles not a list", func(t *testing.T, f *tokenFixture) string {
			return f.forge(t, nil, func(c map[string]any) { c["roles"] = "admin" })
		}},
		{"attacker key in jwk header under the attacker's kid", func(t *testing.T, f *tokenFixture) string {
			header := f.header()
			header["kid"] = attackerKey.ID
			header["jwk"] = attackerJWK
			return signHS256(encodeSegment(t, header), encodeSegment(t, f.claims()), attackerSecret)
		}},
		{"attacker key in jwk header under our kid", func(t *testing.T, f *tokenFixture) string {
			header := f.header()
			header["jwk"] = attackerJWK
			return signHS256(encodeSegment(t, header), encodeSegment(t, f.claims()), attackerSecret)
		}},
		{"attacker key set in jku header", func(t *testing.T, f *tokenFixture) string {
			header := f.header()
			header["kid"] = attackerKey.ID
			header["jku"] = "https://attacker.example/jwks.json"
			return signHS256(encodeSegment(t, header), encodeSegment(t, f.claims()), attackerSecret)
		}},
		{"RS256 carrying its own public key", func(t *testing.T, f *tokenFixture) string {
			header := f.header()
			header["jwk"] = map[string]any{
				"kty": "RSA",
				"n":   base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes()),
				"e":   "AQAB",
			}
			return signWithLibrary(t, jwt.SigningMethodRS256, header, f.claims(), rsaKey)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTokenFixture(t)
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
}

func TestVerifyAccepts(t *testing.T) {
	attackerJWK := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attackerSecret)}
	tests := []struct {
		name        string
		editHeader  func(map[string]any)
		editClaims  func(map[string]any)
		clockOffset time.Duration
	}{
		{name: "as issued"},
		// RFC 9068 §2.1 allows the full media type.
		{name: "typ application/at+jwt", editHeader: func(h map[string]any) { h["typ"] = "application/at+jwt" }},
		// RFC 7515 §4.1.9: media type names are case-insensitive.
		{name: "typ in upper case", editHeader: func(h map[string]any) { h["typ"] = "AT+JWT" }},
		// RFC 7519 §4.1.3 allows aud as a single string.
		{name: "aud as a single string", editClaims: func(c map[string]any) { c["aud"] = testAudience }},
		{name: "aud list including ours", editClaims: func(c map[string]any) {
			c["aud"] = []string{"another-api", testAudience}
		}},
		{name: "expired within leeway", clockOffset: testTTL + testLeeway - time.Second},
		{name: "lifetime of exactly TTL plus leeway", editClaims: func(c map[string]any) {
			c["exp"] = c["iat"].(int64) + int64((testTTL+testLeeway)/time.Second)
		}},
		{name: "nbf in the future within leeway", editClaims: func(c map[string]any) {
			c["nbf"] = c["nbf"].(int64) + int64(testLeeway/time.Second)
		}},
		{name: "iat in the future within leeway", editClaims: func(c map[string]any) {
			c["iat"] = c["iat"].(int64) + int64(testLeeway/time.Second)
		}},
		// The key comes from kid alone; headers naming other keys are not
		// followed (RFC 8725 §3.10).
		{name: "jku, x5u and jwk naming other keys", editHeader: func(h map[string]any) {
			h["jku"] = "https://attacker.example/jwks.json"
			h["x5u"] = "https://attacker.example/cert.pem"
			h["jwk"] = attackerJWK
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTokenFixture(t)
			raw := f.forge(t, tt.editHeader, tt.editClaims)
			f.clock.Advance(tt.clockOffset)
			claims, err := f.tokens.Verify(raw)
			if err != nil {
				t.Fatalf("Verify: %v, want accepted", err)
			}
			if claims.UserID() != testUserID || claims.SessionID != testSession {
				t.Errorf("claims sub=%q sid=%q, want %q %q", claims.UserID(), claims.SessionID, testUserID, testSession)
			}
		})
	}
}

// One accepted token has exactly one encoding. Go's base64 decoder skips
// CR and LF even in strict mode, so a line break inside the signature
// decodes to the same bytes and leaves the signing input untouched.
func TestVerifyRejectsLineBreakInSignature(t *testing.T) {
	for _, lineBreak := range []string{"\n", "\r", "\r\n"} {
		t.Run(strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(lineBreak), func(t *testing.T) {
			f := newTokenFixture(t)
			raw, _, err := f.tokens.Issue(testUserID, testSession, nil)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			malleated := raw[:len(raw)-4] + lineBreak + raw[len(raw)-4:]
			if _, err := f.tokens.Verify(malleated); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify(token with %q in its signature) = %v, want ErrInvalidToken", lineBreak, err)
			}
		})
	}
}

func TestVerifyAcceptsTokenOfExactlyMaxTokenBytes(t *testing.T) {
	f := newTokenFixture(t)
	raw := forgeOfLength(t, f, MaxTokenBytes)
	if _, err := f.tokens.Verify(raw); err != nil {
		t.Errorf("Verify(%d-byte token): %v, want accepted", len(raw), err)
	}
	longer := forgeOfLength(t, f, MaxTokenBytes+1)
	if _, err := f.tokens.Verify(longer); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(%d-byte token) = %v, want ErrInvalidToken", len(longer), err)
	}
}

func TestVerifyUsesRetiredKeysOnlyWhileListed(t *testing.T) {
	retired := NewHMACKey([]byte("retired-secret-0123456789-abcdefghijklmn"))
	current := NewHMACKey(testSecret)
	clock := newTestClock()
	cfg := TokenConfig{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Signer: retired, Now: clock.Now}
	old, err := NewTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := old.Issue(testUserID, testSession, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		verifiers []SigningKey
		wantOK    bool
	}{
		{"retired key listed", []SigningKey{retired}, true},
		{"retired key dropped", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			cfg.Signer = current
			cfg.Verifiers = tt.verifiers
			tokens, err := NewTokens(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tokens.Verify(raw)
			if tt.wantOK && err != nil {
				t.Errorf("Verify: %v, want accepted", err)
			}
			if !tt.wantOK && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify = %v, want ErrInvalidToken", err)
			}
			if keys := tokens.Keys(); keys[0].ID != current.ID || len(keys) != 1+len(tt.verifiers) {
				t.Errorf("Keys() = %v, want the signer first, then %d verifiers", keys, len(tt.verifiers))
			}
		})
	}
}

func TestNewTokensRejectsBadConfig(t *testing.T) {
	valid := TokenConfig{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Signer: NewHMACKey(testSecret)}
	hs384 := NewHMACKey(attackerSecret)
	hs384.Method = jwt.SigningMethodHS384
	tests := []struct {
		name string
		edit func(*TokenConfig)
	}{
		{"empty issuer", func(c *TokenConfig) { c.Issuer = "" }},
		{"empty audience", func(c *TokenConfig) { c.Audience = "" }},
		{"zero TTL", func(c *TokenConfig) { c.TTL = 0 }},
		{"negative TTL", func(c *TokenConfig) { c.TTL = -time.Minute }},
		{"no signer", func(c *TokenConfig) { c.Signer = SigningKey{} }},
		{"signer without kid", func(c *TokenConfig) { c.Signer.ID = "" }},
		{"verifier of another algorithm", func(c *TokenConfig) { c.Verifiers = []SigningKey{hs384} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			if _, err := NewTokens(cfg); err == nil {
				t.Error("NewTokens accepted the config, want an error")
			}
		})
	}
	if _, err := NewTokens(valid); err != nil {
		t.Errorf("NewTokens(valid config): %v", err)
	}
}

func TestNewHMACKeyKidIsRFC7638Thumbprint(t *testing.T) {
	// Computed outside Go:
	//   printf '{"k":"%s","kty":"oct"}' "$(printf %s "$SECRET" | base64 | tr '+/' '-_' | tr -d =)" |
	//   openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =
	const want = "7YF4BAyRYO9ynumcyeFPK8m4XsieHgPAvPWB-UkAZUM"
	key := NewHMACKey(testSecret)
	if key.ID != want {
		t.Errorf("kid = %s, want %s", key.ID, want)
	}

	// encoding/json sorts map keys and adds no whitespace: the RFC 7638
	// canonical form.
	jwk, err := json.Marshal(map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attackerSecret)})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(jwk)
	if got, want := NewHMACKey(attackerSecret).ID, base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("kid of another secret = %s, want %s", got, want)
	}
	if key.Method != jwt.SigningMethodHS256 {
		t.Errorf("method = %v, want HS256", key.Method.Alg())
	}
}

func TestTokensMaxLifetimeIsTTLPlusLeeway(t *testing.T) {
	f := newTokenFixture(t)
	if got := f.tokens.MaxLifetime(); got != testTTL+testLeeway {
		t.Errorf("MaxLifetime = %v, want %v", got, testTTL+testLeeway)
	}
}

// The seeds under testdata/fuzz/FuzzVerify were signed with testSecret for
// the instant newTestClock starts at, so the valid ones stay valid.
func FuzzVerify(f *testing.F) {
	fx := newTokenFixture(f)
	valid, _, err := fx.tokens.Issue(testUserID, testSession, []string{"admin"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := fx.tokens.Verify(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error %v is not ErrInvalidToken", err)
			}
			if claims != nil {
				t.Fatalf("Verify returned claims with error %v", err)
			}
			return
		}
		if len(raw) > MaxTokenBytes {
			t.Errorf("accepted a %d-byte token", len(raw))
		}
		if claims.Issuer != testIssuer || !slices.Contains(claims.Audience, testAudience) ||
			claims.Subject == "" || uuid.Validate(claims.ID) != nil || uuid.Validate(claims.SessionID) != nil {
			t.Errorf("accepted claims %+v", claims)
		}
		// An accepted token must be the one canonical HS256 encoding of
		// its signing input; anything else means a second spelling of it
		// got through.
		parts := strings.Split(raw, ".")
		if len(parts) != 3 || signHS256(parts[0], parts[1], testSecret) != raw {
			t.Errorf("accepted a non-canonical token %q", raw)
		}
	})
}

// The committed seeds must keep exercising both outcomes of FuzzVerify: a
// change to the fixture's clock or secret would silently turn every seed
// into a rejection.
func TestFuzzVerifySeedsKeepTheirVerdict(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newTokenFixture(t)
	for _, entry := range entries {
		t.Run(entry.Name(), func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(dir, entry.Name()))
			if err != nil {
				t.Fatal(err)
			}
			literal, ok := strings.CutPrefix(strings.TrimSpace(string(content)), "go test fuzz v1\nstring(")
			if !ok || !strings.HasSuffix(literal, ")") {
				t.Fatalf("not a one-string corpus file:\n%s", content)
			}
			raw, err := strconv.Unquote(strings.TrimSuffix(literal, ")"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.tokens.Verify(raw)
			if wantValid := strings.HasPrefix(entry.Name(), "valid"); wantValid != (err == nil) {
				t.Errorf("Verify(seed) = %v, want valid %v", err, wantValid)
			}
		})
	}
}

func signWithLibrary(t *testing.T, method jwt.SigningMethod, header, claims map[string]any, key any) string {
	t.Helper()
	token := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for name, value := range header {
		token.Header[name] = value
	}
	token.Header["alg"] = method.Alg()
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return signed
}

func decodeSegment(t *testing.T, segment string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatalf("decode %q: %v", segment, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return m
}

// padded returns the fixture's claims in base64url with '=' padding, after
// growing them until padding is needed.
func padded(t *testing.T, f *tokenFixture) string {
	t.Helper()
	claims := f.claims()
	for n := 0; n < 4; n++ {
		claims["pad"] = strings.Repeat("a", n)
		b, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		if encoded := base64.URLEncoding.EncodeToString(b); strings.HasSuffix(encoded, "=") {
			return encoded
		}
	}
	t.Fatal("no claim length needed padding")
	return ""
}

// setSpareBit sets the lowest bit of the last base64url character. When the
// segment's length is not a multiple of four that bit encodes nothing, so a
// lenient decoder reads the same bytes.
func setSpareBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

// forgeOfLength forges a valid token of exactly n bytes by growing a claim
// and, where the base64 length cannot hit n, a header field.
func forgeOfLength(t *testing.T, f *tokenFixture, n int) string {
	t.Helper()
	for headerPad := 0; headerPad < 3; headerPad++ {
		for claimPad := n*3/4 - 500; claimPad < n; claimPad++ {
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
	t.Fatalf("could not forge a token of exactly %d bytes", n)
	return ""
}
