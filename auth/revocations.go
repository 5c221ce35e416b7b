package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

const revocationShards = 64

// Revocations is the in-memory copy of the revocation list. Checking a token
// reads only memory; the database is the source of truth that every process
// writes through to and pulls from incrementally (Sync), so a revocation made
// by any process reaches all of them within one sync interval.
type Revocations struct {
	shards [revocationShards]revocationShard
	now    func() time.Time
	// maxStaleness bounds how old the copy may be before token checks fail
	// closed: a process cut off from the database must not keep accepting
	// tokens that another process may have revoked.
	maxStaleness time.Duration
	// lastSync is the start time (unix nanoseconds) of the last successful
	// sync: everything committed before it is in memory.
	lastSync atomic.Int64
	size     atomic.Int64

	cursor syncCursor
	// onEntry is told about every entry this process takes in (nil: no
	// one listens): the user cache drops users whose entry says they
	// changed; the revocation feed and live session events read the rest.
	onEntry func(Revocation)
}

type revocationShard struct {
	mu sync.RWMutex
	// until maps a jti or session id to when its entry can be forgotten
	// (unix seconds).
	until map[uuid.UUID]int64
}

// NewRevocations returns an empty list that reports itself stale until the
// first successful Sync. onEntry, if not nil, is called with every entry
// the process takes in, of every kind: its own commits (Remember) and those
// synced from the log. Delivery is at least once — a sync re-reads recent
// ids that may have committed late — so listeners must be idempotent. It
// runs on the caller's goroutine (a request, or the sync loop): keep it
// short and never block.
func NewRevocations(now func() time.Time, maxStaleness time.Duration, onEntry func(Revocation)) *Revocations {
	r := &Revocations{now: now, maxStaleness: maxStaleness, onEntry: onEntry}
	for i := range r.shards {
		r.shards[i].until = make(map[uuid.UUID]int64)
	}
	r.cursor.gaps = make(map[int64]time.Time)
	return r
}

func (r *Revocations) shard(id uuid.UUID) *revocationShard {
	// UUIDv4/v7 end in random bits, so the last byte spreads evenly.
	return &r.shards[int(id[15])%revocationShards]
}

// Add records a revocation in memory. Callers add only what is already
// committed to the store.
func (r *Revocations) Add(subject string, expiresAt time.Time) {
	id, err := uuid.Parse(subject)
	if err != nil {
		return // not a keycard id: no token can carry it
	}
	until := expiresAt.Unix()
	s := r.shard(id)
	s.mu.Lock()
	prev, existed := s.until[id]
	if !existed || until > prev {
		s.until[id] = until
	}
	s.mu.Unlock()
	if !existed {
		r.size.Add(1)
	}
}

// Len is the number of entries held.
func (r *Revocations) Len() int { return int(r.size.Load()) }

// SyncAge is how old the copy is: the time since the last successful sync
// started, or -1 before the first one.
func (r *Revocations) SyncAge() time.Duration {
	last := r.lastSync.Load()
	if last == 0 {
		return -1
	}
	return r.now().Sub(time.Unix(0, last))
}

// Check fails if the token was revoked, by its jti or its session, or if
// revocation state is too stale to tell.
func (r *Revocations) Check(c *Claims) error {
	now := r.now()
	if last := r.lastSync.Load(); last == 0 || now.Sub(time.Unix(0, last)) > r.maxStaleness {
		return Unavailable(errors.New("revocation list is stale"))
	}
	if r.revoked(c.ID, now) || r.revoked(c.SessionID, now) {
		return ErrTokenRevoked
	}
	return nil
}

func (r *Revocations) revoked(subject string, now time.Time) bool {
	id, err := uuid.Parse(subject)
	if err != nil {
		return true // Verify admits only UUIDs; anything else is suspect
	}
	s := r.shard(id)
	s.mu.RLock()
	until, ok := s.until[id]
	s.mu.RUnlock()
	return ok && now.Unix() <= until
}

// Sweep forgets entries whose tokens have all expired, keeping memory
// proportional to what is currently revoked.
func (r *Revocations) Sweep() {
	now := r.now().Unix()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for id, until := range s.until {
			if until < now {
				delete(s.until, id)
				r.size.Add(-1)
			}
		}
		s.mu.Unlock()
	}
}

// revokeSessions revokes sessions of userID (all when ids is nil), records
// kind, and puts the revocations into memory: the one path by which logout,
// token revocation and an admin end sessions.
func (s *Service) revokeSessions(ctx context.Context, userID string, ids []string, kind EventKind, sessionID, detail string, client Client) error {
	now := s.clock()
	var revoked []Revocation
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		revoked, err = tx.RevokeSessions(ctx, userID, ids, now, now.Add(s.tokens.MaxLifetime()))
		if err != nil {
			return err
		}
		e := newEvent(kind, userID, "", sessionID, client, now)
		e.Detail = detail
		return tx.RecordEvent(ctx, e)
	})
	if err != nil {
		return err
	}
	s.remember(revoked)
	return nil
}

// remember puts committed revocations into memory so the very next request
// in this process sees them.
func (s *Service) remember(revoked []Revocation) {
	s.revocations.Remember(revoked...)
	if len(revoked) > 0 {
		s.observe.Revoked(RevokedSession, len(revoked))
	}
}
