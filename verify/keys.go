package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on how long a fetched JWKS is trusted. keycard sends
// max-age ≤ 300; the floor keeps a "no-cache" or max-age=0 from turning
// every token into a fetch, the ceiling keeps a withdrawn key from living
// on for a day because of a typo.
const (
	minKeysTTL     = 30 * time.Second
	maxKeysTTL     = time.Hour
	defaultKeysTTL = 5 * time.Minute
)

// RSA moduli outside these bounds are refused: shorter is breakable (NIST
// SP 800-57), longer only makes each verification slower.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// publicKey is one usable key of the JWKS, bound to the single algorithm
// its JWK names: a key is never tried with another algorithm.
type publicKey struct {
	alg string
	key crypto.PublicKey
}

// keySet is one fetched JWKS with the tokens verified against it. It is
// never modified: a fetch replaces it whole.
type keySet struct {
	byKID map[string]publicKey
	// verified holds tokens whose signature these keys checked. A set
	// that drops or changes a key gets a new, empty cache, so no token
	// signed by a withdrawn key passes from the cache.
	verified *verifiedTokens
	// refreshAt is when max-age runs out, or after a failed fetch when
	// the next attempt is due.
	refreshAt time.Time
	// attemptedAt is the last fetch attempt, successful or not: the
	// unknown-kid rate limit counts from it.
	attemptedAt time.Time
	// err is the last attempt's failure; nil after a success.
	err error
}

// keyCache holds the issuer's signing keys.
type keyCache struct {
	url        string // empty when no pinned algorithm takes keys from the JWKS
	client     *http.Client
	algorithms []string
	minRefetch time.Duration
	now        func() time.Time
	log        *slog.Logger

	current atomic.Pointer[keySet]
	// fetching makes fetches one at a time; callers that need the result
	// (an unknown kid) wait for it, the rest use the keys they have.
	fetching sync.Mutex
}

func newKeyCache(url string, o Options) *keyCache {
	c := &keyCache{url: url, client: o.HTTPClient, algorithms: o.Algorithms, minRefetch: o.MinRefetchInterval, now: o.Now, log: o.Logger}
	c.current.Store(&keySet{byKID: map[string]publicKey{}, verified: newVerifiedTokens(verifiedCacheSize)})
	return c
}

// load makes the first fetch; New fails if it does.
func (c *keyCache) load(ctx context.Context) error {
	if c.url == "" {
		return nil
	}
	c.fetching.Lock()
	defer c.fetching.Unlock()
	if set := c.fetchLocked(ctx); set.err != nil {
		return fmt.Errorf("verify: JWKS: %w", set.err)
	}
	return nil
}

// set returns the keys to verify with. Once max-age has run out, the
// first caller to notice refetches them and waits for the answer (at most
// fetchTimeout); the others carry on with the old set meanwhile, so a
// refresh never makes requests queue.
func (c *keyCache) set(ctx context.Context, now time.Time) *keySet {
	set := c.current.Load()
	if c.url == "" || now.Before(set.refreshAt) {
		return set
	}
	if !c.fetching.TryLock() {
		return set
	}
	defer c.fetching.Unlock()
	if cur := c.current.Load(); cur != set {
		return cur
	}
	return c.fetchLocked(ctx)
}

// lookup finds the key named kid for a token of alg, refetching the JWKS
// (rate-limited) when kid is unknown: keycard publishes a new key before
// signing with it, so an unknown kid is a rotation this verifier has not
// seen yet, or a forgery. It returns the set the key came from.
func (c *keyCache) lookup(ctx context.Context, set *keySet, kid, alg string) (crypto.PublicKey, *keySet, error) {
	k, ok := set.byKID[kid]
	if !ok && c.url != "" {
		set = c.refetch(ctx)
		k, ok = set.byKID[kid]
	}
	switch {
	case !ok && set.err != nil:
		return nil, set, fmt.Errorf("%w: %w", ErrUnavailable, set.err)
	case !ok:
		return nil, set, errUnknownKey
	case k.alg != alg:
		// RFC 8725 §3.1: the key decides the algorithm, not the token.
		return nil, set, errKeyAlg
	}
	return k.key, set, nil
}

