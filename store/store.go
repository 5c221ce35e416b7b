package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/migrations"
	"github.com/keycard/keycard/models"
)

// Store implements auth.Store on a GORM connection or transaction.
type Store struct {
	db      *gorm.DB
	reader  *gorm.DB
	dialect migrations.Dialect
	inTx    bool
	hot     *hotQueries
}

var _ auth.Store = (*Store)(nil)

// New returns a Store over db.
func New(db *DB) *Store {
	return &Store{db: db.Gorm, reader: db.Reader, dialect: db.Dialect, hot: &hotQueries{db: db.ReadSQL}}
}

// conn is for writes, and for reads inside a transaction.
func (s *Store) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// read is for reads outside a transaction: the read pool, which on SQLite
// runs beside the writer.
func (s *Store) read(ctx context.Context) *gorm.DB {
	if s.inTx {
		return s.db.WithContext(ctx)
	}
	return s.reader.WithContext(ctx)
}

// hotQueries are statements on the request hot path, prepared once and run
// with database/sql directly: GORM's statement building would cost more
// than the query itself on SQLite.
type hotQueries struct {
	db       *sql.DB
	once     sync.Once
	userByID *sql.Stmt
	err      error
}

func (h *hotQueries) prepare(ctx context.Context) error {
	h.once.Do(func() {
		h.userByID, h.err = h.db.PrepareContext(ctx, "SELECT id, username, email, roles, created_at FROM users WHERE id = ?")
	})
	return h.err
}

// txAttempts bounds retries of a transaction that lost a deadlock or a
// write conflict; each retry runs fn again from the start.
const txAttempts = 3

// Tx runs fn in a transaction, retrying deadlocks. Inside a transaction it
// runs fn directly: nested calls join the outer transaction.
func (s *Store) Tx(ctx context.Context, fn func(tx auth.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	var err error
	for attempt := 0; attempt < txAttempts; attempt++ {
		err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(&Store{db: tx, reader: tx, dialect: s.dialect, inTx: true, hot: s.hot})
		})
		if !retryable(err) {
			break
		}
	}
	return translate(err)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	db, err := s.db.DB()
	if err != nil {
		return translate(err)
	}
	return translate(db.PingContext(ctx))
}

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
	var row models.User
	err := s.read(ctx).Where("username_key = ?", usernameKey).Take(&row).Error
	if err != nil {
		return nil, "", translate(err)
	}
	return userFromRow(&row), row.PasswordHash, nil
}

// UserByID finds a user by id. It answers every `me`.
func (s *Store) UserByID(ctx context.Context, id string) (*auth.User, error) {
	var row models.User
	var err error
	if s.inTx {
		err = s.conn(ctx).Omit("password_hash").Where("id = ?", id).Take(&row).Error
	} else if err = s.hot.prepare(ctx); err == nil {
		err = s.hot.userByID.QueryRowContext(ctx, id).Scan(&row.ID, &row.Username, &row.Email, &row.Roles, &row.CreatedAt)
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

func sessionRow(sess *auth.Session) *models.Session {
	return &models.Session{
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
	return sess
}

// CreateSession inserts a session and its first refresh token in one
// transaction.
func (s *Store) CreateSession(ctx context.Context, sess *auth.Session, refreshHash []byte) error {
	return s.Tx(ctx, func(tx auth.Store) error {
		t := tx.(*Store)
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

// SessionByRefreshHash finds the session of a refresh token. In a
// transaction on MySQL the session row is locked (FOR UPDATE) so that
// concurrent rotations queue; SQLite transactions already hold the database
// write lock from BEGIN IMMEDIATE.
func (s *Store) SessionByRefreshHash(ctx context.Context, refreshHash []byte) (*auth.Session, int64, error) {
	var token models.RefreshToken
	if err := s.conn(ctx).Where("token_hash = ?", refreshHash).Take(&token).Error; err != nil {
		return nil, 0, translate(err)
	}
	q := s.conn(ctx).Where("id = ?", token.SessionID)
	if s.inTx && s.dialect == migrations.MySQL {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	var row models.Session
	if err := q.Take(&row).Error; err != nil {
		return nil, 0, translate(err)
	}
	return sessionFromRow(&row), token.Generation, nil
}

// AdvanceSession saves a rotated session and its new refresh token.
func (s *Store) AdvanceSession(ctx context.Context, sess *auth.Session, refreshHash []byte) error {
	return s.Tx(ctx, func(tx auth.Store) error {
		t := tx.(*Store)
		res := t.conn(ctx).Model(&models.Session{}).
			Where("id = ? AND generation = ? AND revoked_at IS NULL", sess.ID, sess.Generation-1).
			Updates(map[string]any{
				"generation":   sess.Generation,
				"last_used_at": sess.LastUsedAt,
				"rotated_at":   sess.RotatedAt,
				"expires_at":   sess.ExpiresAt,
				"user_agent":   sess.UserAgent,
				"ip":           sess.IP,
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
	if ids != nil && len(ids) == 0 {
		return nil, nil
	}
	var revoked []auth.Revocation
	err := s.Tx(ctx, func(tx auth.Store) error {
		t := tx.(*Store)
		revoked = nil
		q := t.conn(ctx).Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", userID)
		if ids != nil {
			q = q.Where("id IN ?", ids)
		}
		if t.dialect == migrations.MySQL {
			q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var live []string
		if err := q.Pluck("id", &live).Error; err != nil {
			return err
		}
		if len(live) == 0 {
			return nil
		}
		if err := t.conn(ctx).Model(&models.Session{}).Where("id IN ?", live).Update("revoked_at", at).Error; err != nil {
			return err
		}
		rows := make([]models.Revocation, len(live))
		for i, id := range live {
			rows[i] = models.Revocation{Kind: string(auth.RevokedSession), Subject: id, UserID: userID, RevokedAt: at, ExpiresAt: until}
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
	row := models.Revocation{Kind: string(r.Kind), Subject: r.Subject, UserID: r.UserID, RevokedAt: r.RevokedAt, ExpiresAt: r.ExpiresAt}
	if err := s.conn(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	r.ID = row.ID
	return nil
}

// RevocationsAfter pages through the revocation list by id.
func (s *Store) RevocationsAfter(ctx context.Context, afterID int64, now time.Time, limit int) ([]auth.Revocation, error) {
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
	var maxID *int64
	if err := s.read(ctx).Model(&models.Revocation{}).Select("MAX(id)").Scan(&maxID).Error; err != nil {
		return 0, translate(err)
	}
	if maxID == nil {
		return 0, nil
	}
	return *maxID, nil
}

// Setting reads a value of the settings table.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
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
