package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
)

// asymmetricAlgs are the algorithms that sign with a key file.
var asymmetricAlgs = []string{AlgEdDSA, AlgES256, AlgRS256}

// generatedPEMs caches keys from GenerateKey by algorithm and slot (0: ours,
// 1: another key of the same algorithm): a 3072-bit RSA key takes a second
// or more to generate, and many tests need one.
var generatedPEMs = struct {
	sync.Mutex
	byName map[string][]byte
}{byName: map[string][]byte{}}

func generatedPEM(t testing.TB, alg string, slot int) []byte {
	t.Helper()
	generatedPEMs.Lock()
	defer generatedPEMs.Unlock()
	name := fmt.Sprintf("%s/%d", alg, slot)
	if pemKey, ok := generatedPEMs.byName[name]; ok {
		return pemKey
	}
	pemKey, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	generatedPEMs.byName[name] = pemKey
	return pemKey
}

// generatedKey is generatedPEM parsed as a signing key.
func generatedKey(t testing.TB, alg string, slot int) SigningKey {
	t.Helper()
	key, err := ParseSigningKey(alg, generatedPEM(t, alg, slot))
	if err != nil {
		t.Fatalf("ParseSigningKey(%s): %v", alg, err)
	}
	return key
}

func pkcs8PEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func publicDER(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func publicPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER(t, pub)})
}

// handThumbprint is the RFC 7638 thumbprint of pub, with the canonical JSON
// written out by hand from the key's own encodings rather than through the
// JWK code under test.
func handThumbprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch k := pub.(type) {
	case ed25519.PublicKey:
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + enc(k) + `"}`
	case *ecdsa.PublicKey:
		// SEC 1 uncompressed point: 0x04 || X || Y, each coordinate padded
		// to the field size, as RFC 7518 §6.2.1.2 requires.
		point, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (len(point) - 1) / 2
		canonical = `{"crv":"` + k.Curve.Params().Name + `","kty":"EC","x":"` + enc(point[1:1+size]) + `","y":"` + enc(point[1+size:]) + `"}`
	case *rsa.PublicKey:
		var e []byte
		for v := k.E; v > 0; v >>= 8 {
			e = append([]byte{byte(v)}, e...)
		}
		canonical = `{"e":"` + enc(e) + `","kty":"RSA","n":"` + enc(k.N.Bytes()) + `"}`
	default:
		t.Fatalf("no thumbprint for %T", pub)
	}
	sum := sha256.Sum256([]byte(canonical))
	return enc(sum[:])
}

type equalKey interface{ Equal(crypto.PublicKey) bool }

func TestGeneratedKeyParsesBackWithItsThumbprintAsKid(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			pemKey := generatedPEM(t, alg, 0)
			if block, _ := pem.Decode(pemKey); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("GenerateKey wrote no PKCS #8 PEM block:\n%s", pemKey)
			}
			key, err := ParseSigningKey(alg, pemKey)
			if err != nil {
				t.Fatalf("ParseSigningKey(GenerateKey(%s)): %v", alg, err)
			}
			if key.Method.Alg() != alg {
				t.Errorf("method = %s, want %s", key.Method.Alg(), alg)
			}
			signer, ok := key.Private.(crypto.Signer)
			if !ok {
				t.Fatalf("Private is %T, not a crypto.Signer", key.Private)
			}
			if !signer.Public().(equalKey).Equal(key.Public) {
				t.Error("Public is not the public half of Private")
			}
			if want := handThumbprint(t, key.Public); key.ID != want {
				t.Errorf("kid = %s, want RFC 7638 thumbprint %s", key.ID, want)
			}
			again, err := ParseSigningKey(alg, pemKey)
			if err != nil || again.ID != key.ID {
				t.Errorf("parsing the same PEM again gave kid %s (%v), want %s", again.ID, err, key.ID)
			}
			if other := generatedKey(t, alg, 1); other.ID == key.ID {
				t.Errorf("two generated %s keys share kid %s", alg, key.ID)
			}
		})
	}
}

func TestGenerateKeyRefusesAlgorithmsWithoutKeys(t *testing.T) {
	for _, alg := range []string{AlgHS256, "HS512", "none", "", "eddsa", "ES384", "PS256"} {
		if pemKey, err := GenerateKey(alg); err == nil {
			t.Errorf("GenerateKey(%q) = %d bytes, want an error", alg, len(pemKey))
		}
	}
}