// refetch fetches the JWKS again unless a fetch was attempted within
// minRefetch, and returns the newest set.
func (c *keyCache) refetch(ctx context.Context) *keySet {
	// Checked before the lock, so a flood of made-up kids does not
	// queue on it, and again after, for those who waited on a fetch.
	if cur := c.current.Load(); c.now().Sub(cur.attemptedAt) < c.minRefetch {
		return cur
	}
	c.fetching.Lock()
	defer c.fetching.Unlock()
	if cur := c.current.Load(); c.now().Sub(cur.attemptedAt) < c.minRefetch {
		return cur
	}
	return c.fetchLocked(ctx)
}

// fetchLocked fetches the JWKS and installs the result; a failure keeps
// the keys fetched before. c.fetching must be held.
func (c *keyCache) fetchLocked(ctx context.Context) *keySet {
	old := c.current.Load()
	attempt := c.now()
	byKID, ttl, err := c.download(ctx)
	next := &keySet{attemptedAt: attempt, verified: old.verified}
	if err != nil {
		c.log.Warn("verify: JWKS fetch failed; keeping the keys fetched before", "url", c.url, "err", err)
		next.byKID, next.err, next.refreshAt = old.byKID, err, attempt.Add(c.minRefetch)
	} else {
		next.byKID, next.refreshAt = byKID, attempt.Add(ttl)
		if !keepsAll(old.byKID, byKID) {
			next.verified = newVerifiedTokens(verifiedCacheSize)
		}
		if len(byKID) == 0 {
			c.log.Warn("verify: the JWKS holds no usable key; every token will be refused", "url", c.url, "algorithms", c.algorithms)
		}
	}
	c.current.Store(next)
	return next
}

// jwk holds the members of a JSON Web Key (RFC 7517, 7518) the verifier
// reads; private members, if any, are never looked at.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// download fetches and parses the JWKS, returning its usable keys and how
// long they may be trusted.
func (c *keyCache) download(ctx context.Context) (map[string]publicKey, time.Duration, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	header, err := getJSON(ctx, c.client, c.url, "application/jwk-set+json, application/json", &doc)
	if err != nil {
		return nil, 0, err
	}
	if doc.Keys == nil {
		return nil, 0, errors.New("JWKS has no \"keys\" member")
	}
	byKID := make(map[string]publicKey, len(doc.Keys))
	duplicate := map[string]bool{}
	for _, raw := range doc.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			c.log.Warn("verify: JWKS key skipped", "err", err)
			continue
		}
		key, err := parseJWK(j, c.algorithms)
		if err != nil {
			c.log.Warn("verify: JWKS key skipped", "kid", j.Kid, "err", err)
			continue
		}
		// Two keys under one kid: which one signed is ambiguous, so
		// neither is trusted.
		if _, seen := byKID[j.Kid]; seen || duplicate[j.Kid] {
			c.log.Warn("verify: JWKS lists a kid more than once; none of its keys is used", "kid", j.Kid)
			delete(byKID, j.Kid)
			duplicate[j.Kid] = true
			continue
		}
		byKID[j.Kid] = key
	}
	return byKID, cacheLifetime(header), nil
}

// parseJWK turns j into a key for exactly one of the allowed algorithms.
func parseJWK(j jwk, allowed []string) (publicKey, error) {
	if j.Kid == "" {
		return publicKey{}, errors.New("no kid")
	}
	if j.Use != "" && j.Use != "sig" {
		return publicKey{}, fmt.Errorf("use is %q, not sig", j.Use)
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return publicKey{}, errors.New("key_ops does not allow verify")
	}
	// The alg member binds the key to one algorithm (RFC 8725 §3.1); a
	// key without it could be tried with whatever a token claims.
	if j.Alg == "" {
		return publicKey{}, errors.New("no alg")
	}
	if j.Alg == HS256 || !slices.Contains(allowed, j.Alg) {
		return publicKey{}, fmt.Errorf("alg %q is not among the pinned algorithms %v", j.Alg, allowed)
	}
	var key crypto.PublicKey
	var err error
	switch j.Alg {
	case EdDSA:
		key, err = parseOKP(j)
	case ES256:
		key, err = parseEC(j)
	case RS256:
		key, err = parseRSA(j)
	}
	if err != nil {
		return publicKey{}, err
	}
	return publicKey{alg: j.Alg, key: key}, nil
}

