package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/store/storetest"
)

var asymmetricAlgs = []string{auth.AlgEdDSA, auth.AlgES256, auth.AlgRS256}

// generatedPEMs caches keys from auth.GenerateKey by algorithm and slot: a
// 3072-bit RSA key takes a second or more to generate.
var generatedPEMs = struct {
	sync.Mutex
	byName map[string][]byte
}{byName: map[string][]byte{}}

// keyPEM is a private key for alg; slots 0, 1, 2... are distinct keys.
func keyPEM(t testing.TB, alg string, slot int) []byte {
	t.Helper()
	generatedPEMs.Lock()
	defer generatedPEMs.Unlock()
	name := fmt.Sprintf("%s/%d", alg, slot)
	if pemKey, ok := generatedPEMs.byName[name]; ok {
		return pemKey
	}
	pemKey, err := auth.GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	generatedPEMs.byName[name] = pemKey
	return pemKey
}

func signingKey(t testing.TB, alg string, slot int) auth.SigningKey {
	t.Helper()
	key, err := auth.ParseSigningKey(alg, keyPEM(t, alg, slot))
	if err != nil {
		t.Fatalf("ParseSigningKey(%s): %v", alg, err)
	}
	return key
}

func publicKeyDER(t testing.TB, key auth.SigningKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func publicKeyPEM(t testing.TB, key auth.SigningKey) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicKeyDER(t, key)})
}

// writeKeyFile writes content to a new file in the test's temp dir, as an
// operator would write the output of `keycard keys generate`.
func writeKeyFile(t testing.TB, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tokenHeader decodes the JOSE header of a compact JWS.
func tokenHeader(t testing.TB, raw string) map[string]any {
	t.Helper()
	segment, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatalf("token header %q: %v", segment, err)
	}
	var header map[string]any
	if err := json.Unmarshal(b, &header); err != nil {
		t.Fatalf("token header %s: %v", b, err)
	}
	return header
}

type jwkSet struct {
	Keys []map[string]any `json:"keys"`
}

func (set jwkSet) kids() []string {
	var kids []string
	for _, k := range set.Keys {
		kid, _ := k["kid"].(string)
		kids = append(kids, kid)
	}
	return kids
}

// jwks fetches the published key set.
func (s *server) jwks(t testing.TB) (jwkSet, string) {
	t.Helper()
	resp, err := s.http.Client().Get(s.http.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /.well-known/jwks.json: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("JWKS Content-Type = %q, want application/jwk-set+json (RFC 7517 §8.5)", ct)
	}
	var set jwkSet
	if err := json.Unmarshal(body, &set); err != nil || set.Keys == nil {
		t.Fatalf("JWKS is not a key set (%v): %s", err, body)
	}
	return set, string(body)
}

// jwkPublicKey builds a public key from a JWK's members, as a resource
// server that knows nothing but the JWKS would.
func jwkPublicKey(jwk map[string]any) (crypto.PublicKey, error) {
	member := func(name string) []byte {
		s, _ := jwk[name].(string)
		b, _ := base64.RawURLEncoding.Strict().DecodeString(s)
		return b
	}
	switch jwk["kty"] {
	case "OKP":
		if x := member("x"); jwk["crv"] == "Ed25519" && len(x) == ed25519.PublicKeySize {
			return ed25519.PublicKey(x), nil
		}
	case "EC":
		if jwk["crv"] == "P-256" {
			return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, member("x"), member("y")))
		}
	case "RSA":
		if e := new(big.Int).SetBytes(member("e")); e.IsInt64() && e.Int64() > 1 && e.Int64() < 1<<31 {
			return &rsa.PublicKey{N: new(big.Int).SetBytes(member("n")), E: int(e.Int64())}, nil
		}
	}
	return nil, fmt.Errorf("unusable JWK %v", jwk)
}

// verifyWithJWKS verifies raw as a resource server would, with only the
// published key set: the key by kid, the algorithm pinned to the key's.
func verifyWithJWKS(set jwkSet, raw string) (jwt.MapClaims, error) {
	var algs []string
	for _, k := range set.Keys {
		if alg, ok := k["alg"].(string); ok && !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(devIssuer),
		jwt.WithAudience("keycard"),
	).ParseWithClaims(raw, claims, func(token *jwt.Token) (any, error) {
		kid, _ := token.Header["kid"].(string)
		for _, k := range set.Keys {
			if k["kid"] == kid && k["alg"] == token.Method.Alg() && k["use"] == "sig" {
				return jwkPublicKey(k)
			}
		}
		return nil, errors.New("no published key for kid " + kid)
	})
	return claims, err
}

