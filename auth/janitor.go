package auth

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// revokedSessionRetention is how long a revoked session row is kept after
// revocation (the audit log keeps the history for longer).
const revokedSessionRetention = 24 * time.Hour

// CleanUp deletes rows that can no longer matter: revocations whose tokens
// all expired, sessions that expired or were revoked a while ago (with
// their refresh-token hashes), refresh-token hashes older than the refresh
// lifetime, passkey ceremonies that expired unfinished, and audit events
// past retention. Live rows are never touched.
func (s *Service) CleanUp(ctx context.Context) (int64, error) {
	now := s.clock()
	p := Purge{
		RevocationsExpiredBefore:       now,
		SessionsExpiredBefore:          now,
		SessionsRevokedBefore:          now.Add(-revokedSessionRetention),
		RefreshTokensCreatedBefore:     now.Add(-s.opts.RefreshTTL),
		PasskeyChallengesExpiredBefore: now,
	}
	if s.opts.AuditRetention > 0 {
		p.EventsCreatedBefore = now.Add(-s.opts.AuditRetention)
	}
	return s.store.Purge(ctx, p)
}

// RunJanitor calls CleanUp every interval until ctx ends. Every instance
// may run it: the deletes are idempotent and batched, and a random delay
// keeps instances that started together from purging in lockstep.
func (s *Service) RunJanitor(ctx context.Context, interval time.Duration, log *slog.Logger) {
	delay := time.Duration(rand.Int64N(int64(interval)))
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		deleted, err := s.CleanUp(ctx)
		switch {
		case err != nil:
			log.Warn("janitor: clean-up failed; will retry", "err", err)
		case deleted > 0:
			log.Info("janitor: deleted rows that can no longer matter", "rows", deleted)
		}
		timer.Reset(interval)
	}
}
