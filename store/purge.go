package store

import (
	"context"
	"strconv"

	"gorm.io/gorm"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/migrations"
)

// purgeBatch bounds one DELETE so the janitor never holds locks for long.
const purgeBatch = 1000

// purgeAttempts bounds retries of one batch that lost a deadlock to a
// concurrent purge. More than txAttempts: several purgers retrying the same
// rows can deadlock each other a few times in a row, and a retried batch
// costs no more than the first try.
const purgeAttempts = 10

// Purge deletes what p allows, batch by batch.
func (s *Store) Purge(ctx context.Context, p auth.Purge) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	type target struct {
		table, where string
		args         []any
	}
	targets := []target{
		{"revocations", "expires_at < ?", []any{p.RevocationsExpiredBefore.UTC()}},
		{"refresh_tokens", "created_at < ?", []any{p.RefreshTokensCreatedBefore.UTC()}},
		// Deleting a session deletes its refresh tokens (ON DELETE CASCADE).
		{"sessions", "expires_at < ? OR revoked_at < ?", []any{p.SessionsExpiredBefore.UTC(), p.SessionsRevokedBefore.UTC()}},
		{"webauthn_challenges", "expires_at < ?", []any{p.PasskeyChallengesExpiredBefore.UTC()}},
	}
	if !p.EventsCreatedBefore.IsZero() {
		targets = append(targets, target{"auth_events", "created_at < ?", []any{p.EventsCreatedBefore.UTC()}})
	}
	var total int64
	for _, t := range targets {
		for {
			var stmt string
			if s.dialect == migrations.MySQL {
				stmt = "DELETE FROM " + t.table + " WHERE " + t.where + " LIMIT " + strconv.Itoa(purgeBatch)
			} else {
				// SQLite has no DELETE … LIMIT unless compiled in.
				stmt = "DELETE FROM " + t.table + " WHERE rowid IN (SELECT rowid FROM " + t.table + " WHERE " + t.where + " LIMIT " + strconv.Itoa(purgeBatch) + ")"
			}
			// Purges running at once on MySQL deadlock on the index
			// they both scan; the losing statement was rolled back whole,
			// so it can simply run again. Inside a transaction the whole
			// transaction is gone, so only Tx may retry.
			var res *gorm.DB
			for attempt := 0; attempt < purgeAttempts; attempt++ {
				res = s.conn(ctx).Exec(stmt, t.args...)
				if s.inTx || !retryable(res.Error) {
					break
				}
			}
			if res.Error != nil {
				return total, translate(res.Error)
			}
			total += res.RowsAffected
			if res.RowsAffected < purgeBatch {
				break
			}
		}
	}
	return total, nil
}