func parseOKP(j jwk) (crypto.PublicKey, error) {
	if j.Kty != "OKP" || j.Crv != "Ed25519" {
		return nil, fmt.Errorf("EdDSA needs kty OKP and crv Ed25519, got %q/%q", j.Kty, j.Crv)
	}
	x, err := decodeMember("x", j.X, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(x), nil
}

func parseEC(j jwk) (crypto.PublicKey, error) {
	if j.Kty != "EC" || j.Crv != "P-256" {
		return nil, fmt.Errorf("ES256 needs kty EC and crv P-256, got %q/%q", j.Kty, j.Crv)
	}
	// RFC 7518 §6.2.1.2: each coordinate is the full field size.
	x, err := decodeMember("x", j.X, 32)
	if err != nil {
		return nil, err
	}
	y, err := decodeMember("y", j.Y, 32)
	if err != nil {
		return nil, err
	}
	// Refuses points off the curve (invalid-curve attacks).
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
}

func parseRSA(j jwk) (crypto.PublicKey, error) {
	if j.Kty != "RSA" {
		return nil, fmt.Errorf("RS256 needs kty RSA, got %q", j.Kty)
	}
	n, err := decodeMember("n", j.N, 0)
	if err != nil {
		return nil, err
	}
	e, err := decodeMember("e", j.E, 0)
	if err != nil {
		return nil, err
	}
	// RFC 7518 §6.3.1: minimal big-endian octets, so no leading zero.
	if n[0] == 0 || e[0] == 0 || len(e) > 4 {
		return nil, errors.New("n or e is not a minimal unsigned integer")
	}
	modulus := new(big.Int).SetBytes(n)
	if bits := modulus.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus has %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
	}
	exponent := new(big.Int).SetBytes(e).Int64()
	if exponent < 3 || exponent%2 == 0 || exponent > 1<<31-1 {
		return nil, fmt.Errorf("RSA exponent %d is not an odd number from 3 to 2^31-1", exponent)
	}
	return &rsa.PublicKey{N: modulus, E: int(exponent)}, nil
}

// decodeMember decodes a base64url member strictly (one spelling per
// value: no padding, no stray bits, no line breaks), of exactly size bytes
// when size > 0, else non-empty.
func decodeMember(name, value string, size int) ([]byte, error) {
	if !isBase64URL(value) {
		return nil, fmt.Errorf("%s is not unpadded base64url", name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(value)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	case size > 0 && len(b) != size:
		return nil, fmt.Errorf("%s has %d bytes, want %d", name, len(b), size)
	case len(b) == 0:
		return nil, fmt.Errorf("%s is empty", name)
	}
	return b, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// keepsAll reports whether every key of old is in next, unchanged.
func keepsAll(old, next map[string]publicKey) bool {
	for kid, o := range old {
		n, ok := next[kid]
		if !ok || n.alg != o.alg {
			return false
		}
		if eq, ok := o.key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(n.key) {
			return false
		}
	}
	return true
}

// cacheLifetime is how long a JWKS answer may be used: its max-age (less
// its Age, when a cache in between already held it), within
// [minKeysTTL, maxKeysTTL]. A private cache reads max-age, not s-maxage.
func cacheLifetime(h http.Header) time.Duration {
	maxAge := int64(-1)
	for _, line := range h.Values("Cache-Control") {
		for directive := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return minKeysTTL
			case "max-age":
				secs, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
				if errors.Is(err, strconv.ErrRange) {
					secs, err = int64(maxKeysTTL/time.Second), nil
				}
				// RFC 9111 §4.2.1: with several max-age directives,
				// the smallest is the safe reading.
				if err == nil && secs >= 0 && (maxAge < 0 || secs < maxAge) {
					maxAge = secs
				}
			}
		}
	}
	if maxAge < 0 {
		return defaultKeysTTL
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
		maxAge -= min(age, maxAge)
	}
	maxAge = min(maxAge, int64(maxKeysTTL/time.Second))
	return max(time.Duration(maxAge)*time.Second, minKeysTTL)
}
