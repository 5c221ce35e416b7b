package auth

import "sync"

// cacheShards splits the token and user caches so that concurrent
// requests rarely wait on one lock.
const cacheShards = 16

// verifiedTokens remembers access tokens that passed full verification,
// keyed by their exact bytes. A client presents the same token on every
// request for its lifetime; the signature, header and claim checks of
// identical bytes give identical results, so only the time-dependent checks
// are repeated (see Tokens.Verify). Only verified tokens enter, so the
// cache cannot be poisoned; it is bounded, and a miss costs nothing but the
// full verification it replaces.
type verifiedTokens struct {
	shards   [cacheShards]verifiedShard
	perShard int
}

type verifiedShard struct {
	mu     sync.RWMutex
	claims map[string]*Claims
}

func newVerifiedTokens(capacity int) *verifiedTokens {
	v := &verifiedTokens{perShard: max(1, capacity/cacheShards)}
	for i := range v.shards {
		v.shards[i].claims = make(map[string]*Claims)
	}
	return v
}

func (v *verifiedTokens) shard(raw string) *verifiedShard {
	// The last bytes of a token are its signature: uniformly random.
	return &v.shards[int(raw[len(raw)-1])%cacheShards]
}

func (v *verifiedTokens) get(raw string) *Claims {
	if len(raw) == 0 {
		return nil
	}
	s := v.shard(raw)
	s.mu.RLock()
	c := s.claims[raw]
	s.mu.RUnlock()
	return c
}

func (v *verifiedTokens) put(raw string, c *Claims) {
	s := v.shard(raw)
	s.mu.Lock()
	if len(s.claims) >= v.perShard {
		evictHalf(s.claims)
	}
	s.claims[raw] = c
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