func TestAsymmetricKeySignsTokensVerifiableWithTheJWKS(t *testing.T) {
	t.Parallel()
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			key := signingKey(t, alg, 0)
			file := writeKeyFile(t, "signing.pem", keyPEM(t, alg, 0))
			s := startSQLite(t, withEnv("KEYCARD_JWT_ALG", alg), withEnv("KEYCARD_JWT_KEY_FILE", file))
			reg := s.register(t, "yara", "open-sesame-42")
			resp := s.me(t, reg.AccessToken)
			expectOK(t, resp)
			var me user
			resp.into(t, "me", &me)
			if me.ID != reg.User.ID {
				t.Errorf("me = %s, want %s", me.ID, reg.User.ID)
			}

			header := tokenHeader(t, reg.AccessToken)
			if header["alg"] != alg || header["typ"] != "at+jwt" || header["kid"] != key.ID {
				t.Errorf("token header %v, want alg %s typ at+jwt kid %s", header, alg, key.ID)
			}

			set, body := s.jwks(t)
			if !slices.Equal(set.kids(), []string{key.ID}) {
				t.Fatalf("JWKS kids %v, want [%s]: %s", set.kids(), key.ID, body)
			}
			claims, err := verifyWithJWKS(set, reg.AccessToken)
			if err != nil {
				t.Fatalf("a resource server with only the JWKS rejects the token: %v", err)
			}
			if claims["sub"] != reg.User.ID {
				t.Errorf("sub = %v, want %s", claims["sub"], reg.User.ID)
			}

			refreshed := s.refresh(t, reg.refresh())
			expectOK(t, refreshed)
			var p authPayload
			refreshed.into(t, "refresh", &p)
			if _, err := verifyWithJWKS(set, p.AccessToken); err != nil {
				t.Errorf("refreshed token does not verify with the JWKS: %v", err)
			}
		})
	}
}

// otherAsymmetricAlg is a configurable algorithm other than alg, for
// tokens signed with the wrong kind of key.
func otherAsymmetricAlg(alg string) string {
	if alg == auth.AlgEdDSA {
		return auth.AlgES256
	}
	return auth.AlgEdDSA
}

func TestForgedAsymmetricTokensAreUnauthenticated(t *testing.T) {
	t.Parallel()
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			key, other := signingKey(t, alg, 0), signingKey(t, alg, 1)
			wrongKind := signingKey(t, otherAsymmetricAlg(alg), 0)
			file := writeKeyFile(t, "signing.pem", keyPEM(t, alg, 0))
			s := startSQLite(t, withEnv("KEYCARD_JWT_ALG", alg), withEnv("KEYCARD_JWT_KEY_FILE", file))
			reg := s.register(t, "zora", "open-sesame-42")
			parsed, _, err := jwt.NewParser().ParseUnverified(reg.AccessToken, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			real := parsed.Claims.(jwt.MapClaims)
			f := forge{sub: real["sub"].(string), sid: real["sid"].(string), now: s.clock.Now()}
			ours := map[string]any{"kid": key.ID}

			// Control: forged with our private key and nothing wrong,
			// the token is accepted, so each case fails for its defect.
			expectOK(t, s.me(t, f.sign(t, key.Method, key.Private, ours, nil)))

			cases := map[string]string{
				"alg none": b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": key.ID}) + "." + b64(f.claims()) + ".",
				// Algorithm confusion (RFC 8725 §2.1): our public key,
				// which anyone can fetch, as an HMAC secret.
				"HS256 keyed with the public key PEM": f.sign(t, jwt.SigningMethodHS256, publicKeyPEM(t, key), ours, nil),
				"HS256 keyed with the public key DER": f.sign(t, jwt.SigningMethodHS256, publicKeyDER(t, key), ours, nil),
				// KEYCARD_JWT_SECRET is set (startServer sets it) but
				// unused: tokens keyed with it must not pass either.
				"HS256 keyed with KEYCARD_JWT_SECRET":            f.sign(t, jwt.SigningMethodHS256, []byte(testSecret), nil, nil),
				"HS256 keyed with KEYCARD_JWT_SECRET, our kid":   f.sign(t, jwt.SigningMethodHS256, []byte(testSecret), ours, nil),
				"another " + alg + " key under our kid":          f.sign(t, other.Method, other.Private, ours, nil),
				"another " + alg + " key under its own kid":      f.sign(t, other.Method, other.Private, map[string]any{"kid": other.ID}, nil),
				wrongKind.Method.Alg() + " key under our kid":    f.sign(t, wrongKind.Method, wrongKind.Private, ours, nil),
				wrongKind.Method.Alg() + " key under its kid":    f.sign(t, wrongKind.Method, wrongKind.Private, map[string]any{"kid": wrongKind.ID}, nil),
				"our key, typ JWT":                               f.sign(t, key.Method, key.Private, map[string]any{"kid": key.ID, "typ": "JWT"}, nil),
				"our key, no kid":                                f.sign(t, key.Method, key.Private, map[string]any{"kid": nil}, nil),
				"our key, wrong iss":                             f.sign(t, key.Method, key.Private, ours, func(c jwt.MapClaims) { c["iss"] = "evil" }),
				"our key, missing exp":                           f.sign(t, key.Method, key.Private, ours, func(c jwt.MapClaims) { delete(c, "exp") }),
				"our key, nbf in the future":                     f.sign(t, key.Method, key.Private, ours, func(c jwt.MapClaims) { c["nbf"] = f.now.Add(time.Hour).Unix() }),
				"another key carried in the jwk header, our kid": f.sign(t, other.Method, other.Private, map[string]any{"kid": key.ID, "jwk": jwkOf(t, other)}, nil),
			}
			for name, token := range cases {
				t.Run(name, func(t *testing.T) {
					expectCode(t, s.me(t, token), "UNAUTHENTICATED")
				})
			}
			expectOK(t, s.me(t, reg.AccessToken))
		})
	}
}

