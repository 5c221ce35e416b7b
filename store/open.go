package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/keycard/keycard/migrations"
)

// DB is an open database with its dialect. Writes and transactions go to
// Gorm/SQL; reads outside transactions may go to Reader/ReadSQL, which is
// the same pool except on a SQLite file.
type DB struct {
	Gorm    *gorm.DB
	SQL     *sql.DB
	Reader  *gorm.DB
	ReadSQL *sql.DB
	Dialect migrations.Dialect
	// Name is the URL with any password removed, safe to log.
	Name string
	// File is the path of a SQLite database file ("" for MySQL and
	// in-memory SQLite), whose mode the app checks at start.
	File string
	// observe, when set, sees every statement (see Observe).
	observe func(ctx context.Context, statement string)
}

// Open connects to a database URL: sqlite:PATH, sqlite::memory:, or
// mysql://USER:PASSWORD@HOST:PORT/DBNAME?PARAMS. A MySQL database that does
// not exist yet is created. now is the clock GORM uses for timestamps.
func Open(ctx context.Context, rawURL string, now func() time.Time) (*DB, error) {
	cfg := &gorm.Config{
		// Each write is one statement or an explicit Tx; GORM's implicit
		// per-statement transaction would only add round trips.
		SkipDefaultTransaction: true,
		// SQL text with parameters would put password hashes and token
		// hashes into logs; errors are logged by the service instead.
		Logger:  logger.Discard,
		NowFunc: func() time.Time { return now().UTC().Truncate(time.Microsecond) },
	}
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(strings.TrimPrefix(rawURL, "sqlite:"), rawURL, cfg)
	case strings.HasPrefix(rawURL, "mysql://"):
		return openMySQL(ctx, rawURL, cfg)
	default:
		return nil, fmt.Errorf("unsupported database URL %q: use sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DBNAME", Redact(rawURL))
	}
}

// Redact removes the password from a database URL.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User == nil {
		return rawURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Migrator returns the migration runner for this database.
func (db *DB) Migrator(log *slog.Logger) (*migrations.Migrator, error) {
	return migrations.New(db.SQL, db.Dialect, log)
}

// Close closes the connection pools.
func (db *DB) Close() error {
	err := db.SQL.Close()
	if db.ReadSQL != db.SQL {
		err = errors.Join(err, db.ReadSQL.Close())
	}
	return err
}

// Observe calls fn with every statement run through db, its GORM pools and
// its hot queries alike. It is meant for tests that count database work;
// call it before the first query.
func (db *DB) Observe(fn func(ctx context.Context, statement string)) {
	db.observe = fn
	callback := func(tx *gorm.DB) { fn(tx.Statement.Context, tx.Statement.SQL.String()) }
	for _, g := range []*gorm.DB{db.Gorm, db.Reader} {
		cb := g.Callback()
		_ = cb.Create().After("gorm:create").Register("keycard:observe", callback)
		_ = cb.Query().After("gorm:query").Register("keycard:observe", callback)
		_ = cb.Update().After("gorm:update").Register("keycard:observe", callback)
		_ = cb.Delete().After("gorm:delete").Register("keycard:observe", callback)
		_ = cb.Row().After("gorm:row").Register("keycard:observe", callback)
		_ = cb.Raw().After("gorm:raw").Register("keycard:observe", callback)
	}
}
