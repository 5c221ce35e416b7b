package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/keycard/keycard/store"
	"github.com/keycard/keycard/store/storetest"
)

func TestOpenCreatesMySQLDatabase(t *testing.T) {
	var database *storetest.Database
	for _, d := range storetest.Databases(t) {
		if d.Name == "mysql" {
			database = &d
		}
	}
	if database == nil {
		t.Skipf("%s is not set", storetest.MySQLEnv)
	}
	rawURL := database.URL(t)
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	server := mysqlServer(t, u)

	if collation := schemaCollation(t, server, name); collation != "" {
		t.Fatalf("database %s exists before Open", name)
	}
	db := openMigrated(t, rawURL)
	// Every table relies on utf8mb4_bin; a database created with the
	// server's default collation would compare case-insensitively.
	if collation := schemaCollation(t, server, name); collation != "utf8mb4_bin" {
		t.Errorf("database %s after Open: collation %q, want utf8mb4_bin", name, collation)
	}
	if err := store.New(db, 0).Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// A second instance starting against the now existing database.
	open(t, rawURL)
}

// mysqlServer connects to the server of u without selecting a database.
func mysqlServer(t *testing.T, u *url.URL) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	server := sql.OpenDB(connector)
	t.Cleanup(func() { server.Close() })
	return server
}

// schemaCollation is the default collation of database name, or "" if it
// does not exist.
func schemaCollation(t *testing.T, server *sql.DB, name string) string {
	t.Helper()
	var collation string
	err := server.QueryRowContext(t.Context(),
		"SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&collation)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatalf("look up database %s: %v", name, err)
	}
	return collation
}

func TestRedactHidesPassword(t *testing.T) {
	for _, tc := range []struct {
		url  string
		keep []string
	}{
		{"mysql://u:secret@h:1/db", []string{"u", "h:1", "/db"}},
		{"mysql://keycard:secret@db.internal:3306/keycard?tls=true", []string{"keycard", "db.internal:3306", "tls=true"}},
		{"mysql://u:secret@h:1/db%zz", nil},
		{"mysql://u:s%65cret@h/db", []string{"h/db"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got := store.Redact(tc.url)
			if strings.Contains(got, "secret") || strings.Contains(got, "s%65cret") {
				t.Errorf("Redact(%q) = %q, still holds the password", tc.url, got)
			}
			for _, part := range tc.keep {
				if !strings.Contains(got, part) {
					t.Errorf("Redact(%q) = %q, lost %q", tc.url, got, part)
				}
			}
		})
	}
	for _, safe := range []string{"mysql://u@h:1/db", "sqlite:/var/lib/keycard.db", "sqlite::memory:"} {
		if got := store.Redact(safe); got != safe {
			t.Errorf("Redact(%q) = %q, want it unchanged", safe, got)
		}
	}
}

// Start-up errors end up in logs and terminals; the password must not.
func TestOpenErrorsHidePassword(t *testing.T) {
	for _, rawURL := range []string{
		// Nothing listens on port 1: the connection is refused.
		"mysql://u:secret@127.0.0.1:1/db",
		"mysql://u:secret@127.0.0.1:3306/db?timeout=notaduration",
		"mysql://u:secret@127.0.0.1:3306/",
	} {
		t.Run(rawURL, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			db, err := store.Open(ctx, rawURL, time.Now)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open error %q holds the password", err)
			}
		})
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	for _, rawURL := range []string{
		"postgres://u:secret@h:5432/keycard",
		"keycard.db",
		"",
		"MYSQL://u:secret@h/db",
	} {
		t.Run(rawURL, func(t *testing.T) {
			db, err := store.Open(t.Context(), rawURL, time.Now)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", rawURL)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open error %q holds the password", err)
			}
		})
	}
}