// jwkOf is key's public JWK as a header member, as an attacker would embed
// it hoping the server uses it.
func jwkOf(t testing.TB, key auth.SigningKey) map[string]any {
	t.Helper()
	tokens, err := auth.NewTokens(auth.TokenConfig{Issuer: "keycard", Audience: "keycard", TTL: 1, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tokens.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jwkSet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", raw, err)
	}
	return set.Keys[0]
}

// Rotation: a new key signs while the old one, listed in
// KEYCARD_JWT_VERIFY_KEY_FILES, verifies until it is dropped.
func TestSigningKeyRotationAcrossRestarts(t *testing.T) {
	t.Parallel()
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			keyA, keyB := signingKey(t, alg, 0), signingKey(t, alg, 1)
			fileA := writeKeyFile(t, "a.pem", keyPEM(t, alg, 0))
			publicFileA := writeKeyFile(t, "a.pub.pem", publicKeyPEM(t, keyA))
			fileB := writeKeyFile(t, "b.pem", keyPEM(t, alg, 1))
			s := startSQLite(t, withEnv("KEYCARD_JWT_ALG", alg), withEnv("KEYCARD_JWT_KEY_FILE", fileA))
			regA := s.register(t, "ada", "open-sesame-42")
			tokenA := regA.AccessToken
			if kid := tokenHeader(t, tokenA)["kid"]; kid != keyA.ID {
				t.Fatalf("kid %v, want A's %s", kid, keyA.ID)
			}

			// Step 0: B is published before it signs, so that resource
			// servers caching the JWKS know it by the time it does.
			s.env["KEYCARD_JWT_VERIFY_KEY_FILES"] = writeKeyFile(t, "b.pub.pem", publicKeyPEM(t, keyB))
			s.restart()
			expectOK(t, s.me(t, tokenA))
			if kid := tokenHeader(t, s.login(t, "ada", "open-sesame-42").AccessToken)["kid"]; kid != keyA.ID {
				t.Errorf("login kid %v while B is only published, want A's %s", kid, keyA.ID)
			}
			if set, body := s.jwks(t); !slices.Equal(set.kids(), []string{keyA.ID, keyB.ID}) {
				t.Errorf("JWKS kids %v, want [A B] = [%s %s]: %s", set.kids(), keyA.ID, keyB.ID, body)
			}

			// Step 1: B signs, A still verifies.
			s.env["KEYCARD_JWT_KEY_FILE"] = fileB
			s.env["KEYCARD_JWT_VERIFY_KEY_FILES"] = publicFileA
			s.restart()
			expectOK(t, s.me(t, tokenA))
			tokenB := s.login(t, "ada", "open-sesame-42").AccessToken
			if kid := tokenHeader(t, tokenB)["kid"]; kid != keyB.ID {
				t.Errorf("new login kid %v, want B's %s", kid, keyB.ID)
			}
			expectOK(t, s.me(t, tokenB))
			refreshed := s.refresh(t, regA.refresh())
			expectOK(t, refreshed)
			var p authPayload
			refreshed.into(t, "refresh", &p)
			if kid := tokenHeader(t, p.AccessToken)["kid"]; kid != keyB.ID {
				t.Errorf("refreshed token kid %v, want B's %s", kid, keyB.ID)
			}
			set, body := s.jwks(t)
			if !slices.Equal(set.kids(), []string{keyB.ID, keyA.ID}) {
				t.Errorf("JWKS kids %v, want [B A] = [%s %s]: %s", set.kids(), keyB.ID, keyA.ID, body)
			}
			for name, token := range map[string]string{"A": tokenA, "B": tokenB} {
				if _, err := verifyWithJWKS(set, token); err != nil {
					t.Errorf("token of %s does not verify with the JWKS: %v", name, err)
				}
			}

			// Listing the signing key among the verification keys too,
			// as an operator midway through a rotation may, publishes
			// it once.
			s.env["KEYCARD_JWT_VERIFY_KEY_FILES"] = publicFileA + "," + fileB
			s.restart()
			expectOK(t, s.me(t, tokenA))
			if set, body := s.jwks(t); !slices.Equal(set.kids(), []string{keyB.ID, keyA.ID}) {
				t.Errorf("JWKS kids %v, want [B A] = [%s %s]: %s", set.kids(), keyB.ID, keyA.ID, body)
			}

			// Step 2: A is dropped; its tokens stop working.
			delete(s.env, "KEYCARD_JWT_VERIFY_KEY_FILES")
			s.restart()
			expectCode(t, s.me(t, tokenA), "UNAUTHENTICATED")
			expectOK(t, s.me(t, tokenB))
			set, body = s.jwks(t)
			if !slices.Equal(set.kids(), []string{keyB.ID}) {
				t.Errorf("JWKS kids %v, want only B's %s: %s", set.kids(), keyB.ID, body)
			}
			if _, err := verifyWithJWKS(set, tokenA); err == nil {
				t.Error("token of A verifies with the JWKS after A was dropped")
			}
		})
	}
}

