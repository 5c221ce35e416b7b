package auth

import (
	"context"
	"log/slog"
	"time"
)

// apply takes one synced entry into memory.
func (r *Revocations) apply(rev Revocation) {
	switch rev.Kind {
	case RevokedAccessToken, RevokedSession:
		r.Add(rev.Subject, rev.ExpiresAt)
	}
	// Other kinds ride the log for other readers (the user cache, the
	// revocation feed, live session events) and void no token here: only
	// an entry that names a jti or a session may, so a newer process's new
	// kind can never revoke what an older one does not understand.
	if r.onEntry != nil {
		r.onEntry(rev)
	}
}

// Remember takes entries this process has just committed, so that its very
// next request sees them and its listeners hear of them before the next
// sync reads them back.
func (r *Revocations) Remember(entries ...Revocation) {
	for _, rev := range entries {
		r.apply(rev)
	}
}

// syncBatch is how many entries one query pulls.
const syncBatch = 5000

// Sync pulls entries committed since the last sync. It is not safe for
// concurrent use with itself; Run calls it from one goroutine.
func (r *Revocations) Sync(ctx context.Context, store Store) error {
	started := r.now()
	if r.lastSync.Load() == 0 {
		if err := r.load(ctx, store, started); err != nil {
			return err
		}
	} else if err := r.pullNew(ctx, store, started); err != nil {
		return err
	}
	r.lastSync.Store(started.UnixNano())
	return nil
}

// load reads every entry still in force, up to the highest id at the
// start. Missing ids below it belong to expired or deleted rows, not to
// transactions still in flight, except possibly the last few, which the
// cursor keeps watching.
func (r *Revocations) load(ctx context.Context, store Store, now time.Time) error {
	maxID, err := store.MaxRevocationID(ctx)
	if err != nil {
		return err
	}
	after := int64(0)
	for after < maxID {
		batch, err := store.RevocationsAfter(ctx, after, now, syncBatch)
		if err != nil {
			return err
		}
		for _, rev := range batch {
			if rev.ID > maxID {
				break // committed during the load; the next sync reads it
			}
			r.apply(rev)
		}
		if len(batch) < syncBatch {
			break
		}
		after = batch[len(batch)-1].ID
	}
	r.cursor.startAt(maxID)
	return nil
}

// pullNew reads entries after the cursor, including ids it still waits for.
func (r *Revocations) pullNew(ctx context.Context, store Store, now time.Time) error {
	after := r.cursor.from()
	for {
		batch, err := store.RevocationsAfter(ctx, after, now, syncBatch)
		if err != nil {
			return err
		}
		for _, rev := range batch {
			r.apply(rev)
			r.cursor.observe(rev.ID, now)
		}
		if len(batch) < syncBatch {
			break
		}
		after = batch[len(batch)-1].ID
	}
	r.cursor.expire(now)
	return nil
}

// Run syncs every interval and sweeps expired entries until ctx ends.
// Failures are logged and retried; Check fails closed once the copy is
// older than the staleness bound.
func (r *Revocations) Run(ctx context.Context, store Store, interval time.Duration, log *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	sweepEvery := time.Minute
	lastSweep := r.now()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		syncCtx, cancel := context.WithTimeout(ctx, interval+r.maxStaleness)
		err := r.Sync(syncCtx, store)
		cancel()
		switch {
		case err != nil && !failing:
			failing = true
			log.Warn("revocation sync failing; token checks fail closed once the copy is stale",
				"err", err, "max_staleness", r.maxStaleness)
		case err == nil && failing:
			failing = false
			log.Info("revocation sync recovered")
		}
		if r.now().Sub(lastSweep) >= sweepEvery {
			r.Sweep()
			lastSweep = r.now()
		}
	}
}

// syncCursor tracks which entry ids have been seen. Auto-increment ids are
// handed out at insert but become visible at commit, so a smaller id can
// appear after a larger one; a missing id is re-read for gapWindow before it
// is taken for a rolled-back insert.
type syncCursor struct {
	maxSeen int64
	gaps    map[int64]time.Time
}

const (
	gapWindow = 10 * time.Second
	// maxGapRun stops an id jump (a bumped auto-increment, a cluster's
	// increment) from turning into a flood of watched gaps.
	maxGapRun = 1000
	// initialGapWatch is how many ids below the first maximum are watched
	// for late commits.
	initialGapWatch = 100
)

// startAt positions the cursor after a full load up to maxID. The last few
// ids are read again on the next sync, so one committed just after the load
// is still picked up.
func (c *syncCursor) startAt(maxID int64) {
	c.maxSeen = max(0, maxID-initialGapWatch)
}

func (c *syncCursor) from() int64 {
	from := c.maxSeen
	for id := range c.gaps {
		if id-1 < from {
			from = id - 1
		}
	}
	return from
}

func (c *syncCursor) observe(id int64, now time.Time) {
	if id <= c.maxSeen {
		delete(c.gaps, id)
		return
	}
	if id-c.maxSeen <= maxGapRun {
		for g := c.maxSeen + 1; g < id; g++ {
			c.gaps[g] = now
		}
	}
	c.maxSeen = id
}

func (c *syncCursor) expire(now time.Time) {
	for id, seen := range c.gaps {
		if now.Sub(seen) > gapWindow {
			delete(c.gaps, id)
		}
	}
}
