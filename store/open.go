package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
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
// mysql://USER:PASSWORD@HOST:PORT/DBNAME?PARAMS. A database that does not
// exist yet (a SQLite file, a MySQL database) is created. now is the clock
// GORM uses for timestamps.
func Open(ctx context.Context, rawURL string, now func() time.Time) (*DB, error) {
	return open(ctx, rawURL, now, true)
}

// OpenExisting is Open for a database that must already exist: it creates
// nothing, so a one-shot command or a least-privilege deployment pointed at
// the wrong place says so instead of leaving an empty database behind.
func OpenExisting(ctx context.Context, rawURL string, now func() time.Time) (*DB, error) {
	return open(ctx, rawURL, now, false)
}

func open(ctx context.Context, rawURL string, now func() time.Time, create bool) (*DB, error) {
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
		return openSQLite(rawURL, cfg, create)
	case strings.HasPrefix(rawURL, "mysql://"):
		return openMySQL(ctx, rawURL, cfg, create)
	default:
		return nil, unsupportedURL(rawURL)
	}
}

// CheckURL reports what is wrong with a database URL without connecting,
// so that a bad URL is a configuration error found with the others.
func CheckURL(rawURL string) error {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		_, err := parseSQLiteURL(rawURL)
		return err
	case strings.HasPrefix(rawURL, "mysql://"):
		_, err := mysqlConfig(rawURL)
		return err
	default:
		return unsupportedURL(rawURL)
	}
}

// unsupportedURL explains the two URL forms, recognising the Go driver's
// DSN (user:password@tcp(host:port)/db), which people copy from
// go-sql-driver examples, and answering it with the same place in URL
// form. Nothing of a password is repeated.
func unsupportedURL(rawURL string) error {
	if dsn, err := mysql.ParseDSN(rawURL); err == nil && dsn.Net == "tcp" && strings.Contains(rawURL, "tcp(") {
		user := dsn.User
		if user == "" {
			user = "USER"
		}
		name := dsn.DBName
		if name == "" {
			name = "DBNAME"
		}
		return fmt.Errorf("KEYCARD_DATABASE_URL is a Go MySQL DSN (user:password@tcp(host:port)/db); keycard takes a URL: mysql://%s:PASSWORD@%s/%s (%s)", user, dsn.Addr, name, percentEncodeHint)
	}
	if strings.Contains(rawURL, "@tcp(") || strings.Contains(rawURL, "@unix(") {
		return fmt.Errorf("KEYCARD_DATABASE_URL looks like a Go MySQL DSN (user:password@tcp(host:port)/db); keycard takes a URL: mysql://USER:PASSWORD@HOST:PORT/DBNAME (%s)", percentEncodeHint)
	}
	return fmt.Errorf("unsupported database URL %q: use sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DBNAME", Redact(rawURL))
}

// Redact returns a database URL fit for logs and messages: everything
// between the scheme and the last @ after the user name is masked. That is
// the password even when it was not percent-encoded (an @ or / inside it),
// where a URL parser would have split it into host and path.
func Redact(rawURL string) string {
	at := strings.LastIndex(rawURL, "@")
	if at < 0 {
		return rawURL // a URL without credentials
	}
	start := 0
	switch i := strings.Index(rawURL, "://"); {
	case i >= 0 && i < at:
		start = i + len("://")
	case !strings.Contains(rawURL, "@tcp(") && !strings.Contains(rawURL, "@unix("):
		return rawURL // sqlite:PATH, whatever the path holds
	}
	user, _, hasPassword := strings.Cut(rawURL[start:at], ":")
	if !hasPassword {
		return rawURL
	}
	return rawURL[:start] + user + ":xxxxx" + rawURL[at:]
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