func TestHS256PublishesAnEmptyJWKS(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	_, body := s.jwks(t)
	if body != `{"keys":[]}` {
		t.Errorf(`JWKS = %s, want {"keys":[]}: the HMAC secret must never be published`, body)
	}
	if strings.Contains(body, base64.RawURLEncoding.EncodeToString([]byte(testSecret))) {
		t.Error("JWKS contains the HMAC secret")
	}
}

// Without a key file, development generates a key once and keeps it in the
// database: tokens survive restarts, and every instance on the database
// signs with it.
func TestDevelopmentKeyIsGeneratedAndKeptInTheDatabase(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{auth.AlgEdDSA, auth.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			storetestEach(t, func(t *testing.T, dbURL string) {
				s := startServer(t, dbURL, withEnv("KEYCARD_JWT_ALG", alg))
				reg := s.register(t, "bea", "open-sesame-42")
				header := tokenHeader(t, reg.AccessToken)
				kid, _ := header["kid"].(string)
				if header["alg"] != alg || kid == "" {
					t.Fatalf("token header %v, want alg %s and a kid", header, alg)
				}
				set, _ := s.jwks(t)
				if !slices.Equal(set.kids(), []string{kid}) {
					t.Errorf("JWKS kids %v, want [%s]", set.kids(), kid)
				}
				if _, err := verifyWithJWKS(set, reg.AccessToken); err != nil {
					t.Errorf("token does not verify with the JWKS: %v", err)
				}

				s.restart()
				expectOK(t, s.me(t, reg.AccessToken))
				if got := tokenHeader(t, s.login(t, "bea", "open-sesame-42").AccessToken)["kid"]; got != kid {
					t.Errorf("kid after restart %v, want the stored key's %s", got, kid)
				}

				second := startServer(t, dbURL, withEnv("KEYCARD_JWT_ALG", alg))
				expectOK(t, second.me(t, reg.AccessToken))
				if got := tokenHeader(t, second.login(t, "bea", "open-sesame-42").AccessToken)["kid"]; got != kid {
					t.Errorf("kid of a second instance %v, want the stored key's %s", got, kid)
				}
			})
		})
	}
}

