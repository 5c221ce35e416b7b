package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
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
	if got := store.Redact("u:secret@tcp(h:3306)/db"); strings.Contains(got, "secret") || !strings.Contains(got, "tcp(h:3306)/db") {
		t.Errorf("Redact(DSN) = %q", got)
	}
	for _, safe := range []string{"mysql://u@h:1/db", "sqlite:/var/lib/keycard.db", "sqlite::memory:", "sqlite:/data/a@b:c.db"} {
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

// mysqlDatabase is the MySQL half of storetest.Databases, or a skip.
func mysqlDatabase(t *testing.T) storetest.Database {
	t.Helper()
	for _, d := range storetest.Databases(t) {
		if d.Name == "mysql" {
			return d
		}
	}
	t.Skipf("%s is not set", storetest.MySQLEnv)
	return storetest.Database{}
}

// A password with characters that end the user-info part of a URL: not
// one piece of it may show in an error, however the URL is misread.
func TestMySQLURLErrorsNeverEchoThePassword(t *testing.T) {
	pieces := []string{"Zq7", "Xv9", "Wm3", "Ky5", "Jp2"}
	const password = "Zq7@Xv9/Wm3:Ky5#Jp2"
	for _, rawURL := range []string{
		"mysql://keycard:" + password + "@127.0.0.1:3399/keycard",
		"mysql://keycard:Zq7/Xv9@127.0.0.1:3399/keycard",
		"mysql://keycard:Zq7#Xv9@127.0.0.1:3399/keycard",
		"mysql://keycard:Zq7?Xv9@127.0.0.1:3399/keycard",
		"mysql://keycard:39/Xv9@127.0.0.1:3399/keycard", // parses: host "keycard", port 39
		"mysql://keycard:39#Xv9@127.0.0.1:3399/keycard", // parses: no path at all
		"mysql://keycard:Zq7%zzXv9@127.0.0.1:3399/keycard",
	} {
		t.Run(rawURL, func(t *testing.T) {
			for name, err := range map[string]error{"CheckURL": store.CheckURL(rawURL), "Open": openErr(t, rawURL)} {
				if err == nil {
					t.Fatalf("%s accepted it", name)
				}
				if !strings.Contains(err.Error(), "must be percent-encoded: @ as %40, / as %2F, : as %3A, # as %23") {
					t.Errorf("%s: %q does not say to percent-encode", name, err)
				}
				for _, piece := range append(pieces, "39/", "39#") {
					if strings.Contains(err.Error(), piece) {
						t.Errorf("%s: %q holds %q of the password", name, err, piece)
					}
				}
			}
			for _, piece := range pieces {
				if strings.Contains(store.Redact(rawURL), piece) {
					t.Errorf("Redact = %q, holds %q of the password", store.Redact(rawURL), piece)
				}
			}
		})
	}
	// An unencoded @ or : alone is unambiguous (the last @ ends the user
	// part, the first : the user name), so it is taken as meant.
	for _, rawURL := range []string{"mysql://keycard:Zq7@Xv9@127.0.0.1:3399/keycard", "mysql://keycard:Zq7:Xv9@127.0.0.1:3399/keycard"} {
		if err := store.CheckURL(rawURL); err != nil {
			t.Errorf("CheckURL(%s) = %v", rawURL, err)
		}
		if err := openErr(t, rawURL); err == nil || !strings.Contains(err.Error(), "cannot connect to 127.0.0.1:3399") || strings.Contains(err.Error(), "Xv9") {
			t.Errorf("Open(%s) = %v", rawURL, err)
		}
	}
	// Encoded, the URL is fine; the error is the server's absence, named.
	encoded := "mysql://keycard:" + url.QueryEscape(password) + "@127.0.0.1:3399/keycard"
	if err := store.CheckURL(encoded); err != nil {
		t.Fatalf("CheckURL(encoded) = %v", err)
	}
	err := openErr(t, encoded)
	if err == nil || !strings.Contains(err.Error(), "cannot connect to 127.0.0.1:3399") {
		t.Errorf("Open(encoded) = %v, want it to name the server it cannot reach", err)
	}
	for _, piece := range pieces {
		if err != nil && strings.Contains(err.Error(), piece) {
			t.Errorf("%q holds %q of the password", err, piece)
		}
	}
}

func openErr(t *testing.T, rawURL string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	db, err := store.Open(ctx, rawURL, time.Now)
	if err == nil {
		db.Close()
	}
	return err
}

// The Go driver's DSN is answered with the same place in URL form.
func TestGoDSNGetsTheURLForm(t *testing.T) {
	for _, dsn := range []string{"keycard:Zq7pass@tcp(db.internal:3306)/keycard?parseTime=true", "mysql://keycard:Zq7pass@tcp(db.internal:3306)/keycard"} {
		err := store.CheckURL(dsn)
		if err == nil || !strings.Contains(err.Error(), "mysql://keycard:PASSWORD@db.internal:3306/keycard") || strings.Contains(err.Error(), "Zq7") {
			t.Errorf("CheckURL(%s) = %v", dsn, err)
		}
	}
}

func TestSQLiteErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	missingDir := filepath.Join(dir, "missing", "dir", "x.db")
	if err := openErr(t, "sqlite:"+missingDir); err == nil || !strings.Contains(err.Error(), missingDir) || !strings.Contains(err.Error(), filepath.Dir(missingDir)+" does not exist") {
		t.Errorf("Open in a missing directory: %v", err)
	}
	missingFile := filepath.Join(dir, "x.db")
	db, err := store.OpenExisting(t.Context(), "sqlite:"+missingFile, time.Now)
	if err == nil {
		db.Close()
		t.Fatal("OpenExisting of a missing file succeeded")
	}
	if !strings.Contains(err.Error(), missingFile) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenExisting of a missing file: %v", err)
	}
	if _, statErr := os.Stat(missingFile); statErr == nil {
		t.Error("OpenExisting created the file")
	}
}

