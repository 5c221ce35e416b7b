package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
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
	// timeout bounds each call (a whole transaction counts as one), so a
	// database that stops answering costs a request seconds, not minutes.
	timeout time.Duration
}

// DefaultTimeout bounds one store call unless the caller's deadline is
// sooner.
const DefaultTimeout = 5 * time.Second

// bound gives ctx the store's deadline, unless it has a sooner one or the
// call runs inside a transaction that is already bounded.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.inTx || s.timeout <= 0 {
		return ctx, func() {}
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= s.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

var _ auth.Store = (*Store)(nil)

// New returns a Store over db whose calls each take at most timeout (0:
// DefaultTimeout).
func New(db *DB, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Store{db: db.Gorm, reader: db.Reader, dialect: db.Dialect, hot: &hotQueries{db: db.ReadSQL, observe: db.observe}, timeout: timeout}
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

// txAttempts bounds retries of a transaction that lost a deadlock or a
// write conflict; each retry runs fn again from the start.
const txAttempts = 3

// Tx runs fn in a transaction, retrying deadlocks. Inside a transaction it
// runs fn directly: nested calls join the outer transaction.
func (s *Store) Tx(ctx context.Context, fn func(tx auth.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var err error
	for attempt := 0; attempt < txAttempts; attempt++ {
		err = s.conn(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(&Store{db: tx, reader: tx, dialect: s.dialect, inTx: true, hot: s.hot, timeout: s.timeout})
		})
		if !retryable(err) {
			break
		}
	}
	err = translate(err)
	if auth.KindOf(err) == auth.KindInternal && ctx.Err() != nil {
		// The deadline ran out mid-transaction: database/sql rolled it back
		// and the next statement saw only "transaction has already been
		// committed or rolled back". The cause is a slow database.
		return auth.Unavailable(err)
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
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
		q = q.Where("kind = ?", f.Kind)
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
