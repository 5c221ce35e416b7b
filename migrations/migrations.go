// Package migrations holds keycard's versioned SQL schema, one directory per
// dialect, embedded in the binary and applied with goose. It imports only
// database/sql and goose; callers pass an open database.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
)

//go:embed mysql/*.sql sqlite/*.sql
var files embed.FS

// Dialect names a migration set.
type Dialect string

const (
	MySQL  Dialect = "mysql"
	SQLite Dialect = "sqlite"
)

// versionTable is goose's bookkeeping table.
const versionTable = "keycard_schema_migrations"

// Migrator applies and reverts the embedded migrations.
type Migrator struct {
	provider *goose.Provider
}

// New returns a migrator for db. On MySQL-compatible databases a named lock
// makes concurrent start-ups of several instances apply each migration once.
func New(db *sql.DB, dialect Dialect, log *slog.Logger) (*Migrator, error) {
	sub, err := fs.Sub(files, string(dialect))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(versionTable),
		goose.WithDisableGlobalRegistry(true),
	}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	var gooseDialect goose.Dialect
	switch dialect {
	case MySQL:
		gooseDialect = goose.DialectMySQL
		opts = append(opts, goose.WithSessionLocker(mysqlLock{}))
	case SQLite:
		gooseDialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("no migrations for dialect %q", dialect)
	}
	p, err := goose.NewProvider(gooseDialect, db, sub, opts...)
	if err != nil {
		return nil, err
	}
	return &Migrator{provider: p}, nil
}

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	return m.provider.Up(ctx)
}

// Down reverts the most recent migration.
func (m *Migrator) Down(ctx context.Context) (*goose.MigrationResult, error) {
	return m.provider.Down(ctx)
}

// Status lists every migration with whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	return m.provider.Status(ctx)
}

// mysqlLock serialises migrations across processes with GET_LOCK, which
// MySQL, MariaDB and TiDB all support and release when the session ends,
// even if the process dies mid-migration.
type mysqlLock struct{}

const mysqlLockName = "keycard_migrations"

func (mysqlLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", mysqlLockName).Scan(&got); err != nil {
		return err
	}
	if !got.Valid || got.Int64 != 1 {
		return errors.New("timed out waiting for another instance to finish migrating")
	}
	return nil
}

func (mysqlLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", mysqlLockName)
	return err
}