// RFC 7638 §3.1 computes the thumbprint of this RSA key step by step.
func TestRFC7638ExampleThumbprint(t *testing.T) {
	const (
		n    = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
		e    = "AQAB"
		want = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	)
	nBytes, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nBytes), E: 65537}
	if got := handThumbprint(t, pub); got != want {
		t.Fatalf("the test's own thumbprint = %s, want %s", got, want)
	}
	key, err := ParseVerificationKey(AlgRS256, publicPEM(t, pub))
	if err != nil {
		t.Fatalf("ParseVerificationKey(RFC 7638 key): %v", err)
	}
	if key.ID != want {
		t.Errorf("kid = %s, want %s", key.ID, want)
	}
	jwk, err := publicJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	if jwk.N != n || jwk.E != e {
		t.Errorf("JWK n, e = %s, %s; want the RFC's", jwk.N, jwk.E)
	}
}

// RFC 7518 §6.2.1.2: EC coordinates are always the full field size, so a
// coordinate with a leading zero byte must keep it or the kid (and every
// resource server's JWK) would differ from everyone else's.
func TestECCoordinateWithLeadingZeroKeepsFullLength(t *testing.T) {
	var key *ecdsa.PrivateKey
	for i := 0; i < 10000; i++ {
		candidate, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		point, err := candidate.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if point[1] == 0 || point[33] == 0 {
			key = candidate
			break
		}
	}
	if key == nil {
		t.Fatal("no P-256 key with a short coordinate in 10000 tries")
	}
	parsed, err := ParseSigningKey(AlgES256, pkcs8PEM(t, key))
	if err != nil {
		t.Fatal(err)
	}
	if want := handThumbprint(t, &key.PublicKey); parsed.ID != want {
		t.Errorf("kid = %s, want %s", parsed.ID, want)
	}
	jwk, err := publicJWK(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, coordinate := range map[string]string{"x": jwk.X, "y": jwk.Y} {
		if raw, _ := base64.RawURLEncoding.DecodeString(coordinate); len(raw) != 32 {
			t.Errorf("%s has %d bytes, want 32", name, len(raw))
		}
	}
}

func TestParseVerificationKeyKeepsOnlyThePublicHalf(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		signing := generatedKey(t, alg, 0)
		inputs := map[string][]byte{
			"PUBLIC KEY":  publicPEM(t, signing.Public),
			"private key": generatedPEM(t, alg, 0),
		}
		for name, input := range inputs {
			t.Run(alg+"/"+name, func(t *testing.T) {
				key, err := ParseVerificationKey(alg, input)
				if err != nil {
					t.Fatalf("ParseVerificationKey: %v", err)
				}
				if key.Private != nil {
					t.Errorf("Private = %T, want nil: a verification key must not sign", key.Private)
				}
				if key.ID != signing.ID || key.Method.Alg() != alg {
					t.Errorf("kid %s alg %s, want %s %s", key.ID, key.Method.Alg(), signing.ID, alg)
				}
				if !signing.Public.(equalKey).Equal(key.Public) {
					t.Error("Public differs from the signing key's")
				}
			})
		}
	}
}

func TestParseKeyAcceptsSEC1AndPKCS1(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  string
		pem  []byte
		pub  crypto.PublicKey
	}{
		{"SEC 1 EC PRIVATE KEY", AlgES256, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), &ecKey.PublicKey},
		{"PKCS #1 RSA PRIVATE KEY", AlgRS256, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), &rsaKey.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseSigningKey(tt.alg, tt.pem)
			if err != nil {
				t.Fatalf("ParseSigningKey: %v", err)
			}
			if key.Private == nil || !tt.pub.(equalKey).Equal(key.Public) {
				t.Error("parsed key is not the one encoded")
			}
			if want := handThumbprint(t, tt.pub); key.ID != want {
				t.Errorf("kid = %s, want %s", key.ID, want)
			}
			verify, err := ParseVerificationKey(tt.alg, tt.pem)
			if err != nil || verify.Private != nil || verify.ID != key.ID {
				t.Errorf("ParseVerificationKey: kid %s private %T err %v", verify.ID, verify.Private, err)
			}
		})
	}
}

