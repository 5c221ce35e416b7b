package verify

import (
	"sync"
	"time"
)

// verifiedCacheSize bounds the verified-token cache: room for every token
// in use on a busy service, a few MiB at most.
const verifiedCacheSize = 1 << 14

const verifiedShards = 16

// verifiedToken is a token that passed every check but the time-dependent
// ones, with those precomputed.
type verifiedToken struct {
	claims *Claims
	// expires is exp + leeway: refused from then on.
	expires time.Time
	// notBefore is nbf - leeway (zero without nbf), earliest is
	// iat - leeway: refused before either.
	notBefore time.Time
	earliest  time.Time
	// issuedAt is iat, compared with user cut-offs.
	issuedAt time.Time
	// The keys its sid, jti and sub have in the revocation set, worked
	// out once.
	sessionKey, tokenKey, userKey revocationKey
}

func newVerifiedToken(c *Claims, leeway time.Duration) *verifiedToken {
	t := &verifiedToken{
		claims:   c,
		expires:  c.ExpiresAt.Add(leeway),
		earliest: c.IssuedAt.Add(-leeway),
		issuedAt: c.IssuedAt.Time,

		sessionKey: keyOf(revokedSession, c.SessionID),
		tokenKey:   keyOf(revokedToken, c.ID),
		userKey:    keyOf(revokedUser, c.Subject),
	}
	if c.NotBefore != nil {
		t.notBefore = c.NotBefore.Add(-leeway)
	}
	return t
}

// checkTime repeats golang-jwt's time checks (same comparisons, same
// errors) for a token already verified once.
func (t *verifiedToken) checkTime(now time.Time) error {
	switch {
	case !now.Before(t.expires):
		return errExpired
	case now.Before(t.notBefore):
		return errNotYetValid
	case now.Before(t.earliest):
		return errIssuedInFuture
	}
	return nil
}

// verifiedTokens remembers tokens that passed full verification, keyed by
// their exact bytes. A client presents the same token on every request
// until it expires; the signature, header and claim checks of identical
// bytes give identical results, so only the time-dependent checks (and
// revocation) are repeated. Only verified tokens enter, so the cache
// cannot be poisoned; it is bounded, and a miss costs only the full
// verification it would have saved.
type verifiedTokens struct {
	shards   [verifiedShards]verifiedShard
	perShard int
}

type verifiedShard struct {
	mu     sync.RWMutex
	tokens map[string]*verifiedToken
}

func newVerifiedTokens(capacity int) *verifiedTokens {
	v := &verifiedTokens{perShard: max(1, capacity/verifiedShards)}
	for i := range v.shards {
		v.shards[i].tokens = make(map[string]*verifiedToken)
	}
	return v
}

func (v *verifiedTokens) shard(raw string) *verifiedShard {
	// The last bytes of a token are its signature: uniformly random.
	return &v.shards[int(raw[len(raw)-1])%verifiedShards]
}

func (v *verifiedTokens) get(raw string) *verifiedToken {
	s := v.shard(raw)
	s.mu.RLock()
	t := s.tokens[raw]
	s.mu.RUnlock()
	return t
}

func (v *verifiedTokens) put(raw string, t *verifiedToken) {
	s := v.shard(raw)
	s.mu.Lock()
	if len(s.tokens) >= v.perShard {
		evictHalf(s.tokens)
	}
	s.tokens[raw] = t
	s.mu.Unlock()
}

// evictHalf drops about half the entries, in Go's random map order: cheap,
// and good enough where any entry can be rebuilt on demand.
func evictHalf[K comparable, V any](m map[K]V) {
	n := len(m) / 2
	for k := range m {
		if n == 0 {
			return
		}
		delete(m, k)
		n--
	}
}
