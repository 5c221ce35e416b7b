package auth

import (
	"sync"
	"time"
)

// logBurst counts repeated security-relevant occurrences per key (a
// username, an IP, a token id) within a window, so the log warns once per
// burst instead of once per request. Bounded in size.
type logBurst struct {
	mu      sync.Mutex
	entries map[string]*burstEntry
	window  time.Duration
	limit   int
}

type burstEntry struct {
	count int
	since time.Time
}

// burstKeys bounds the keys one counter tracks; past it, half are
// forgotten (a forgotten key only warns again early).
const burstKeys = 1 << 16

func newLogBurst(window time.Duration) *logBurst {
	return &logBurst{entries: make(map[string]*burstEntry), window: window, limit: burstKeys}
}

// hit counts one occurrence of key at now and returns the count within the
// current window (1 for the first).
func (b *logBurst) hit(key string, now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil || now.Sub(e.since) > b.window {
		if len(b.entries) >= b.limit {
			evictHalf(b.entries)
		}
		e = &burstEntry{since: now}
		b.entries[key] = e
	}
	e.count++
	return e.count
}

// reset forgets key, so that its next occurrence starts a new burst.
func (b *logBurst) reset(key string) {
	b.mu.Lock()
	delete(b.entries, key)
	b.mu.Unlock()
}
