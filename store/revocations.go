package store

import (
	"context"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/models"
)

func revocationFromRow(row *models.Revocation) auth.Revocation {
	return auth.Revocation{
		ID:        row.ID,
		Kind:      auth.RevocationKind(row.Kind),
		Subject:   row.Subject,
		UserID:    row.UserID,
		RevokedAt: row.RevokedAt.UTC(),
		ExpiresAt: row.ExpiresAt.UTC(),
	}
}

// AppendRevocation adds one entry to the revocation list.
func (s *Store) AppendRevocation(ctx context.Context, r *auth.Revocation) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row := models.Revocation{Kind: string(r.Kind), Subject: r.Subject, UserID: r.UserID, RevokedAt: r.RevokedAt, ExpiresAt: r.ExpiresAt}
	if err := s.conn(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	r.ID = row.ID
	return nil
}

// RevocationsAfter pages through the revocation list by id.
func (s *Store) RevocationsAfter(ctx context.Context, afterID int64, now time.Time, limit int) ([]auth.Revocation, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []models.Revocation
	err := s.read(ctx).Where("id > ? AND expires_at > ?", afterID, now.UTC()).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]auth.Revocation, len(rows))
	for i := range rows {
		out[i] = revocationFromRow(&rows[i])
	}
	return out, nil
}

// MaxRevocationID returns the highest revocation id.
func (s *Store) MaxRevocationID(ctx context.Context) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var maxID *int64
	if err := s.read(ctx).Model(&models.Revocation{}).Select("MAX(id)").Scan(&maxID).Error; err != nil {
		return 0, translate(err)
	}
	if maxID == nil {
		return 0, nil
	}
	return *maxID, nil
}

// RevocationExists looks for an entry by kind and subject. There is no
// index on subject: the table holds only entries still in force (the
// janitor deletes the rest), and the one caller, token revocation, is
// rate-limited and runs it only for a token not already revoked in memory.
func (s *Store) RevocationExists(ctx context.Context, kind auth.RevocationKind, subject string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var ids []int64
	err := s.conn(ctx).Model(&models.Revocation{}).Where("kind = ? AND subject = ?", string(kind), subject).Limit(1).Pluck("id", &ids).Error
	if err != nil {
		return false, translate(err)
	}
	return len(ids) > 0, nil
}
