package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// UserCache caches user rows for `me`. Entries are dropped when the user
// changes: at once in this process, and within one revocation sync in every
// other (a user change is logged with the revocations), so a cached user is
// never staler than a revocation is late. maxAge bounds what an
// out-of-band change (SQL typed by hand) can leave behind.
type UserCache struct {
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

const (
	// userCacheSize and userCacheMaxAge bound the cache; changes made
	// through keycard reach it within one revocation sync anyway.
	userCacheSize   = 1 << 16
	userCacheMaxAge = 10 * time.Minute
)

// NewUserCache returns an empty cache. The same cache goes to NewService,
// which reads through it, and its Forget to NewRevocations, which
// drops users changed by other processes.
func NewUserCache() *UserCache {
	u := &UserCache{perShard: max(1, userCacheSize/cacheShards), maxAge: userCacheMaxAge}
	for i := range u.shards {
		u.shards[i].users = make(map[string]cachedUser)
	}
	return u
}

func (u *UserCache) shard(id string) *userShard {
	if id == "" {
		return &u.shards[0]
	}
	// UUIDs end in random hex digits.
	return &u.shards[int(id[len(id)-1])%cacheShards]
}

func (u *UserCache) get(id string, now time.Time) *User {
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
func (u *UserCache) version() uint64 { return u.changes.Load() }

func (u *UserCache) put(user *User, fetchedAt time.Time, version uint64) {
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

// Invalidate drops the cached copy of user id; a read racing with it does
// not store what it read.
func (u *UserCache) Invalidate(id string) {
	s := u.shard(id)
	s.mu.Lock()
	u.changes.Add(1)
	delete(s.users, id)
	s.mu.Unlock()
}

// user reads a user through the cache, from store on a miss (inside a
// transaction, its store: the transaction may hold the only connection).
func (s *Service) user(ctx context.Context, store Store, id string) (*User, error) {
	now := s.now()
	if user := s.users.get(id, now); user != nil {
		return user, nil
	}
	version := s.users.version()
	user, err := store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.users.put(user, now, version)
	return user, nil
}

// Forget drops the cached copy of the user a UserChanged entry names; other
// entries are no concern of the cache. It is the listener to hand to
// NewRevocations (alone, or among others).
func (u *UserCache) Forget(r Revocation) {
	if r.Kind == UserChanged {
		u.Invalidate(r.Subject)
	}
}
