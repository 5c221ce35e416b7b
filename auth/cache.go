package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

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

// users caches user rows for `me`. Entries are dropped when the user
// changes: at once in this process, and within one revocation sync in every
// other (a user change is logged with the revocations), so a cached user is
// never staler than a revocation is late. maxAge bounds what an
// out-of-band change (SQL typed by hand) can leave behind.
type users struct {
	shards   [cacheShards]userShard
	perShard int
	maxAge   time.Duration
	// changes counts invalidations, so a read that raced with one does
	// not store what it read.
	changes atomic.Uint64
}

type userShard struct {
	mu    sync.RWMutex
	users map[string]cachedUser
}

type cachedUser struct {
	user      *User
	fetchedAt time.Time
}

func newUsers(capacity int, maxAge time.Duration) *users {
	u := &users{perShard: max(1, capacity/cacheShards), maxAge: maxAge}
	for i := range u.shards {
		u.shards[i].users = make(map[string]cachedUser)
	}
	return u
}

func (u *users) shard(id string) *userShard {
	if id == "" {
		return &u.shards[0]
	}
	// UUIDs end in random hex digits.
	return &u.shards[int(id[len(id)-1])%cacheShards]
}

func (u *users) get(id string, now time.Time) *User {
	s := u.shard(id)
	s.mu.RLock()
	c, ok := s.users[id]
	s.mu.RUnlock()
	if !ok || now.Sub(c.fetchedAt) > u.maxAge {
		return nil
	}
	return c.user
}

// version is read before fetching a user from the store; put stores the
// result only if no invalidation happened in between.
func (u *users) version() uint64 { return u.changes.Load() }

func (u *users) put(user *User, fetchedAt time.Time, version uint64) {
	s := u.shard(user.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.changes.Load() != version {
		return
	}
	if len(s.users) >= u.perShard {
		evictHalf(s.users)
	}
	s.users[user.ID] = cachedUser{user: user, fetchedAt: fetchedAt}
}

func (u *users) invalidate(id string) {
	s := u.shard(id)
	s.mu.Lock()
	u.changes.Add(1)
	delete(s.users, id)
	s.mu.Unlock()
}
