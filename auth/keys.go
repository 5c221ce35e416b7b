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

	"github.com/golang-jwt/jwt/v5"
)

// Signing algorithms keycard supports.
const (
	AlgHS256 = "HS256"
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// minRSABits refuses RSA keys that are too short to trust (NIST SP 800-57).
const minRSABits = 2048

// Algorithms lists the supported signing algorithms.
func Algorithms() []string { return []string{AlgHS256, AlgEdDSA, AlgES256, AlgRS256} }

func methodFor(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case AlgHS256:
		return jwt.SigningMethodHS256, nil
	case AlgEdDSA:
		return jwt.SigningMethodEdDSA, nil
	case AlgES256:
		return jwt.SigningMethodES256, nil
	case AlgRS256:
		return jwt.SigningMethodRS256, nil
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q (use %v)", alg, Algorithms())
}

// GenerateKey makes a new private key for alg and returns it as PKCS #8 PEM.
func GenerateKey(alg string) ([]byte, error) {
	var key crypto.Signer
	var err error
	switch alg {
	case AlgEdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case AlgES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("cannot generate a key for %q: use EdDSA, ES256 or RS256 (HS256 takes a secret: openssl rand -base64 48)", alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseSigningKey reads a PEM private key (PKCS #8, or SEC 1 "EC PRIVATE
// KEY", or PKCS #1 "RSA PRIVATE KEY") that must suit alg.
func ParseSigningKey(alg string, data []byte) (SigningKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return SigningKey{}, errors.New("no PEM block found")
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return SigningKey{}, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return SigningKey{}, err
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return SigningKey{}, errors.New("unsupported private key type")
	}
	key, err := publicKey(alg, signer.Public())
	if err != nil {
		return SigningKey{}, err
	}
	key.Private = signer
	return key, nil
}

// ParseVerificationKey reads a PEM public key ("PUBLIC KEY") or private key
// and keeps only its public half, for verifying tokens of alg.
func ParseVerificationKey(alg string, data []byte) (SigningKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return SigningKey{}, errors.New("no PEM block found")
	}
	if block.Type != "PUBLIC KEY" {
		key, err := ParseSigningKey(alg, data)
		key.Private = nil
		return key, err
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return SigningKey{}, err
	}
	return publicKey(alg, pub)
}

// publicKey checks that pub suits alg and names it by its thumbprint.
func publicKey(alg string, pub crypto.PublicKey) (SigningKey, error) {
	method, err := methodFor(alg)
	if err != nil {
		return SigningKey{}, err
	}
	key := SigningKey{Method: method, Public: pub}
	switch alg {
	case AlgEdDSA:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return SigningKey{}, fmt.Errorf("EdDSA needs an Ed25519 key, got %T", pub)
		}
	case AlgES256:
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return SigningKey{}, fmt.Errorf("ES256 needs a P-256 key, got %T", pub)
		}
	case AlgRS256:
		rsaKey, ok := pub.(*rsa.PublicKey)
		if !ok {
			return SigningKey{}, fmt.Errorf("RS256 needs an RSA key, got %T", pub)
		}
		if rsaKey.N.BitLen() < minRSABits {
			return SigningKey{}, fmt.Errorf("RSA key has %d bits; at least %d are required", rsaKey.N.BitLen(), minRSABits)
		}
	default:
		return SigningKey{}, fmt.Errorf("%s takes a shared secret, not a key file", alg)
	}
	jwk, err := publicJWK(pub)
	if err != nil {
		return SigningKey{}, err
	}
	key.ID = thumbprint(jwk)
	return key, nil
}

// JWK is a public JSON Web Key as published in the JWKS (RFC 7517).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWK holds exactly the members RFC 7638 §3.2 hashes, per key type.
func publicJWK(pub crypto.PublicKey) (JWK, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64u(k)}, nil
	case *ecdsa.PublicKey:
		// The uncompressed point is 0x04 || X || Y, each coordinate padded
		// to the curve size, as RFC 7518 §6.2.1.2 wants them.
		point, err := k.Bytes()
		if err != nil {
			return JWK{}, err
		}
		size := (len(point) - 1) / 2
		return JWK{Kty: "EC", Crv: k.Curve.Params().Name, X: b64u(point[1 : 1+size]), Y: b64u(point[1+size:])}, nil
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", N: b64u(k.N.Bytes()), E: b64u(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return JWK{}, fmt.Errorf("unsupported public key %T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required
// members in lexicographic order, no whitespace.
func thumbprint(j JWK) string {
	var canonical string
	switch j.Kty {
	case "OKP":
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, j.Crv, j.X)
	case "EC":
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j.Crv, j.X, j.Y)
	case "RSA":
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, j.E, j.N)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64u(sum[:])
}

// JWKS returns the public keys that verify tokens, as a JSON Web Key Set,
// so resource servers can verify tokens without calling keycard. HMAC
// secrets are never published: with HS256 the set is empty.
func (t *Tokens) JWKS() ([]byte, error) {
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, k := range t.Keys() {
		if k.Method.Alg() == AlgHS256 {
			continue
		}
		jwk, err := publicJWK(k.Public)
		if err != nil {
			return nil, err
		}
		jwk.Kid, jwk.Alg, jwk.Use = k.ID, k.Method.Alg(), "sig"
		set.Keys = append(set.Keys, jwk)
	}
	return json.Marshal(set)
}
