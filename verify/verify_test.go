package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keycard/keycard/verify"
)

var ctx = context.Background()

func TestVerifyReturnsKeycardClaims(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	claims := iss.Claims()
	raw := iss.Sign(t, claims)

	got, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	now := iss.Clock.Now()
	if got.Subject != verify.TestUser || got.ID != claims["jti"] || got.SessionID != claims["sid"] ||
		got.Issuer != iss.URL || !slices.Equal(got.Audience, []string{"keycard"}) || got.ClientID != "keycard" ||
		!got.ExpiresAt.Equal(now.Add(15*time.Minute)) || !got.IssuedAt.Equal(now) || !got.NotBefore.Equal(now) ||
		got.AuthTime == nil || !got.AuthTime.Equal(now) || got.Scope != "openid role:editor" {
		t.Errorf("claims = %+v", got)
	}
	if !got.HasRole("editor") || got.HasRole("admin") || got.HasRole("") {
		t.Errorf("HasRole wrong for roles %v", got.Roles)
	}
	if !got.HasScope("role:editor") || !got.HasScope("openid") || got.HasScope("role") || got.HasScope("") {
		t.Errorf("HasScope wrong for scope %q", got.Scope)
	}
	if !got.HasAMR("mfa") || got.HasAMR("hwk") {
		t.Errorf("HasAMR wrong for amr %v", got.AMR)
	}

	again, err := v.Verify(ctx, raw)
	if err != nil || again != got {
		t.Errorf("second Verify = %p, %v; want the cached %p", again, err, got)
	}
}

