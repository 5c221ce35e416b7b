// Package ratelimit implements auth.Limiter: the generic cell rate
// algorithm (GCRA, an exact token bucket kept as one timestamp per key),
// in process memory or in Redis so that every instance shares the buckets.
// Which operations are limited, per what and how strictly is auth's policy;
// this package only keeps the buckets. It imports auth for the Rate type and
// nothing else of keycard.
//
// The limiter is written here rather than taken from go-redis/redis_rate,
// which implements the same algorithm, for two things keycard needs and
// redis_rate does not offer. Refunds: a successful login gives its token
// back (it was not a guess), which redis_rate cannot do short of Reset,
// which empties the whole bucket. And the in-process fallback: when Redis
// does not answer, Redis falls back to the same algorithm in Memory instead
// of returning the error, so a Redis outage is neither an outage of login
// nor a lifting of every limit. The Redis scripts are gcra below in Lua.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/keycard/keycard/auth"
)

// gcra decides one request. tat is the bucket's "theoretical arrival time":
// when it would be empty again at the sustained rate. A request conforms
// if tat is at most burst-1 emission intervals ahead of now.
func gcra(now, tat time.Time, r auth.Rate) (newTAT time.Time, ok bool, retryAfter time.Duration) {
	interval := r.Per / time.Duration(r.Events)
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	// Conforms unless taking a token would put tat more than a whole
	// period (the burst) ahead of now.
	if allowAt := next.Add(-r.Per); allowAt.After(now) {
		return tat, false, allowAt.Sub(now)
	}
	return next, true, 0
}

// Memory keeps buckets in this process.
type Memory struct {
	now   func() time.Time
	mu    sync.Mutex
	tats  map[string]time.Time
	limit int
}

// maxMemoryKeys bounds the buckets held; beyond it, full buckets (those
// whose tat has passed, equal to a fresh bucket) are forgotten.
const maxMemoryKeys = 1 << 18

// NewMemory returns an in-process limiter.
func NewMemory(now func() time.Time) *Memory {
	return &Memory{now: now, tats: make(map[string]time.Time), limit: maxMemoryKeys}
}

// Take implements auth.Limiter.
func (m *Memory) Take(_ context.Context, key string, r auth.Rate) (bool, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok, retryAfter := gcra(now, m.tats[key], r)
	if ok {
		if len(m.tats) >= m.limit {
			m.forgetFull(now)
		}
		m.tats[key] = tat
	}
	return ok, retryAfter, nil
}

// Refund implements auth.Limiter.
func (m *Memory) Refund(_ context.Context, key string, r auth.Rate) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, found := m.tats[key]
	if !found {
		return nil
	}
	tat = tat.Add(-r.Per / time.Duration(r.Events))
	if !tat.After(now) {
		delete(m.tats, key)
		return nil
	}
	m.tats[key] = tat
	return nil
}

// forgetFull drops buckets that have refilled completely; if that is not
// enough, arbitrary ones (a forgotten bucket starts full: the limit gets
// briefly looser, never stricter).
func (m *Memory) forgetFull(now time.Time) {
	for key, tat := range m.tats {
		if !tat.After(now) {
			delete(m.tats, key)
		}
	}
	for key := range m.tats {
		if len(m.tats) < m.limit*3/4 {
			return
		}
		delete(m.tats, key)
	}
}
