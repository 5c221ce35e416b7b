// Package storetest provides what keycard's tests need from real databases:
// Package storetest provides what keycard's tests need from real databases:
// a fresh database per test on every dialect and the Redis database tests
// may empty (this file), and the storage contract suite that every dialect
// must pass unchanged, as ory/kratos runs its persister suite on each
// database. Run is in suite.go with the helpers the concerns share; each
// concern's cases are in a file named for it (users.go, sessions.go, tx.go,
// revocations.go, events.go, purge.go, passkeys.go, concurrency.go).
//
// It is imported only by tests. It may import auth, whose Store contract it
// checks, and the MySQL driver; never store, so that the suite holds any
// implementation to the interface alone.
//
// go test -short is the local loop: SQLite only, no MySQL/MariaDB, no
// Redis (tests that need a server skip themselves under testing.Short, as
// kratos does). CI never passes -short; it sets MySQLEnv and RedisEnv, and
// with CI set a missing one fails the tests instead of skipping them, so
// neither half can silently drop out.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// MySQLEnv names the variable holding a MySQL/MariaDB server URL for tests,
// e.g. mysql://root@127.0.0.1:3306/test. Each test gets its own database on
// that server, dropped afterwards.
const MySQLEnv = "KEYCARD_TEST_MYSQL_URL"

// Database is one dialect to run a test against.
type Database struct {
	// Name is the subtest name: "sqlite" or "mysql".
	Name string
	// URL returns the URL of a fresh, empty database for t.
	URL func(t testing.TB) string
}

// Databases lists the dialects to test: SQLite always; MySQL when MySQLEnv
// is set, except under -short. Under CI (CI set) a missing MySQLEnv fails
// the test instead of skipping it.
func Databases(t testing.TB) []Database {
	t.Helper()
	dbs := []Database{{Name: "sqlite", URL: SQLiteURL}}
	switch {
	case testing.Short():
		// The local loop; CI never passes -short.
	case os.Getenv(MySQLEnv) != "":
		dbs = append(dbs, Database{Name: "mysql", URL: MySQLURL})
	case os.Getenv("CI") != "":
		t.Fatalf("%s is not set: CI must run the MySQL/MariaDB tests", MySQLEnv)
	}
	return dbs
}

// Each runs fn as one subtest per database, the subtests in parallel with
// each other: each gets its own database, so they share nothing. fn must
// not touch state shared across tests (a Redis database, a fixed port, the
// process's goroutine count); such tests use EachInTurn.
func Each(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	for _, db := range Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, db)
		})
	}
}

// EachInTurn runs fn as one subtest per database, one after the other, for
// tests that measure or share what the process has only once.
func EachInTurn(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	for _, db := range Databases(t) {
		t.Run(db.Name, func(t *testing.T) { fn(t, db) })
	}
}

// SQLiteURL returns a fresh SQLite database file in the test's temp dir.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "keycard.db")
}

// MySQLURL creates a fresh database on the MySQL server of MySQLEnv and
// drops it when the test ends.
func MySQLURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(MySQLEnv)
	if base == "" {
		t.Fatalf("%s is not set", MySQLEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "keycard_test_" + hex.EncodeToString(suffix[:])
	u.Path = "/" + name

	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	server, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open MySQL server: %v", err)
	}
	if err := server.PingContext(context.Background()); err != nil {
		server.Close()
		t.Fatalf("MySQL server of %s is not reachable: %v", MySQLEnv, err)
	}
	t.Cleanup(func() {
		defer server.Close()
		if _, err := server.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return u.String()
}

// RedisEnv names the variable holding the URL of a Redis database tests may
// empty (FLUSHDB), e.g. redis://127.0.0.1:6379/15. go test runs packages at
// once, so a second package needing Redis uses the database numbered below
// it, and neither empties the other's.
const RedisEnv = "KEYCARD_TEST_REDIS_URL"

// RedisURL returns RedisEnv's URL, or skips t: under -short, or when it is
// not set. Under CI a missing RedisEnv fails t instead. A Redis database is
// shared by every test of a package that uses it, so such tests must not
// run in parallel with each other.
func RedisURL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("Redis tests do not run under -short")
	}
	url := os.Getenv(RedisEnv)
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the Redis tests", RedisEnv)
		}
		t.Skipf("%s is not set", RedisEnv)
	}
	return url
}

// Dialect returns the dialect name of a database URL.
func Dialect(rawURL string) string {
	if strings.HasPrefix(rawURL, "mysql:") {
		return "mysql"
	}
	return "sqlite"
}

// DataOnlyPassword is the password of DataOnlyUser's accounts: every
// character a URL reserves is in it, so the URL must percent-encode it.
const DataOnlyPassword = "Dm1@pw/x:y#z?%"

// DataOnlyUser creates a MySQL account that may only read and write rows
// (SELECT, INSERT, UPDATE, DELETE) of the existing database of dbURL, as a
// least-privilege deployment would, and returns dbURL with that account.
// The account is dropped when the test ends.
func DataOnlyUser(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	admin := mysql.NewConfig()
	admin.Net = "tcp"
	admin.Addr = u.Host
	if u.User != nil {
		admin.User = u.User.Username()
		admin.Passwd, _ = u.User.Password()
	}
	server, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	user := "kc_dml_" + hex.EncodeToString(suffix[:])
	database := strings.TrimPrefix(u.Path, "/")
	// Both host forms: a TCP connection from 127.0.0.1 may be matched as
	// localhost or as the address.
	hosts := []string{"%", "localhost"}
	for _, host := range hosts {
		for _, stmt := range []string{
			"CREATE USER '" + user + "'@'" + host + "' IDENTIFIED BY '" + strings.ReplaceAll(DataOnlyPassword, "'", "''") + "'",
			"GRANT SELECT, INSERT, UPDATE, DELETE ON `" + database + "`.* TO '" + user + "'@'" + host + "'",
		} {
			if _, err := server.Exec(stmt); err != nil {
				t.Fatalf("create data-only user: %v", err)
			}
		}
	}
	t.Cleanup(func() {
		server, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			t.Error(err)
			return
		}
		defer server.Close()
		for _, host := range hosts {
			if _, err := server.Exec("DROP USER IF EXISTS '" + user + "'@'" + host + "'"); err != nil {
				t.Errorf("drop data-only user: %v", err)
			}
		}
	})
	u.User = url.UserPassword(user, DataOnlyPassword)
	return u.String()
}