func TestVerifyAcceptsEachAsymmetricAlgorithm(t *testing.T) {
	for _, alg := range []string{verify.EdDSA, verify.ES256, verify.RS256} {
		t.Run(alg, func(t *testing.T) {
			iss := verify.NewTestIssuer(t)
			iss.UseKey(iss.AddKey(t, alg))
			v := iss.Verifier(t, nil)
			if _, err := v.Verify(ctx, iss.Token(t)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestVerifyAccepts lists tokens that differ from keycard's usual ones yet
// are valid: the rules must not be stricter than the RFCs.
func TestVerifyAccepts(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	kid := iss.SigningKID()
	now := iss.Clock.Now()
	with := func(edit func(jwt.MapClaims)) string {
		c := iss.Claims()
		edit(c)
		return iss.Sign(t, c)
	}
	header := func(h map[string]any) string { return iss.SignWith(t, kid, h, iss.Claims()) }
	attacker := newEd25519(t)

	tests := []struct {
		name  string
		token string
	}{
		{"typ application/at+jwt", header(map[string]any{"typ": "application/at+jwt"})},
		{"typ in upper case", header(map[string]any{"typ": "AT+JWT"})},
		{"aud as a single string", with(func(c jwt.MapClaims) { c["aud"] = "keycard" })},
		{"aud among others", with(func(c jwt.MapClaims) { c["aud"] = []string{"billing", "keycard"} })},
		{"expired within the leeway", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-4 * time.Second).Unix() })},
		{"nbf within the leeway", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(4 * time.Second).Unix() })},
		{"iat within the leeway", with(func(c jwt.MapClaims) { c["iat"] = now.Add(4 * time.Second).Unix() })},
		{"no nbf", with(func(c jwt.MapClaims) { delete(c, "nbf") })},
		// The header keys point elsewhere; they are ignored and the
		// published key decides.
		{"jku, x5u and jwk headers ignored", header(map[string]any{
			"jku": "https://attacker.example/jwks.json",
			"x5u": "https://attacker.example/cert.pem",
			"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attacker.Public().(ed25519.PublicKey))},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(ctx, tt.token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestVerifyRefuses holds every rejection rule (RFC 8725, RFC 9068 and
// keycard's own), each with the reason golang-jwt reports where it has one.
func TestVerifyRefuses(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	kid := iss.SigningKID()
	now := iss.Clock.Now()
	with := func(edit func(jwt.MapClaims)) string {
		c := iss.Claims()
		edit(c)
		return iss.Sign(t, c)
	}
	header := func(h map[string]any) string { return iss.SignWith(t, kid, h, iss.Claims()) }
	attacker := newEd25519(t)
	attackerJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attacker.Public().(ed25519.PublicKey)), "kid": kid}
	issuerPublic := []byte(iss.PublicKey(kid).(ed25519.PublicKey))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]any{"typ": "at+jwt", "kid": kid}
	valid := iss.Token(t)
	parts := strings.Split(valid, ".")
	other := strings.Split(with(func(c jwt.MapClaims) { c["roles"] = []string{"admin"} }), ".")

	tests := []struct {
		name   string
		token  string
		reason error // also matched by errors.Is, when set
	}{
		// Time.
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), jwt.ErrTokenExpired},
		{"expired just past the leeway", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() }), jwt.ErrTokenExpired},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), jwt.ErrTokenRequiredClaimMissing},
		{"nbf in the future", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), jwt.ErrTokenNotValidYet},
		{"iat in the future", with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }), jwt.ErrTokenUsedBeforeIssued},
		{"exp not a number", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), nil},
		// Who it is from and for.
		{"other issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), jwt.ErrTokenInvalidIssuer},
		{"issuer with a trailing slash", with(func(c jwt.MapClaims) { c["iss"] = iss.URL + "/" }), jwt.ErrTokenInvalidIssuer},
		{"no issuer", with(func(c jwt.MapClaims) { delete(c, "iss") }), jwt.ErrTokenRequiredClaimMissing},
		{"other audience", with(func(c jwt.MapClaims) { c["aud"] = []string{"billing"} }), jwt.ErrTokenInvalidAudience},
		{"no audience", with(func(c jwt.MapClaims) { delete(c, "aud") }), jwt.ErrTokenRequiredClaimMissing},
		// What revocation needs.
		{"no sub", with(func(c jwt.MapClaims) { delete(c, "sub") }), nil},
		{"no jti", with(func(c jwt.MapClaims) { delete(c, "jti") }), nil},
		{"no sid", with(func(c jwt.MapClaims) { delete(c, "sid") }), nil},
		{"empty sid", with(func(c jwt.MapClaims) { c["sid"] = "" }), nil},
		{"no iat", with(func(c jwt.MapClaims) { delete(c, "iat") }), nil},
		// The header.
		{"no typ", header(map[string]any{"typ": nil}), nil},
		{"typ JWT", header(map[string]any{"typ": "JWT"}), nil},
		{"typ of an ID token", header(map[string]any{"typ": "id_token+jwt"}), nil},
		{"crit header", header(map[string]any{"crit": []string{"exp"}}), nil},
		{"no kid", header(map[string]any{"kid": nil}), nil},
		{"unknown kid", verify.SignTestToken(t, jwt.SigningMethodEdDSA, attacker, map[string]any{"typ": "at+jwt", "kid": "attacker"}, iss.Claims()), nil},
		{"jku pointing at the attacker's keys", verify.SignTestToken(t, jwt.SigningMethodEdDSA, attacker, map[string]any{"typ": "at+jwt", "kid": "attacker", "jku": "https://attacker.example/jwks.json"}, iss.Claims()), nil},
		{"x5u pointing at the attacker's certificate", verify.SignTestToken(t, jwt.SigningMethodEdDSA, attacker, map[string]any{"typ": "at+jwt", "kid": "attacker", "x5u": "https://attacker.example/cert.pem"}, iss.Claims()), nil},
		{"jwk header carrying the attacker's key under our kid", verify.SignTestToken(t, jwt.SigningMethodEdDSA, attacker, map[string]any{"typ": "at+jwt", "kid": kid, "jwk": attackerJWK}, iss.Claims()), jwt.ErrTokenSignatureInvalid},
		// Algorithms.
		{"alg none", verify.SignTestToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ours, iss.Claims()), jwt.ErrTokenSignatureInvalid},
		{"HS256 keyed with our public key (algorithm confusion)", verify.SignTestToken(t, jwt.SigningMethodHS256, issuerPublic, ours, iss.Claims()), jwt.ErrTokenSignatureInvalid},
		{"RS256 under the kid of an EdDSA key", verify.SignTestToken(t, jwt.SigningMethodRS256, rsaKey, ours, iss.Claims()), nil},
		{"ES384, not pinned", verify.SignTestToken(t, jwt.SigningMethodES384, p384, ours, iss.Claims()), jwt.ErrTokenSignatureInvalid},
		{"signed by another key under our kid", verify.SignTestToken(t, jwt.SigningMethodEdDSA, attacker, ours, iss.Claims()), jwt.ErrTokenSignatureInvalid},
		// The bytes.
		{"payload swapped for another token's", parts[0] + "." + other[1] + "." + parts[2], jwt.ErrTokenSignatureInvalid},
		{"stray bits in the signature's last character", strayBits(t, valid), jwt.ErrTokenMalformed},
		{"padding", valid + "=", nil},
		{"line break inside", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], nil},
		// base64 skips line breaks, and the signature is not part of the
		// signing input: only the character check refuses this second
		// spelling of a valid token.
		{"line break inside the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r\n" + parts[2][10:], nil},
		{"space inside", parts[0] + ". " + parts[1] + "." + parts[2], nil},
		{"over 8 KiB", with(func(c jwt.MapClaims) { c["padding"] = strings.Repeat("a", verify.MaxTokenBytes) }), nil},
		{"two segments", parts[0] + "." + parts[1], jwt.ErrTokenMalformed},
		{"four segments", valid + "." + parts[2], jwt.ErrTokenMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{nope")) + "." + parts[1] + "." + parts[2], jwt.ErrTokenMalformed},
		{"empty", "", nil},
		{"not a JWT", "opaque-refresh-token-value", jwt.ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(ctx, tt.token)
			if !errors.Is(err, verify.ErrInvalidToken) || claims != nil {
				t.Fatalf("Verify = %v, %v; want ErrInvalidToken", claims, err)
			}
			if tt.reason != nil && !errors.Is(err, tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if errors.Is(err, verify.ErrUnavailable) || errors.Is(err, verify.ErrRevoked) {
				t.Errorf("error %q is of another kind too", err)
			}
			// A refusal is not cached as anything else.
			if _, again := v.Verify(ctx, tt.token); !errors.Is(again, verify.ErrInvalidToken) {
				t.Errorf("second Verify = %v", again)
			}
		})
	}
	if _, err := v.Verify(ctx, valid); err != nil {
		t.Errorf("the untampered token: %v", err)
	}
}

