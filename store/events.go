package store

import (
	"context"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/models"
)

// RecordEvent appends an audit event.
func (s *Store) RecordEvent(ctx context.Context, e *auth.Event) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	row := models.AuthEvent{
		Kind:      string(e.Kind),
		UserID:    e.UserID,
		Username:  e.Username,
		SessionID: e.SessionID,
		IP:        e.IP,
		UserAgent: e.UserAgent,
		Detail:    e.Detail,
		CreatedAt: e.CreatedAt.UTC(),
	}
	if err := s.conn(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	e.ID = row.ID
	return nil
}

// Events lists audit events, newest first.
func (s *Store) Events(ctx context.Context, f auth.EventFilter) ([]*auth.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	q := s.read(ctx).Model(&models.AuthEvent{})
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	var rows []models.AuthEvent
	if err := q.Order("id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]*auth.Event, len(rows))
	for i, row := range rows {
		out[i] = &auth.Event{
			ID:        row.ID,
			Kind:      auth.EventKind(row.Kind),
			UserID:    row.UserID,
			Username:  row.Username,
			SessionID: row.SessionID,
			IP:        row.IP,
			UserAgent: row.UserAgent,
			Detail:    row.Detail,
			CreatedAt: row.CreatedAt.UTC(),
		}
	}
	return out, nil
}
