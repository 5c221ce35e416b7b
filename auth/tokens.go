package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// AccessTokenType is the JOSE "typ" of keycard access tokens (RFC 9068 §2.1).
// Requiring it on verification stops other JWTs signed with the same key (ID
// tokens, tokens of another product) from being replayed as access tokens.
const AccessTokenType = "at+jwt"

// MaxTokenBytes bounds what is handed to the JWT parser; anything larger is
// refused unparsed so that a huge header cannot cost decoding time or memory.
const MaxTokenBytes = 8 << 10

// Claims are the claims of a keycard access token.
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	// Roles are the user's roles when the token was issued, for resource
	// servers that verify offline. keycard itself never authorizes by
	// them: a revoked role would live on until the token expires
	// (RequireRole reads the user's current roles).
	Roles []string `json:"roles"`
	// AMR says how the session's user signed in (RFC 8176: pwd, hwk, ...).
	AMR []string `json:"amr,omitempty"`
}

// UserID is the subject of the token.
func (c *Claims) UserID() string { return c.Subject }

// SigningKey is one key of the token key set. Private signs, Public verifies;
// for HMAC both are the same secret.
type SigningKey struct {
	ID      string
	Method  jwt.SigningMethod
	Private any
	Public  any
}

// NewHMACKey returns an HS256 key whose kid is its RFC 7638 thumbprint.
func NewHMACKey(secret []byte) SigningKey {
	// RFC 7638 §3.2: the thumbprint of an "oct" key hashes the members k and
	// kty in lexicographic order, without whitespace.
	jwk := `{"k":"` + base64.RawURLEncoding.EncodeToString(secret) + `","kty":"oct"}`
	sum := sha256.Sum256([]byte(jwk))
	return SigningKey{
		ID:      base64.RawURLEncoding.EncodeToString(sum[:]),
		Method:  jwt.SigningMethodHS256,
		Private: secret,
		Public:  secret,
	}
}

// TokenConfig configures the access-token issuer and verifier.
type TokenConfig struct {
	Issuer   string
	Audience string
	TTL      time.Duration
	// Leeway tolerates clock skew between keycard instances and resource
	// servers when checking exp, nbf and iat.
	Leeway time.Duration
	// Signer signs new tokens; Verifiers are earlier keys of the same
	// algorithm that still verify until their last token expires.
	Signer    SigningKey
	Verifiers []SigningKey
	Now       func() time.Time
}

// Tokens issues and verifies access tokens.
type Tokens struct {
	cfg      TokenConfig
	keys     map[string]SigningKey
	parser   *jwt.Parser
	verified *verifiedTokens
}

// verifiedCacheSize bounds the verified-token cache: enough for every
// token in use on a busy instance, a few MiB at most.
const verifiedCacheSize = 1 << 14

// NewTokens checks cfg and builds the issuer/verifier.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token issuer and audience must not be empty")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("access token lifetime must be positive")
	}
	if cfg.Signer.Method == nil || cfg.Signer.ID == "" {
		return nil, errors.New("no signing key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	keys := map[string]SigningKey{cfg.Signer.ID: cfg.Signer}
	for _, k := range cfg.Verifiers {
		if k.Method.Alg() != cfg.Signer.Method.Alg() {
			return nil, fmt.Errorf("verification key %s is %s, the signing key is %s: all keys must use one algorithm", k.ID, k.Method.Alg(), cfg.Signer.Method.Alg())
		}
		keys[k.ID] = k
	}
	return &Tokens{cfg: cfg, keys: keys, parser: newParser(cfg), verified: newVerifiedTokens(verifiedCacheSize)}, nil
}

// newParser holds every verification rule in one place; each option names
// the attack it stops (RFC 8725, JWT Best Current Practices).
func newParser(cfg TokenConfig) *jwt.Parser {
	return jwt.NewParser(
		// Pin the algorithm: rejects "alg":"none" and algorithm confusion
		// (an HS256 token "signed" with a public key, RFC 8725 §2.1, §3.1).
		jwt.WithValidMethods([]string{cfg.Signer.Method.Alg()}),
		// A token without exp would be valid forever once leaked.
		jwt.WithExpirationRequired(),
		// A token minted by another issuer sharing the key is not ours
		// (RFC 8725 §3.8).
		jwt.WithIssuer(cfg.Issuer),
		// A token minted for another service must not open this one
		// (substitution attack, RFC 8725 §3.9).
		jwt.WithAudience(cfg.Audience),
		// An iat in the future marks a forged or badly skewed token.
		jwt.WithIssuedAt(),
		// Small tolerance so honest clock skew does not log users out.
		jwt.WithLeeway(cfg.Leeway),
		// Reject non-canonical base64 so one token has one encoding and
		// padding tricks cannot smuggle bytes past the signature check.
		jwt.WithStrictDecoding(),
		// The injected clock, so expiry is testable and consistent.
		jwt.WithTimeFunc(cfg.Now),
	)
}

// TTL is the lifetime of issued tokens.
func (t *Tokens) TTL() time.Duration { return t.cfg.TTL }

// MaxLifetime is how long after issue a token can still pass verification
// (lifetime plus leeway): how long a revocation must be remembered.
func (t *Tokens) MaxLifetime() time.Duration { return t.cfg.TTL + t.cfg.Leeway }

// ValidUntil is the moment c stops passing verification: its exp plus the
// leeway. A revocation of it must be kept until then.
func (t *Tokens) ValidUntil(c *Claims) time.Time {
	return c.ExpiresAt.Add(t.cfg.Leeway)
}

// Keys returns the signing key followed by the verification-only keys.
func (t *Tokens) Keys() []SigningKey {
	return append([]SigningKey{t.cfg.Signer}, t.cfg.Verifiers...)
}

// Issue signs a new access token for the user and session; amr, if any,
// are the session's authentication methods.
func (t *Tokens) Issue(userID, sessionID string, roles []string, amr ...string) (string, *Claims, error) {
	now := t.cfg.Now()
	if roles == nil {
		roles = []string{}
	}
	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.cfg.TTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		SessionID: sessionID,
		Roles:     roles,
		AMR:       amr,
	}
	token := jwt.NewWithClaims(t.cfg.Signer.Method, claims)
	token.Header["typ"] = AccessTokenType
	token.Header["kid"] = t.cfg.Signer.ID
	signed, err := token.SignedString(t.cfg.Signer.Private)
	if err != nil {
		return "", nil, err
	}
	return signed, claims, nil
}