// strayBits sets an unused low bit of the signature's last base64
// character: the decoded bytes are the same, so only strict decoding tells
// the two spellings apart. It checks that a lenient decoder would accept.
func strayBits(t *testing.T, raw string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, raw[len(raw)-1])
	mangled := raw[:len(raw)-1] + string(alphabet[last^1])
	sig := mangled[strings.LastIndexByte(mangled, '.')+1:]
	lenient, err := base64.RawURLEncoding.DecodeString(sig)
	original, _ := base64.RawURLEncoding.DecodeString(raw[strings.LastIndexByte(raw, '.')+1:])
	if err != nil || string(lenient) != string(original) {
		t.Fatalf("stray bits changed the signature bytes (%v)", err)
	}
	return mangled
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestVerifyRechecksTimeOfCachedToken(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	// No feed: it would go stale over the quarter of an hour skipped.
	v := iss.Verifier(t, func(o *verify.Options) { o.Credential = "" })
	raw := iss.Token(t)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	// A clock stepped back (NTP) before nbf - leeway: not valid yet,
	// cached or not.
	iss.Clock.Advance(-6 * time.Second)
	if _, err := v.Verify(ctx, raw); !errors.Is(err, jwt.ErrTokenNotValidYet) {
		t.Fatalf("clock stepped back past nbf: %v", err)
	}
	iss.Clock.Advance(6 * time.Second)
	iss.Clock.Advance(15*time.Minute + 4*time.Second)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	iss.Clock.Advance(time.Second)
	if _, err := v.Verify(ctx, raw); !errors.Is(err, verify.ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("past exp + leeway: %v; want ErrInvalidToken and ErrTokenExpired", err)
	}
}

