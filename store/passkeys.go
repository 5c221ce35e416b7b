package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/migrations"
	"github.com/keycard/keycard/models"
)

// Passkeys and the passkey ceremonies begun but not yet finished
// (webauthn_challenges).

func passkeyFromRow(row *models.Passkey) *auth.Passkey {
	p := &auth.Passkey{
		ID:           row.ID,
		UserID:       row.UserID,
		Name:         row.Name,
		CredentialID: row.CredentialID,
		SignCount:    uint32(row.SignCount),
		Record:       row.Record,
		CreatedAt:    row.CreatedAt.UTC(),
	}
	if row.LastUsedAt != nil {
		t := row.LastUsedAt.UTC()
		p.LastUsedAt = &t
	}
	return p
}

func passkeysFromRows(rows []models.Passkey) []*auth.Passkey {
	out := make([]*auth.Passkey, len(rows))
	for i := range rows {
		out[i] = passkeyFromRow(&rows[i])
	}
	return out
}

// CreatePasskey inserts a passkey; the unique index on credential_id
// refuses one registered already, to this user or another.
func (s *Store) CreatePasskey(ctx context.Context, p *auth.Passkey) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row := models.Passkey{
		ID:           p.ID,
		UserID:       p.UserID,
		Name:         p.Name,
		CredentialID: p.CredentialID,
		SignCount:    int64(p.SignCount),
		Record:       p.Record,
		CreatedAt:    p.CreatedAt.UTC(),
		LastUsedAt:   p.LastUsedAt,
	}
	return translate(s.conn(ctx).Create(&row).Error)
}

// Passkeys lists a user's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, userID string) ([]*auth.Passkey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []models.Passkey
	if err := s.read(ctx).Where("user_id = ?", userID).Order("created_at").Order("id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return passkeysFromRows(rows), nil
}

// PasskeysByUsername lists the passkeys of the user with usernameKey in
// one query, so a name nobody has costs what a name without passkeys does.
func (s *Store) PasskeysByUsername(ctx context.Context, usernameKey string) ([]*auth.Passkey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rows []models.Passkey
	err := s.read(ctx).Model(&models.Passkey{}).
		Joins("JOIN users ON users.id = passkeys.user_id").
		Where("users.username_key = ?", usernameKey).
		Order("passkeys.created_at").Order("passkeys.id").
		Select("passkeys.*").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return passkeysFromRows(rows), nil
}

// PasskeyByCredentialID finds a passkey by its credential id.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*auth.Passkey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.Passkey
	if err := s.read(ctx).Where("credential_id = ?", credentialID).Take(&row).Error; err != nil {
		return nil, translate(err)
	}
	return passkeyFromRow(&row), nil
}

// UsePasskey stores a login's counter and record. The counter rule is in
// the WHERE: the row changes only if the new counter is greater than the
// stored one, or both are 0 (an authenticator that keeps no counter), so
// of two assertions carrying one counter value only the first is written.
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, record []byte, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n := int64(signCount)
	res := s.conn(ctx).Model(&models.Passkey{}).
		Where("id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))", id, n, n).
		Updates(map[string]any{"sign_count": n, "record": record, "last_used_at": at.UTC()})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return auth.ErrNotFound
	}
	return nil
}

// DeletePasskey deletes one of the user's passkeys and returns it.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) (*auth.Passkey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var deleted *auth.Passkey
	err := s.inTransaction(ctx, func(t *Store) error {
		var row models.Passkey
		q := t.conn(ctx).Where("id = ? AND user_id = ?", id, userID)
		if t.dialect == migrations.MySQL {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		if err := q.Take(&row).Error; err != nil {
			return err
		}
		res := t.conn(ctx).Where("id = ?", id).Delete(&models.Passkey{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return auth.ErrNotFound
		}
		deleted = passkeyFromRow(&row)
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return deleted, nil
}

// CreatePasskeyChallenge stores a begun ceremony.
func (s *Store) CreatePasskeyChallenge(ctx context.Context, c *auth.PasskeyChallenge) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row := models.WebAuthnChallenge{
		ID:        c.ID,
		Purpose:   string(c.Purpose),
		State:     c.State,
		CreatedAt: c.CreatedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}
	if c.UserID != "" {
		row.UserID = &c.UserID
	}
	return translate(s.conn(ctx).Create(&row).Error)
}

// TakePasskeyChallenge reads a challenge and deletes it; the DELETE
// decides between concurrent takes (the loser's matches no row once the
// winner's commits), on every database.
func (s *Store) TakePasskeyChallenge(ctx context.Context, id string, purpose auth.PasskeyPurpose, userID string) (*auth.PasskeyChallenge, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var taken *auth.PasskeyChallenge
	err := s.inTransaction(ctx, func(t *Store) error {
		q := t.conn(ctx).Where("id = ? AND purpose = ?", id, string(purpose))
		if userID != "" {
			q = q.Where("user_id = ?", userID)
		}
		if t.dialect == migrations.MySQL {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var row models.WebAuthnChallenge
		if err := q.Take(&row).Error; err != nil {
			return err
		}
		res := t.conn(ctx).Where("id = ?", id).Delete(&models.WebAuthnChallenge{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return auth.ErrNotFound
		}
		taken = &auth.PasskeyChallenge{
			ID:        row.ID,
			Purpose:   auth.PasskeyPurpose(row.Purpose),
			State:     row.State,
			CreatedAt: row.CreatedAt.UTC(),
			ExpiresAt: row.ExpiresAt.UTC(),
		}
		if row.UserID != nil {
			taken.UserID = *row.UserID
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return taken, nil
}

// HasPasskeys reports whether any user has a passkey: production refuses
// to start without a relying party when someone does.
func (s *Store) HasPasskeys(ctx context.Context) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var ids []string
	if err := s.read(ctx).Model(&models.Passkey{}).Limit(1).Pluck("id", &ids).Error; err != nil {
		return false, translate(err)
	}
	return len(ids) > 0, nil
}
