package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/models"
)

func userFromRow(row *models.User) *auth.User {
	return &auth.User{
		ID:        row.ID,
		Username:  row.Username,
		Email:     row.Email,
		Roles:     []string(row.Roles),
		CreatedAt: row.CreatedAt.UTC(),
	}
}

// CreateUser inserts a user; the unique indexes decide races between
// concurrent registrations of one name.
func (s *Store) CreateUser(ctx context.Context, u *auth.User, passwordHash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	usernameKey, ok := auth.UsernameKey(u.Username)
	if !ok {
		return auth.Invalid("username", "invalid username")
	}
	row := models.User{
		ID:           u.ID,
		Username:     u.Username,
		UsernameKey:  usernameKey,
		Email:        u.Email,
		PasswordHash: passwordHash,
		Roles:        models.Roles(u.Roles),
		CreatedAt:    u.CreatedAt,
		UpdatedAt:    u.CreatedAt,
	}
	if u.Email != nil {
		key, err := auth.NormalizeEmail(*u.Email)
		if err != nil {
			return err
		}
		row.EmailKey = &key
	}
	return translate(s.conn(ctx).Create(&row).Error)
}

// UserByUsername finds a user by canonical username.
func (s *Store) UserByUsername(ctx context.Context, usernameKey string) (*auth.User, string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.User
	err := s.read(ctx).Where("username_key = ?", usernameKey).Take(&row).Error
	if err != nil {
		return nil, "", translate(err)
	}
	return userFromRow(&row), row.PasswordHash, nil
}

// hotQueries are statements on the request hot path, prepared once and run
// with database/sql directly: GORM's statement building would cost more
// than the query itself on SQLite.
type hotQueries struct {
	db       *sql.DB
	observe  func(ctx context.Context, statement string)
	mu       sync.Mutex
	userByID atomic.Pointer[sql.Stmt]
}

const userByIDQuery = "SELECT id, username, email, roles, created_at FROM users WHERE id = ?"

// userByIDStmt prepares the statement on first use; a failure (database
// down) is not remembered, so the next call tries again.
func (h *hotQueries) userByIDStmt() (*sql.Stmt, error) {
	if stmt := h.userByID.Load(); stmt != nil {
		return stmt, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if stmt := h.userByID.Load(); stmt != nil {
		return stmt, nil
	}
	stmt, err := h.db.Prepare(userByIDQuery)
	if err != nil {
		return nil, err
	}
	h.userByID.Store(stmt)
	return stmt, nil
}

// UserByID finds a user by id. It answers every `me`.
func (s *Store) UserByID(ctx context.Context, id string) (*auth.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.User
	var err error
	if s.inTx {
		err = s.conn(ctx).Omit("password_hash").Where("id = ?", id).Take(&row).Error
	} else {
		var stmt *sql.Stmt
		if stmt, err = s.hot.userByIDStmt(); err == nil {
			if s.hot.observe != nil {
				s.hot.observe(ctx, userByIDQuery)
			}
			err = stmt.QueryRowContext(ctx, id).Scan(&row.ID, &row.Username, &row.Email, &row.Roles, &row.CreatedAt)
		}
	}
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, auth.ErrNotFound
		}
		return nil, translate(err)
	}
	return userFromRow(&row), nil
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, userID, passwordHash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res := s.conn(ctx).Model(&models.User{}).Where("id = ?", userID).
		Updates(map[string]any{"password_hash": passwordHash, "updated_at": s.db.NowFunc()})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// PasswordHash returns a user's stored password hash.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.User
	if err := s.read(ctx).Select("password_hash").Where("id = ?", userID).Take(&row).Error; err != nil {
		return "", translate(err)
	}
	return row.PasswordHash, nil
}

// SetRoles replaces a user's roles.
func (s *Store) SetRoles(ctx context.Context, userID string, roles []string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res := s.conn(ctx).Model(&models.User{}).Where("id = ?", userID).
		Updates(map[string]any{"roles": models.Roles(roles), "updated_at": s.db.NowFunc()})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return auth.ErrNotFound
	}
	return nil
}