func TestVerifyHS256OnlyWithSecret(t *testing.T) {
	secret := []byte("a shared secret of at least 32 bytes!!")
	iss := verify.NewTestIssuer(t)
	hs := verify.SignTestToken(t, jwt.SigningMethodHS256, secret, map[string]any{"typ": "at+jwt", "kid": "hmac"}, iss.Claims())
	wrongSecret := verify.SignTestToken(t, jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!!"), map[string]any{"typ": "at+jwt"}, iss.Claims())
	ed := iss.Token(t)

	byDefault := iss.Verifier(t, nil)
	if _, err := byDefault.Verify(ctx, hs); !errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("HS256 without a Secret: %v", err)
	}

	hsOnly := iss.Verifier(t, func(o *verify.Options) { o.Secret = secret })
	if _, err := hsOnly.Verify(ctx, hs); err != nil {
		t.Errorf("HS256 with the Secret: %v", err)
	}
	if _, err := hsOnly.Verify(ctx, wrongSecret); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("HS256 with another secret: %v", err)
	}
	if _, err := hsOnly.Verify(ctx, ed); !errors.Is(err, verify.ErrInvalidToken) {
		t.Errorf("EdDSA when only HS256 is pinned: %v", err)
	}

	both := iss.Verifier(t, func(o *verify.Options) {
		o.Secret = secret
		o.Algorithms = []string{verify.HS256, verify.EdDSA}
	})
	for name, raw := range map[string]string{"HS256": hs, "EdDSA": ed} {
		if _, err := both.Verify(ctx, raw); err != nil {
			t.Errorf("%s with both pinned: %v", name, err)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	secret := []byte(strings.Repeat("s", 32))
	tests := []struct {
		name string
		edit func(*verify.Options)
		want string
	}{
		{"no issuer", func(o *verify.Options) { o.Issuer = "" }, "Issuer is required"},
		{"issuer not a URL", func(o *verify.Options) { o.Issuer = "keycard" }, "not an http(s) URL"},
		{"issuer of another scheme", func(o *verify.Options) { o.Issuer = "ftp://keycard.example" }, "not an http(s) URL"},
		{"issuer with a query", func(o *verify.Options) { o.Issuer = iss.URL + "?tenant=1" }, "not an http(s) URL"},
		{"unknown algorithm", func(o *verify.Options) { o.Algorithms = []string{"HS512"} }, "unsupported algorithm"},
		{"none", func(o *verify.Options) { o.Algorithms = []string{"none"} }, "unsupported algorithm"},
		{"HS256 without a secret", func(o *verify.Options) { o.Algorithms = []string{verify.HS256} }, "needs Options.Secret"},
		{"secret without HS256", func(o *verify.Options) { o.Secret, o.Algorithms = secret, []string{verify.EdDSA} }, "does not list HS256"},
		{"short secret", func(o *verify.Options) { o.Secret = secret[:31] }, "at least 32"},
		{"negative leeway", func(o *verify.Options) { o.Leeway = -time.Second }, "negative"},
		{"MaxStaleness too small", func(o *verify.Options) { o.MaxStaleness = time.Second }, "below 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := iss.Options()
			tt.edit(&opts)
			v, err := verify.New(ctx, opts)
			if err == nil {
				v.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestNewRefusesMisconfiguredIssuer(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*verify.TestIssuer, *verify.Options)
		want  string
	}{
		// RFC 8414 §3.3: the document must name the issuer asked for.
		{"metadata names another issuer", func(iss *verify.TestIssuer, _ *verify.Options) {
			iss.EditMetadata(func(doc map[string]any) { doc["issuer"] = "https://evil.example" })
		}, `names issuer "https://evil.example"`},
		{"issuer configured with a trailing slash", func(iss *verify.TestIssuer, o *verify.Options) { o.Issuer += "/" }, "names issuer"},
		{"no metadata there", func(iss *verify.TestIssuer, o *verify.Options) { o.Issuer += "/elsewhere" }, "status 404"},
		{"metadata not JSON", func(iss *verify.TestIssuer, _ *verify.Options) {
			iss.EditMetadata(func(doc map[string]any) { doc["issuer"] = []int{1} })
		}, "not the expected JSON"},
		{"no jwks_uri", func(iss *verify.TestIssuer, _ *verify.Options) {
			iss.EditMetadata(func(doc map[string]any) { delete(doc, "jwks_uri") })
		}, "no jwks_uri"},
		{"jwks_uri not a URL", func(iss *verify.TestIssuer, _ *verify.Options) {
			iss.EditMetadata(func(doc map[string]any) { doc["jwks_uri"] = "/.well-known/jwks.json" })
		}, "not an absolute http(s) URL"},
		{"JWKS unreachable", func(iss *verify.TestIssuer, _ *verify.Options) { iss.SetJWKSStatus(500) }, "JWKS"},
		{"credential but no feed advertised", func(iss *verify.TestIssuer, _ *verify.Options) {
			iss.EditMetadata(func(doc map[string]any) { delete(doc, "revocation_feed_endpoint") })
		}, "no revocation_feed_endpoint"},
		{"wrong credential", func(iss *verify.TestIssuer, o *verify.Options) { o.Credential = "guessed" }, "refused the credential"},
		{"feed failing", func(iss *verify.TestIssuer, _ *verify.Options) { iss.SetFeedStatus(503) }, "status 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := verify.NewTestIssuer(t)
			opts := iss.Options()
			tt.setup(iss, &opts)
			v, err := verify.New(ctx, opts)
			if err == nil {
				v.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestNewWithSecretNeedsNoJWKS(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	iss.EditMetadata(func(doc map[string]any) { delete(doc, "jwks_uri") })
	v := iss.Verifier(t, func(o *verify.Options) { o.Secret = []byte(strings.Repeat("s", 32)) })
	if iss.JWKSRequests() != 0 {
		t.Errorf("%d JWKS requests with HS256 only", iss.JWKSRequests())
	}
	if !v.FeedStatus().Following {
		t.Error("the feed is not followed")
	}
}

func TestWithoutCredentialNoFeed(t *testing.T) {
	iss := verify.NewTestIssuer(t)
	v := iss.Verifier(t, func(o *verify.Options) { o.Credential = "" })
	raw := iss.Token(t)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if len(iss.Polls()) != 0 || v.FeedStatus().Following {
		t.Errorf("feed used without a credential: %+v", iss.Polls())
	}
	// Offline verification's limit: a long silence changes nothing.
	iss.Clock.Advance(time.Minute)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Errorf("after a minute: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Error(err)
	}
}
