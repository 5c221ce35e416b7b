// Package store persists keycard's rows with GORM on SQLite (embedded, pure
// Go) or a MySQL-compatible database (MySQL, MariaDB, TiDB), and implements
// auth.Store with them. It holds one file per table or concern, after
// ory/kratos's persistence/sql/persister_*.go: users.go, sessions.go
// (sessions and their refresh tokens), revocations.go, events.go (the audit
// log), passkeys.go (passkeys and their ceremonies' challenges),
// settings.go, purge.go (the janitor's deletes). store.go holds the
// Store itself and its transactions; open.go, sqlite.go and mysql.go connect;
// errors.go turns driver errors into auth's kinds.
//
// It may import auth (the interface it implements and the errors it
// returns), models (the rows) and migrations (the dialects and schema), and
// the GORM and database drivers; the domain never imports it.
package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/migrations"
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

var _ auth.Store = (*Store)(nil)

// New returns a Store over db whose calls each take at most timeout (0:
// DefaultTimeout).
func New(db *DB, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Store{db: db.Gorm, reader: db.Reader, dialect: db.Dialect, hot: &hotQueries{db: db.ReadSQL, observe: db.observe}, timeout: timeout}
}

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

// txAttempts bounds retries of a transaction that lost a deadlock or a
// write conflict; each retry runs fn again from the start.
const txAttempts = 3

// Tx runs fn in a transaction, retrying deadlocks. Inside a transaction it
// runs fn directly: nested calls join the outer transaction.
func (s *Store) Tx(ctx context.Context, fn func(tx auth.Store) error) error {
	return s.inTransaction(ctx, func(t *Store) error { return fn(t) })
}

// inTransaction runs fn with a Store bound to one transaction: the outer
// one if s is already in a transaction, else a new one, retried from the
// start when it loses a deadlock or a write conflict. It is the one way
// into a transaction, for Tx and for the methods that write several rows.
// Errors come back translated once, by the call that opened the
// transaction.
func (s *Store) inTransaction(ctx context.Context, fn func(t *Store) error) error {
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