func TestProductionRequiresKeyFileForAsymmetricAlgorithms(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			env := map[string]string{
				"KEYCARD_ENV":          "production",
				"KEYCARD_JWT_ALG":      alg,
				"KEYCARD_DATABASE_URL": storetest.SQLiteURL(t),
				"KEYCARD_PUBLIC_URL":   "https://auth.example.com",
			}
			lookupEnv := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
			if _, err := config.LoadEnv(lookupEnv, nil); err == nil || !strings.Contains(err.Error(), "KEYCARD_JWT_KEY_FILE") {
				t.Errorf("config.LoadEnv without a key file: %v, want an error naming KEYCARD_JWT_KEY_FILE", err)
			}

			// app.New checks again, for a Config built some other way.
			env["KEYCARD_ENV"] = "development"
			cfg, err := config.LoadEnv(lookupEnv, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Mode = config.Production
			a, err := app.New(context.Background(), cfg, app.Options{NoBackground: true, PasswordParams: &cheapArgon2})
			if err == nil {
				a.Close()
				t.Fatal("app.New started in production without a key file")
			}
			if !strings.Contains(err.Error(), "KEYCARD_JWT_KEY_FILE") {
				t.Errorf("app.New: %v, want an error naming KEYCARD_JWT_KEY_FILE", err)
			}

			// Control: with a key file, production starts.
			env["KEYCARD_ENV"] = "production"
			env["KEYCARD_JWT_KEY_FILE"] = writeKeyFile(t, "signing.pem", keyPEM(t, alg, 0))
			if cfg, err = config.LoadEnv(lookupEnv, nil); err != nil {
				t.Fatalf("config.LoadEnv with a key file: %v", err)
			}
			if a, err = app.New(context.Background(), cfg, app.Options{NoBackground: true, PasswordParams: &cheapArgon2}); err != nil {
				t.Fatalf("app.New with a key file: %v", err)
			}
			a.Close()
		})
	}
}

// A key that cannot work stops the start with a message naming what is
// wrong, instead of a server that rejects every token.
func TestStartRefusesUnusableKeyConfiguration(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	edFile := write("ed.pem", keyPEM(t, auth.AlgEdDSA, 0))
	ecFile := write("ec.pem", keyPEM(t, auth.AlgES256, 0))
	garbage := write("garbage.pem", []byte("not a key\n"))
	empty := write("empty.pem", nil)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		env  map[string]string
		want string // in the error
	}{
		{"key file missing", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": missing}, "KEYCARD_JWT_KEY_FILE"},
		{"key file empty", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": empty}, "EdDSA"},
		{"key file garbage", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": garbage}, "EdDSA"},
		{"ES256 key for EdDSA", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": ecFile}, "Ed25519"},
		{"EdDSA key for ES256", map[string]string{"KEYCARD_JWT_ALG": "ES256", "KEYCARD_JWT_KEY_FILE": edFile}, "P-256"},
		{"verify key file of another algorithm", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": edFile, "KEYCARD_JWT_VERIFY_KEY_FILES": ecFile}, ecFile},
		{"verify key file missing", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": edFile, "KEYCARD_JWT_VERIFY_KEY_FILES": edFile + "," + missing}, "KEYCARD_JWT_VERIFY_KEY_FILES"},
		{"verify key file garbage", map[string]string{"KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_JWT_KEY_FILE": edFile, "KEYCARD_JWT_VERIFY_KEY_FILES": garbage}, garbage},
		{"HS256 with a key file", map[string]string{"KEYCARD_JWT_ALG": "HS256", "KEYCARD_JWT_KEY_FILE": edFile}, "KEYCARD_JWT_KEY_FILE"},
		{"HS256 with verify key files", map[string]string{"KEYCARD_JWT_ALG": "HS256", "KEYCARD_JWT_VERIFY_KEY_FILES": edFile}, "KEYCARD_JWT_VERIFY_KEY_FILES"},
		{"alg none", map[string]string{"KEYCARD_JWT_ALG": "none"}, "KEYCARD_JWT_ALG"},
		{"alg HS512", map[string]string{"KEYCARD_JWT_ALG": "HS512"}, "KEYCARD_JWT_ALG"},
		{"alg in lower case", map[string]string{"KEYCARD_JWT_ALG": "eddsa"}, "KEYCARD_JWT_ALG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"KEYCARD_DATABASE_URL": storetest.SQLiteURL(t), "KEYCARD_JWT_SECRET": testSecret}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
			if err == nil {
				var a *app.App
				a, err = app.New(context.Background(), cfg, app.Options{NoBackground: true, PasswordParams: &cheapArgon2})
				if err == nil {
					a.Close()
					t.Fatal("keycard started")
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