func TestParseKeyRefusesKeysThatDoNotSuitTheAlgorithm(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edKey := generatedKey(t, AlgEdDSA, 0)
	ecKey := generatedKey(t, AlgES256, 0)
	rsaKey := generatedKey(t, AlgRS256, 0)
	tests := []struct {
		name string
		alg  string
		pem  []byte
	}{
		{"ES256 key for EdDSA", AlgEdDSA, generatedPEM(t, AlgES256, 0)},
		{"RSA key for EdDSA", AlgEdDSA, generatedPEM(t, AlgRS256, 0)},
		{"Ed25519 key for ES256", AlgES256, generatedPEM(t, AlgEdDSA, 0)},
		{"P-384 key for ES256", AlgES256, pkcs8PEM(t, p384)},
		{"RSA key for ES256", AlgES256, generatedPEM(t, AlgRS256, 0)},
		{"Ed25519 key for RS256", AlgRS256, generatedPEM(t, AlgEdDSA, 0)},
		{"P-256 key for RS256", AlgRS256, generatedPEM(t, AlgES256, 0)},
		{"1024-bit RSA key", AlgRS256, pkcs8PEM(t, rsa1024)},
		{"1024-bit PKCS #1 RSA key", AlgRS256, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa1024)})},
		{"public Ed25519 key for ES256", AlgES256, publicPEM(t, edKey.Public)},
		{"public P-384 key for ES256", AlgES256, publicPEM(t, &p384.PublicKey)},
		{"public 1024-bit RSA key", AlgRS256, publicPEM(t, &rsa1024.PublicKey)},
		{"public P-256 key for EdDSA", AlgEdDSA, publicPEM(t, ecKey.Public)},
		{"HS256 with an Ed25519 key file", AlgHS256, generatedPEM(t, AlgEdDSA, 0)},
		{"HS256 with a public RSA key file", AlgHS256, publicPEM(t, rsaKey.Public)},
		{"unknown algorithm", "PS256", generatedPEM(t, AlgRS256, 0)},
		{"empty algorithm", "", generatedPEM(t, AlgEdDSA, 0)},
		{"empty file", AlgEdDSA, nil},
		{"whitespace only", AlgEdDSA, []byte("\n\n  \n")},
		{"garbage", AlgEdDSA, []byte("this is not a key\n")},
		{"DER without PEM armour", AlgEdDSA, publicDER(t, edKey.Public)},
		{"PEM block of garbage", AlgEdDSA, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")})},
		{"truncated PEM", AlgEdDSA, generatedPEM(t, AlgEdDSA, 0)[:40]},
		{"certificate request block", AlgEdDSA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x00}})},
		{"encrypted private key", AlgEdDSA, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x00}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if block, _ := pem.Decode(tt.pem); block == nil || block.Type != "PUBLIC KEY" {
				if key, err := ParseSigningKey(tt.alg, tt.pem); err == nil {
					t.Errorf("ParseSigningKey accepted it (kid %s)", key.ID)
				}
			}
			if key, err := ParseVerificationKey(tt.alg, tt.pem); err == nil {
				t.Errorf("ParseVerificationKey accepted it (kid %s)", key.ID)
			}
		})
	}
}

func TestParseSigningKeyRefusesAPublicKey(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		if _, err := ParseSigningKey(alg, publicPEM(t, generatedKey(t, alg, 0).Public)); err == nil {
			t.Errorf("%s: ParseSigningKey accepted a PUBLIC KEY, which cannot sign", alg)
		}
	}
}

func TestRSAKeyOfExactlyMinimumSizeIsAccepted(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, minRSABits)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSigningKey(AlgRS256, pkcs8PEM(t, key)); err != nil {
		t.Errorf("ParseSigningKey(%d-bit RSA key): %v", minRSABits, err)
	}
}

func asymTokens(t testing.TB, signer SigningKey, verifiers ...SigningKey) *Tokens {
	t.Helper()
	tokens, err := NewTokens(TokenConfig{
		Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Leeway: testLeeway,
		Signer: signer, Verifiers: verifiers, Now: newTestClock().Now,
	})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tokens
}

func TestJWKSOfHS256IsEmpty(t *testing.T) {
	tokens := asymTokens(t, NewHMACKey(testSecret), NewHMACKey(attackerSecret))
	set, err := tokens.JWKS()
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	if string(set) != `{"keys":[]}` {
		t.Errorf(`JWKS = %s, want {"keys":[]}: HMAC secrets are never published`, set)
	}
}

// jwkMembers are exactly the public members of each key type: anything more
// (d, p, q, dp, dq, qi, k) would publish a secret.
var jwkMembers = map[string][]string{
	"OKP": {"alg", "crv", "kid", "kty", "use", "x"},
	"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
	"RSA": {"alg", "e", "kid", "kty", "n", "use"},
}

// publicKeyFromJWK builds the public key a resource server would from the
// members of a published JWK.
func publicKeyFromJWK(t testing.TB, jwk map[string]any) crypto.PublicKey {
	t.Helper()
	member := func(name string) []byte {
		t.Helper()
		s, _ := jwk[name].(string)
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) == 0 {
			t.Fatalf("JWK member %s = %q is not base64url: %v", name, s, err)
		}
		return b
	}
	switch jwk["kty"] {
	case "OKP":
		if jwk["crv"] != "Ed25519" {
			t.Fatalf("OKP crv = %v", jwk["crv"])
		}
		x := member("x")
		if len(x) != ed25519.PublicKeySize {
			t.Fatalf("Ed25519 x has %d bytes", len(x))
		}
		return ed25519.PublicKey(x)
	case "EC":
		if jwk["crv"] != "P-256" {
			t.Fatalf("EC crv = %v", jwk["crv"])
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, member("x")...), member("y")...))
		if err != nil {
			t.Fatalf("EC JWK: %v", err)
		}
		return pub
	case "RSA":
		e := new(big.Int).SetBytes(member("e"))
		if !e.IsInt64() || e.Int64() > 1<<31 {
			t.Fatalf("RSA e = %v", e)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(member("n")), E: int(e.Int64())}
	}
	t.Fatalf("unknown kty %v", jwk["kty"])
	return nil
}

