package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"gorm.io/gorm/clause"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/migrations"
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

// UserByUsername finds a user by canonical username, with the credential
// a login checks.
func (s *Store) UserByUsername(ctx context.Context, usernameKey string) (*auth.User, auth.Credential, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.User
	err := s.read(ctx).Where("username_key = ?", usernameKey).Take(&row).Error
	if err != nil {
		return nil, auth.Credential{}, translate(err)
	}
	return userFromRow(&row), auth.Credential{PasswordHash: row.PasswordHash, Version: row.CredentialVersion}, nil
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

// Credential returns a user's password hash and credential version. In a
// transaction on MySQL/TiDB the row is locked (FOR UPDATE): a sign-in that
// re-reads the version it checked keeps every credential change out until
// it commits. SQLite transactions already hold the write lock from BEGIN
// IMMEDIATE.
func (s *Store) Credential(ctx context.Context, userID string) (auth.Credential, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row models.User
	q := s.read(ctx).Select("password_hash", "credential_version").Where("id = ?", userID)
	if s.inTx && s.dialect == migrations.MySQL {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	if err := q.Take(&row).Error; err != nil {
		return auth.Credential{}, translate(err)
	}
	return auth.Credential{PasswordHash: row.PasswordHash, Version: row.CredentialVersion}, nil
}

// ChangeCredential bumps the credential version from from, with the new
// hash if one is given: a compare-and-swap in one UPDATE, so two changes
// made from one version cannot both land.
func (s *Store) ChangeCredential(ctx context.Context, userID string, from int64, passwordHash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	changes := map[string]any{"credential_version": from + 1, "updated_at": s.db.NowFunc()}
	if passwordHash != "" {
		changes["password_hash"] = passwordHash
	}
	return s.swapCredential(ctx, userID, from, changes)
}

// RehashPassword stores a new hash of the same password while the version
// is still version; the version stays, since the credential did not change.
func (s *Store) RehashPassword(ctx context.Context, userID string, version int64, passwordHash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.swapCredential(ctx, userID, version, map[string]any{"password_hash": passwordHash, "updated_at": s.db.NowFunc()})
}

// swapCredential applies changes to the user's row only while its
// credential version is version. No row matched means the version moved,
// or the user is gone: those answer ErrCredentialChanged and ErrNotFound.
func (s *Store) swapCredential(ctx context.Context, userID string, version int64, changes map[string]any) error {
	res := s.conn(ctx).Model(&models.User{}).Where("id = ? AND credential_version = ?", userID, version).Updates(changes)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := s.conn(ctx).Model(&models.User{}).Where("id = ?", userID).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return auth.ErrCredentialChanged
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
