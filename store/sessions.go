package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/migrations"
	"github.com/keycard/keycard/models"
)

func sessionRow(sess *auth.Session) *models.Session {
	row := &models.Session{
		ID:         sess.ID,
		UserID:     sess.UserID,
		Generation: sess.Generation,
		CreatedAt:  sess.CreatedAt,
		LastUsedAt: sess.LastUsedAt,
		ExpiresAt:  sess.ExpiresAt,
		RotatedAt:  sess.RotatedAt,
		RevokedAt:  sess.RevokedAt,
		UserAgent:  sess.UserAgent,
		IP:         sess.IP,
	}
	if !sess.AccessValidUntil.IsZero() {
		row.AccessValidUntil = &sess.AccessValidUntil
	}
	return row
}

func sessionFromRow(row *models.Session) *auth.Session {
	sess := &auth.Session{
		ID:         row.ID,
		UserID:     row.UserID,
		Generation: row.Generation,
		CreatedAt:  row.CreatedAt.UTC(),
		LastUsedAt: row.LastUsedAt.UTC(),
		ExpiresAt:  row.ExpiresAt.UTC(),
		RotatedAt:  row.RotatedAt.UTC(),
		UserAgent:  row.UserAgent,
		IP:         row.IP,
	}
	if row.RevokedAt != nil {
		t := row.RevokedAt.UTC()
		sess.RevokedAt = &t
	}
	if row.AccessValidUntil != nil {
		sess.AccessValidUntil = row.AccessValidUntil.UTC()
	}
	return sess
}

// CreateSession inserts a session and its first refresh token in one
// transaction.
func (s *Store) CreateSession(ctx context.Context, sess *auth.Session, refreshHash []byte) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTransaction(ctx, func(t *Store) error {
		if err := t.conn(ctx).Create(sessionRow(sess)).Error; err != nil {
			return err
		}
		return t.insertRefreshToken(ctx, sess, refreshHash)
	})
}

func (s *Store) insertRefreshToken(ctx context.Context, sess *auth.Session, refreshHash []byte) error {
	return s.conn(ctx).Create(&models.RefreshToken{
		TokenHash:  refreshHash,
		SessionID:  sess.ID,
		Generation: sess.Generation,
		CreatedAt:  sess.RotatedAt,
	}).Error
}

// SessionByRefreshHash finds the session of a refresh token in one query.
// In a transaction on MySQL the rows are locked (FOR UPDATE) so that
// concurrent rotations of a session queue; SQLite transactions already hold
// the database write lock from BEGIN IMMEDIATE.
func (s *Store) SessionByRefreshHash(ctx context.Context, refreshHash []byte) (*auth.Session, int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row struct {
		models.Session
		TokenGeneration int64
	}
	q := s.conn(ctx).Table("refresh_tokens AS t").
		Select("s.*, t.generation AS token_generation").
		Joins("JOIN sessions AS s ON s.id = t.session_id").
		Where("t.token_hash = ?", refreshHash)
	if s.inTx && s.dialect == migrations.MySQL {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	if err := q.Take(&row).Error; err != nil {
		return nil, 0, translate(err)
	}
	return sessionFromRow(&row.Session), row.TokenGeneration, nil
}

// AdvanceSession saves a rotated session and its new refresh token.
func (s *Store) AdvanceSession(ctx context.Context, sess *auth.Session, refreshHash []byte) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTransaction(ctx, func(t *Store) error {
		res := t.conn(ctx).Model(&models.Session{}).
			Where("id = ? AND generation = ? AND revoked_at IS NULL", sess.ID, sess.Generation-1).
			Updates(map[string]any{
				"generation":   sess.Generation,
				"last_used_at": sess.LastUsedAt,
				"rotated_at":   sess.RotatedAt,
				"expires_at":   sess.ExpiresAt,
				"user_agent":   sess.UserAgent,
				"ip":           sess.IP,
				// The token issued with this generation.
				"access_valid_until": sessionRow(sess).AccessValidUntil,
			})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			// Someone rotated or revoked the session between read and
			// write; the caller's view is stale.
			return auth.ErrInvalidRefresh
		}
		return t.insertRefreshToken(ctx, sess, refreshHash)
	})
}

