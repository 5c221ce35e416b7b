package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/keycard/keycard/migrations"
)

// sqliteURL is a parsed sqlite: URL.
type sqliteURL struct {
	path        string // a file, or :memory:
	busyTimeout string // milliseconds
}

// parseSQLiteURL reads sqlite:PATH[?busy_timeout=MS].
func parseSQLiteURL(rawURL string) (sqliteURL, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
	if path == "" {
		return sqliteURL{}, errors.New("sqlite URL needs a path (sqlite:keycard.db, or sqlite::memory: for a throwaway database)")
	}
	target := sqliteURL{path: path, busyTimeout: "10000"}
	if base, query, found := strings.Cut(path, "?"); found {
		// The one tunable: how long to wait for another process's lock
		// before answering UNAVAILABLE (milliseconds).
		values, err := url.ParseQuery(query)
		if err != nil {
			return sqliteURL{}, fmt.Errorf("sqlite URL parameters: %w", err)
		}
		for key := range values {
			if key != "busy_timeout" {
				return sqliteURL{}, fmt.Errorf("sqlite URL: unknown parameter %q (only busy_timeout, in milliseconds)", key)
			}
		}
		if ms, err := strconv.Atoi(values.Get("busy_timeout")); err != nil || ms < 0 {
			return sqliteURL{}, fmt.Errorf("sqlite URL: busy_timeout must be milliseconds, got %q", values.Get("busy_timeout"))
		}
		target.path, target.busyTimeout = base, values.Get("busy_timeout")
	}
	return target, nil
}

// checkSQLiteFile makes the driver's "unable to open database file" (which
// names nothing) into a message naming the path and what is missing. Unless
// create, the file itself must exist: SQLite would create an empty one.
func checkSQLiteFile(path string, create bool) error {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite database %s: %w", path, err)
	case !create:
		return fmt.Errorf("sqlite database %s does not exist (start keycard with KEYCARD_MIGRATE=auto, or run keycard migrate up, to create it): %w", path, fs.ErrNotExist)
	}
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("cannot create sqlite database %s: directory %s does not exist", path, dir)
	}
	return nil
}

// openSQLite opens a sqlite: URL (a file, or :memory:) with a single
// writer connection, and for a file a pool of readers beside it.
func openSQLite(rawURL string, cfg *gorm.Config, create bool) (*DB, error) {
	target, err := parseSQLiteURL(rawURL)
	if err != nil {
		return nil, err
	}
	path, busyTimeout := target.path, target.busyTimeout
	name := rawURL
	memory := path == ":memory:"
	if !memory {
		if err := checkSQLiteFile(path, create); err != nil {
			return nil, err
		}
		if create && !strings.HasPrefix(path, "file:") {
			if err := createPrivately(path); err != nil {
				return nil, err
			}
		}
	}
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
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
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
	db.File = path
	db.Reader, db.ReadSQL, err = openSQLitePool(path+"?"+readParams.Encode(), cfg, max(2, runtime.GOMAXPROCS(0)))
	if err != nil {
		writerSQL.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return db, nil
}

// createPrivately creates the database file, if it does not exist yet,
// readable and writable by its owner only, whatever the umask: it holds
// password hashes and, in development, the signing key. SQLite gives the
// -wal and -shm files it creates beside it the database file's mode. An
// existing file keeps its mode (the operator may have chosen one); the app
// warns at start when group or others can read it (see DB.File).
func createPrivately(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create sqlite database: %w", err)
	}
	// The mode given to OpenFile is cut by the umask; Chmod is not.
	err = f.Chmod(0o600)
	return errors.Join(err, f.Close())
}

// openSQLitePool opens a pool of conns connections to dsn. They never
// expire: an in-memory database lives only as long as its connection.
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
