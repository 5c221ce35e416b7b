package store

import (
	"context"
	"database/sql"
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

// openMySQL connects to a MySQL-compatible server, creating the database
// first if it does not exist.
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