// RevokeSessions revokes live sessions of a user and logs one revocation
// entry per session, in one transaction.
func (s *Store) RevokeSessions(ctx context.Context, userID string, ids []string, at, until time.Time) ([]auth.Revocation, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if ids != nil && len(ids) == 0 {
		return nil, nil
	}
	var revoked []auth.Revocation
	err := s.inTransaction(ctx, func(t *Store) error {
		revoked = nil
		q := t.conn(ctx).Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", userID)
		if ids != nil {
			q = q.Where("id IN ?", ids)
		}
		if t.dialect == migrations.MySQL {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var live []struct {
			ID               string
			AccessValidUntil *time.Time
		}
		if err := q.Select("id", "access_valid_until").Scan(&live).Error; err != nil {
			return err
		}
		if len(live) == 0 {
			return nil
		}
		ids := make([]string, len(live))
		rows := make([]models.Revocation, len(live))
		for i, sess := range live {
			ids[i] = sess.ID
			// Kept until the session's last token expired, if that is
			// later than until: a token issued under a longer access
			// lifetime than today's stays refused until its own exp.
			expires := until
			if sess.AccessValidUntil != nil && sess.AccessValidUntil.After(until) {
				expires = sess.AccessValidUntil.UTC()
			}
			rows[i] = models.Revocation{Kind: string(auth.RevokedSession), Subject: sess.ID, UserID: userID, RevokedAt: at, ExpiresAt: expires}
		}
		if err := t.conn(ctx).Model(&models.Session{}).Where("id IN ?", ids).Update("revoked_at", at).Error; err != nil {
			return err
		}
		if err := t.conn(ctx).CreateInBatches(rows, 500).Error; err != nil {
			return err
		}
		for _, row := range rows {
			revoked = append(revoked, revocationFromRow(&row))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// maxListedSessions bounds the sessions list; a user with more live
// sessions than this sees the most recently used.
const maxListedSessions = 200

// LiveSessions lists a user's live sessions, most recently used first.
func (s *Store) LiveSessions(ctx context.Context, userID string, now time.Time) ([]*auth.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []models.Session
	err := s.read(ctx).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, now.UTC()).
		Order("last_used_at DESC").Order("id").Limit(maxListedSessions).Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]*auth.Session, len(rows))
	for i := range rows {
		out[i] = sessionFromRow(&rows[i])
	}
	return out, nil
}

// SessionIPs lists the addresses of a user's sessions in one query by
// username, so that a name without an account costs what one with does.
func (s *Store) SessionIPs(ctx context.Context, usernameKey string, limit int) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var ips []string
	err := s.read(ctx).Raw(`SELECT s.ip FROM sessions AS s JOIN users AS u ON u.id = s.user_id
		WHERE u.username_key = ? GROUP BY s.ip ORDER BY MAX(s.last_used_at) DESC LIMIT ?`, usernameKey, limit).
		Scan(&ips).Error
	if err != nil {
		return nil, translate(err)
	}
	return ips, nil
}

// LockSession reads one session; in a transaction on MySQL it locks the row
// (FOR UPDATE). SQLite transactions already hold the write lock.
func (s *Store) LockSession(ctx context.Context, id string) (*auth.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.Session
	q := s.conn(ctx).Where("id = ?", id)
	if s.inTx && s.dialect == migrations.MySQL {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	if err := q.Take(&row).Error; err != nil {
		return nil, translate(err)
	}
	return sessionFromRow(&row), nil
}

// SessionsBeyond lists the user's live sessions older than the keep newest,
// oldest first. The usual answer, under the cap, costs one indexed count
// (ix_sessions_user_live); only a user at the cap reads ids.
func (s *Store) SessionsBeyond(ctx context.Context, userID string, keep int, now time.Time) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	live := func() *gorm.DB {
		return s.read(ctx).Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, now.UTC())
	}
	var n int64
	if err := live().Count(&n).Error; err != nil {
		return nil, translate(err)
	}
	if n <= int64(keep) {
		return nil, nil
	}
	var ids []string
	if err := live().Order("created_at").Order("id").Limit(int(n)-keep).Pluck("id", &ids).Error; err != nil {
		return nil, translate(err)
	}
	return ids, nil
}