// Verify checks signature and claims of raw and returns its claims, which
// the caller must not modify: they may be shared with other requests
// presenting the same token. It does not consult revocation; see
// Service.Authenticate for the full check.
func (t *Tokens) Verify(raw string) (*Claims, error) {
	if len(raw) > MaxTokenBytes || !compactJWS(raw) {
		return nil, ErrInvalidToken
	}
	if claims := t.verified.get(raw); claims != nil {
		// These exact bytes passed every check before; only time has
		// changed since. Same comparisons as golang-jwt's validator.
		now := t.cfg.Now()
		leeway := t.cfg.Leeway
		if !now.Before(claims.ExpiresAt.Add(leeway)) || now.Before(claims.NotBefore.Add(-leeway)) || now.Before(claims.IssuedAt.Add(-leeway)) {
			return nil, ErrInvalidToken
		}
		return claims, nil
	}
	claims, err := t.parse(raw)
	if err != nil {
		return nil, err
	}
	t.verified.put(raw, claims)
	return claims, nil
}

// parse runs the full verification of raw with golang-jwt.
func (t *Tokens) parse(raw string) (*Claims, error) {
	claims := &Claims{}
	token, err := t.parser.ParseWithClaims(raw, claims, t.keyFor)
	if err != nil || !token.Valid {
		return nil, ErrInvalidToken.wrap(err)
	}
	// jti and sid key the revocation set; a token without them could never
	// be revoked. nbf and iat are always issued and are rechecked from the
	// cache, so a token without them is not ours.
	if claims.Subject == "" || claims.NotBefore == nil || claims.IssuedAt == nil ||
		uuid.Validate(claims.ID) != nil || uuid.Validate(claims.SessionID) != nil {
		return nil, ErrInvalidToken
	}
	// A token meant to live longer than this configuration issues was
	// issued under a longer access lifetime (or forged with a stolen key).
	// Shortening KEYCARD_ACCESS_TTL is the natural response to an
	// incident; it must cut such tokens off, not leave them valid, and
	// their revocations forgotten, until their own exp.
	if claims.ExpiresAt.Sub(claims.IssuedAt.Time) > t.cfg.TTL+t.cfg.Leeway {
		return nil, ErrInvalidToken
	}
	return claims, nil
}

// compactJWS admits only the characters of a compact JWS: base64url and the
// two dots. Go's base64 decoder skips CR and LF even in strict mode, which
// would give one token many spellings.
func compactJWS(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// keyFor picks the verification key from the header. It reads only typ, crit
// and kid: jku, x5u and jwk would let the token choose its own key, so they
// are ignored (RFC 8725 §3.10).
func (t *Tokens) keyFor(token *jwt.Token) (any, error) {
	typ, _ := token.Header["typ"].(string)
	if !strings.EqualFold(typ, AccessTokenType) && !strings.EqualFold(typ, "application/"+AccessTokenType) {
		return nil, errors.New("token typ is not at+jwt")
	}
	// RFC 7515 §4.1.11: extensions listed in crit must be understood; we
	// understand none.
	if _, ok := token.Header["crit"]; ok {
		return nil, errors.New("unsupported critical header")
	}
	kid, _ := token.Header["kid"].(string)
	key, ok := t.keys[kid]
	if !ok {
		return nil, errors.New("unknown key id")
	}
	return key.Public, nil
}
