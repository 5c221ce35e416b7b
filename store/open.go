// Package store persists keycard's users, sessions and revocations with GORM
// on SQLite (embedded, pure Go) or a MySQL-compatible database (MySQL,
// MariaDB, TiDB). It implements auth.Store and may import auth, models and
// migrations; the domain never imports it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	gormmysql "gorm.io/driver/mysql"
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

func openSQLite(path, name string, cfg *gorm.Config) (*DB, error) {
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, errors.New("sqlite URL needs a path (sqlite:keycard.db, or sqlite::memory: for a throwaway database)")
	}
	busyTimeout := "10000"
	if base, query, found := strings.Cut(path, "?"); found {
		// The one tunable: how long to wait for another process's lock
		// before answering UNAVAILABLE (milliseconds).
		values, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("sqlite URL parameters: %w", err)
		}
		for key := range values {
			if key != "busy_timeout" {
				return nil, fmt.Errorf("sqlite URL: unknown parameter %q (only busy_timeout, in milliseconds)", key)
			}
		}
		if ms, err := strconv.Atoi(values.Get("busy_timeout")); err != nil || ms < 0 {
			return nil, fmt.Errorf("sqlite URL: busy_timeout must be milliseconds, got %q", values.Get("busy_timeout"))
		}
		path, busyTimeout = base, values.Get("busy_timeout")
	}
	memory := path == ":memory:"
	params := url.Values{}
	// Wait for another process's write lock instead of failing.
	params.Add("_pragma", "busy_timeout("+busyTimeout+")")
	params.Add("_pragma", "foreign_keys(1)")
	if !memory {
		// WAL lets readers proceed during a write; NORMAL sync is durable
		// against process crashes, the usual pairing with WAL.
		params.Add("_pragma", "journal_mode(WAL)")
		params.Add("_pragma", "synchronous(NORMAL)")
	}
	// Take the write lock at BEGIN so a read-then-write transaction never
	// fails to upgrade its lock midway.
	params.Set("_txlock", "immediate")
	params.Set("_time_format", "sqlite")
	cfg.PrepareStmt = true
	writer, writerSQL, err := openSQLitePool(path+"?"+params.Encode(), cfg, 1)
	if err != nil {
		return nil, err
	}
	db := &DB{Gorm: writer, SQL: writerSQL, Reader: writer, ReadSQL: writerSQL, Dialect: migrations.SQLite, Name: name}
	if memory {
		// An in-memory database exists only on the connection that made
		// it: one connection does everything.
		return db, nil
	}
	// Readers get their own pool: with WAL they run in parallel with each
	// other and with the single writer, which keeps SQLITE_BUSY out of
	// this process entirely.
	readParams := url.Values{}
	readParams.Add("_pragma", "busy_timeout("+busyTimeout+")")
	readParams.Add("_pragma", "query_only(1)")
	readParams.Set("_time_format", "sqlite")
	db.Reader, db.ReadSQL, err = openSQLitePool(path+"?"+readParams.Encode(), cfg, max(2, runtime.GOMAXPROCS(0)))
	if err != nil {
		writerSQL.Close()
		return nil, err
	}
	return db, nil
}

func openSQLitePool(dsn string, cfg *gorm.Config, conns int) (*gorm.DB, *sql.DB, error) {
	gdb, err := gorm.Open(sqliteDialector{dsn: dsn}, cfg)
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, nil, err
	}
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
	sqlDB.SetConnMaxLifetime(0)
	sqlDB.SetConnMaxIdleTime(0)
	if err := sqlDB.Ping(); err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return gdb, sqlDB, nil
}

// mysqlConfig turns a mysql:// URL into a driver config with the settings
// keycard relies on.
func mysqlConfig(rawURL string) (*mysql.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL %q", Redact(rawURL))
	}
	host := u.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if u.Port() == "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "3306")
	}
	dsn := fmt.Sprintf("tcp(%s)/%s", host, strings.TrimPrefix(u.Path, "/"))
	if u.RawQuery != "" {
		dsn += "?" + u.RawQuery
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL %q: %v", Redact(rawURL), err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("database URL %q names no database", Redact(rawURL))
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// Rows affected counts matched rows, as on SQLite, so conditional
	// updates read the same on both.
	cfg.ClientFoundRows = true
	// One round trip per statement instead of prepare/execute/close; safe
	// with the utf8mb4 connection charset.
	cfg.InterpolateParams = true
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	return cfg, nil
}

func openMySQL(ctx context.Context, rawURL string, gcfg *gorm.Config) (*DB, error) {
	cfg, err := mysqlConfig(rawURL)
	if err != nil {
		return nil, err
	}
	if err := createMySQLDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	gdb, err := gorm.Open(gormmysql.New(gormmysql.Config{DSNConfig: cfg}), gcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(rawURL), err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(64)
	sqlDB.SetMaxIdleConns(64)
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{Gorm: gdb, SQL: sqlDB, Reader: gdb, ReadSQL: sqlDB, Dialect: migrations.MySQL, Name: Redact(rawURL)}, nil
}

// createMySQLDatabase makes `go run .` against a fresh server work without a
// manual CREATE DATABASE.
func createMySQLDatabase(ctx context.Context, cfg *mysql.Config) error {
	server := cfg.Clone()
	server.DBName = ""
	connector, err := mysql.NewConnector(server)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	name := strings.ReplaceAll(cfg.DBName, "`", "``")
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return fmt.Errorf("create database %q on %s: %w", cfg.DBName, cfg.Addr, err)
	}
	return nil
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
