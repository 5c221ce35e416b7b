package store

import (
	"context"
	"errors"

	"gorm.io/gorm/clause"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/models"
)

// Setting reads a value of the settings table.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.Setting
	if err := s.conn(ctx).Where("name = ?", name).Take(&row).Error; err != nil {
		return "", translate(err)
	}
	return row.Value, nil
}

// SettingOrInit returns the stored value of name, storing value first if
// there is none. Concurrent first starts agree on one value: the insert
// ignores conflicts and everyone reads back what won.
func (s *Store) SettingOrInit(ctx context.Context, name, value string) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&models.Setting{Name: name, Value: value}).Error
	if err != nil {
		return "", translate(err)
	}
	stored, err := s.Setting(ctx, name)
	if errors.Is(err, auth.ErrNotFound) {
		return "", auth.Internal(errors.New("setting vanished after insert"))
	}
	return stored, err
}
