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
	db       *sql.DB
	dialect  Dialect
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
	return &Migrator{provider: p, db: db, dialect: dialect}, nil
}

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	return m.provider.Up(ctx)
}

// Down reverts the most recent migration.
func (m *Migrator) Down(ctx context.Context) (*goose.MigrationResult, error) {
	return m.provider.Down(ctx)
}

// Status lists every migration with whether it is applied. It changes
// nothing: on a database without the version table (nothing applied yet)
// every migration is pending, where goose would create the table, which a
// user allowed only to read and write rows may not do.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	exists, err := m.versionTableExists(ctx)
	if err != nil {
		return nil, err
	}
	if exists {
		return m.provider.Status(ctx)
	}
	var statuses []*goose.MigrationStatus
	for _, source := range m.provider.ListSources() {
		statuses = append(statuses, &goose.MigrationStatus{Source: source, State: goose.StatePending})
	}
	return statuses, nil
}

// Pending lists the migrations not yet applied, oldest first.
func (m *Migrator) Pending(ctx context.Context) ([]*goose.Source, error) {
	statuses, err := m.Status(ctx)
	if err != nil {
		return nil, err
	}
	var pending []*goose.Source
	for _, s := range statuses {
		if s.State == goose.StatePending {
			pending = append(pending, s.Source)
		}
	}
	return pending, nil
}

func (m *Migrator) versionTableExists(ctx context.Context) (bool, error) {
	query := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if m.dialect == MySQL {
		query = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
	}
	var n int
	if err := m.db.QueryRowContext(ctx, query, versionTable).Scan(&n); err != nil {
		return false, fmt.Errorf("read migration state: %w", err)
	}
	return n > 0, nil
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