func TestJWKSPublishesSignerAndVerifiersWithoutPrivateMembers(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			signer := generatedKey(t, alg, 0)
			retired, err := ParseVerificationKey(alg, publicPEM(t, generatedKey(t, alg, 1).Public))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := asymTokens(t, signer, retired).JWKS()
			if err != nil {
				t.Fatalf("JWKS: %v", err)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(raw, &set); err != nil {
				t.Fatalf("JWKS is not JSON: %v\n%s", err, raw)
			}
			want := []SigningKey{signer, retired}
			if len(set.Keys) != len(want) {
				t.Fatalf("JWKS has %d keys, want %d: %s", len(set.Keys), len(want), raw)
			}
			for i, jwk := range set.Keys {
				members := make([]string, 0, len(jwk))
				for name := range jwk {
					members = append(members, name)
				}
				slices.Sort(members)
				kty, _ := jwk["kty"].(string)
				if !slices.Equal(members, jwkMembers[kty]) {
					t.Errorf("key %d has members %v, want exactly %v", i, members, jwkMembers[kty])
				}
				if jwk["kid"] != want[i].ID || jwk["alg"] != alg || jwk["use"] != "sig" {
					t.Errorf("key %d: kid %v alg %v use %v, want %s %s sig", i, jwk["kid"], jwk["alg"], jwk["use"], want[i].ID, alg)
				}
				pub := publicKeyFromJWK(t, jwk)
				if !want[i].Public.(equalKey).Equal(pub) {
					t.Errorf("key %d does not rebuild the public key", i)
				}
				if got := handThumbprint(t, pub); got != want[i].ID {
					t.Errorf("key %d: thumbprint of its members %s, kid %s", i, got, want[i].ID)
				}
			}
		})
	}
}

func TestRotatedKeyVerifiesOnlyWhileListed(t *testing.T) {
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			keyA, keyB := generatedKey(t, alg, 0), generatedKey(t, alg, 1)
			tokenA, _, err := asymTokens(t, keyA).Issue(testUserID, testSession, nil)
			if err != nil {
				t.Fatal(err)
			}
			publicA, err := ParseVerificationKey(alg, publicPEM(t, keyA.Public))
			if err != nil {
				t.Fatal(err)
			}
			privateFileA, err := ParseVerificationKey(alg, generatedPEM(t, alg, 0))
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name      string
				verifiers []SigningKey
				wantOK    bool
			}{
				{"A listed as a public key", []SigningKey{publicA}, true},
				{"A listed from its private key file", []SigningKey{privateFileA}, true},
				{"A no longer listed", nil, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rotated := asymTokens(t, keyB, tt.verifiers...)
					_, err := rotated.Verify(tokenA)
					if tt.wantOK && err != nil {
						t.Errorf("Verify(token of A): %v, want accepted", err)
					}
					if !tt.wantOK && !errors.Is(err, ErrInvalidToken) {
						t.Errorf("Verify(token of A) = %v, want ErrInvalidToken", err)
					}
					tokenB, _, err := rotated.Issue(testUserID, testSession, nil)
					if err != nil {
						t.Fatal(err)
					}
					if kid := decodeSegment(t, strings.Split(tokenB, ".")[0])["kid"]; kid != keyB.ID {
						t.Errorf("new token kid = %v, want B's %s", kid, keyB.ID)
					}
					if _, err := rotated.Verify(tokenB); err != nil {
						t.Errorf("Verify(token of B): %v", err)
					}
				})
			}
		})
	}
}

func TestNewTokensRefusesVerifierOfAnotherAsymmetricAlgorithm(t *testing.T) {
	cfg := TokenConfig{
		Issuer: testIssuer, Audience: testAudience, TTL: testTTL,
		Signer:    generatedKey(t, AlgEdDSA, 0),
		Verifiers: []SigningKey{generatedKey(t, AlgES256, 0)},
	}
	if _, err := NewTokens(cfg); err == nil {
		t.Error("NewTokens accepted an ES256 verifier next to an EdDSA signer")
	}
}
