package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/keycard/keycard/migrations"
)

// MySQL server errors that opening a database tells apart.
const (
	mysqlAccessDenied         = 1045 // wrong user or password
	mysqlDatabaseAccessDenied = 1044 // the user may not use (or create) the database
	mysqlUnknownDatabase      = 1049
)

// percentEncodeHint is the fix for the commonest broken MySQL URL: a
// password with a character that ends the user-info part of a URL.
const percentEncodeHint = "a user or password containing @ / : # ? or % must be percent-encoded: @ as %40, / as %2F, : as %3A, # as %23, ? as %3F, % as %25"

// errPasswordNotEncoded stands for every URL the parser would misread
// because of the password. Its text quotes nothing of the URL: the parser's
// own error (or a host and path made of pieces of the password) would.
var errPasswordNotEncoded = errors.New("KEYCARD_DATABASE_URL is not a valid mysql://USER:PASSWORD@HOST:PORT/DBNAME URL; " + percentEncodeHint)

// mysqlConfig turns a mysql:// URL into a driver config with the settings
// keycard relies on.
func mysqlConfig(rawURL string) (*mysql.Config, error) {
	rest := strings.TrimPrefix(rawURL, "mysql://")
	if strings.Contains(rest, "@tcp(") || strings.Contains(rest, "@unix(") || strings.HasPrefix(rest, "tcp(") {
		return nil, unsupportedURL(rest)
	}
	// An @ after the first / ? or # means one of those is inside the
	// password: the parser would end the host there and take the rest of
	// the password for a path, query or fragment.
	if end := strings.IndexAny(rest, "/?#"); end >= 0 && strings.Contains(rest[end:], "@") {
		return nil, errPasswordNotEncoded
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, errPasswordNotEncoded
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
	// The DSN holds no credentials yet, so the driver's message is safe.
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("KEYCARD_DATABASE_URL parameters: %v", err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("database URL %q names no database: mysql://USER:PASSWORD@HOST:PORT/DBNAME", Redact(rawURL))
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

// openMySQL connects to a MySQL-compatible server. A database that does
// not exist is created when create is set; one that exists is used as it
// is, so a user with no right to CREATE DATABASE can run keycard.
func openMySQL(ctx context.Context, rawURL string, gcfg *gorm.Config, create bool) (*DB, error) {
	cfg, err := mysqlConfig(rawURL)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("KEYCARD_DATABASE_URL: %v", err)
	}
	sqlDB := sql.OpenDB(connector)
	err = sqlDB.PingContext(ctx)
	if mysqlErrorNumber(err) == mysqlUnknownDatabase && create {
		if err = createMySQLDatabase(ctx, cfg); err == nil {
			err = sqlDB.PingContext(ctx)
		}
	}
	if err != nil {
		sqlDB.Close()
		return nil, describeMySQLError(cfg, err)
	}
	gdb, err := gorm.Open(gormmysql.New(gormmysql.Config{Conn: sqlDB, DSNConfig: cfg}), gcfg)
	if err != nil {
		sqlDB.Close()
		return nil, describeMySQLError(cfg, err)
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
		return &createError{err}
	}
	return nil
}

// createError marks a failed CREATE DATABASE, so that its message says
// that the database is missing rather than only that access was denied.
type createError struct{ err error }

func (e *createError) Error() string { return e.err.Error() }
func (e *createError) Unwrap() error { return e.err }

// describeMySQLError says what failed in terms of the deployment: which
// server could not be reached, which user was refused, which database is
// missing. The driver's errors carry no password; the URL is not repeated.
func describeMySQLError(cfg *mysql.Config, err error) error {
	var created *createError
	switch number := mysqlErrorNumber(err); {
	case errors.As(err, &created):
		return fmt.Errorf("database %q does not exist on %s and user %q cannot create it (%v); create it as an administrator, or run keycard migrate up with an administrator's URL", cfg.DBName, cfg.Addr, cfg.User, created.err)
	case number == mysqlUnknownDatabase:
		return fmt.Errorf("database %q does not exist on %s; create it, or run keycard migrate up (KEYCARD_MIGRATE=auto creates it at start-up)", cfg.DBName, cfg.Addr)
	case number == mysqlAccessDenied:
		return fmt.Errorf("%s refused user %q: wrong user or password (%s): %v", cfg.Addr, cfg.User, percentEncodeHint, err)
	case number == mysqlDatabaseAccessDenied:
		return fmt.Errorf("user %q may not use database %q on %s: %v", cfg.User, cfg.DBName, cfg.Addr, err)
	case number != 0:
		return fmt.Errorf("database %q on %s: %v", cfg.DBName, cfg.Addr, err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return fmt.Errorf("cannot connect to %s: %v", cfg.Addr, opErr.Err)
	}
	return fmt.Errorf("cannot connect to %s: %w", cfg.Addr, err)
}

// mysqlErrorNumber is the server's error number in err, or 0.
func mysqlErrorNumber(err error) uint16 {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number
	}
	return 0
}