// A user that may only read and write rows runs keycard: an existing
// database is used as it is (no CREATE DATABASE); one it has no rights on
// is reported as that, one that is missing as missing.
func TestDataOnlyUserOpensAnExistingDatabase(t *testing.T) {
	database := mysqlDatabase(t)
	adminURL := database.URL(t)
	openMigrated(t, adminURL) // creates and migrates it
	dataOnly := storetest.DataOnlyUser(t, adminURL)
	for name, open := range map[string]func(context.Context, string, func() time.Time) (*store.DB, error){"Open": store.Open, "OpenExisting": store.OpenExisting} {
		db, err := open(t.Context(), dataOnly, time.Now)
		if err != nil {
			t.Fatalf("%s as a data-only user: %v", name, err)
		}
		if err := store.New(db, 0).Ping(t.Context()); err != nil {
			t.Errorf("%s: Ping: %v", name, err)
		}
		db.Close()
	}

	u, _ := url.Parse(dataOnly)
	u.Path = "/keycard_never_created"
	err := openErr(t, u.String())
	if err == nil || !strings.Contains(err.Error(), `may not use database "keycard_never_created" on 127.0.0.1:3306`) {
		t.Errorf("Open of a database the user has no rights on: %v", err)
	}
	if strings.Contains(err.Error(), storetest.DataOnlyPassword) {
		t.Errorf("error holds the password: %v", err)
	}
	db, err := store.OpenExisting(t.Context(), strings.Replace(adminURL, u.Host+"/", u.Host+"/keycard_never_created_either", 1), time.Now)
	if err == nil {
		db.Close()
		t.Fatal("OpenExisting of a missing database succeeded")
	}
	if !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("OpenExisting of a missing database: %v", err)
	}
	wrong, _ := url.Parse(dataOnly)
	wrong.User = url.UserPassword(wrong.User.Username(), "not-the-password")
	if err := openErr(t, wrong.String()); err == nil || !strings.Contains(err.Error(), "refused user") || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("wrong password: %v", err)
	}
}
