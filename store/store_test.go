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
	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/store"
	"github.com/keycard/keycard/store/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, database storetest.Database) {
		storetest.Run(t, func(t *testing.T) auth.Store {
			return store.New(openMigrated(t, database.URL(t)), 0)
		})
	})
}

// open opens rawURL and closes it when the test ends, before the test
// database is dropped.
func open(t *testing.T, rawURL string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), rawURL, time.Now)
	if err != nil {
		t.Fatalf("Open(%s): %v", store.Redact(rawURL), err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func openMigrated(t *testing.T, rawURL string) *store.DB {
	t.Helper()
	db := open(t, rawURL)
	migrator, err := db.Migrator(nil)
	if err != nil {
		t.Fatalf("Migrator: %v", err)
	}
	if _, err := migrator.Up(t.Context()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return db
}

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

func TestMigrateDownAndUpAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, database storetest.Database) {
		ctx := t.Context()
		db := open(t, database.URL(t))
		migrator, err := db.Migrator(nil)
		if err != nil {
			t.Fatalf("Migrator: %v", err)
		}

		applied, err := migrator.Up(ctx)
		if err != nil {
			t.Fatalf("Up: %v", err)
		}
		if len(applied) == 0 {
			t.Fatal("Up on an empty database applied nothing")
		}
		last := applied[len(applied)-1].Source.Version
		checkStates(t, migrator, "after Up", last, goose.StateApplied)

		reverted, err := migrator.Down(ctx)
		if err != nil {
			t.Fatalf("Down: %v", err)
		}
		if reverted.Source.Version != last {
			t.Errorf("Down reverted version %d, want the last one, %d", reverted.Source.Version, last)
		}
		checkStates(t, migrator, "after Down", last, goose.StatePending)

		reapplied, err := migrator.Up(ctx)
		if err != nil {
			t.Fatalf("Up after Down: %v", err)
		}
		if len(reapplied) != 1 || reapplied[0].Source.Version != last {
			t.Errorf("Up after Down applied %v, want only version %d", versions(reapplied), last)
		}
		checkStates(t, migrator, "after Up again", last, goose.StateApplied)

		if again, err := migrator.Up(ctx); err != nil || len(again) != 0 {
			t.Errorf("Up with nothing pending = %v, %v; want no migrations", versions(again), err)
		}
		// The re-created schema is usable.
		user := &auth.User{ID: uuid.NewString(), Username: "after-migrations", CreatedAt: time.Now().UTC()}
		if err := store.New(db, 0).CreateUser(ctx, user, "h"); err != nil {
			t.Errorf("CreateUser after Down and Up: %v", err)
		}
	})
}

// checkStates wants every migration before last applied and last in
// lastState.
func checkStates(t *testing.T, migrator interface {
	Status(context.Context) ([]*goose.MigrationStatus, error)
}, when string, last int64, lastState goose.State) {
	t.Helper()
	statuses, err := migrator.Status(t.Context())
	if err != nil {
		t.Fatalf("Status %s: %v", when, err)
	}
	if len(statuses) == 0 || statuses[len(statuses)-1].Source.Version != last {
		t.Fatalf("Status %s lists %d migrations, want the last to be version %d", when, len(statuses), last)
	}
	for i, status := range statuses {
		want := goose.StateApplied
		if i == len(statuses)-1 {
			want = lastState
		}
		if status.State != want {
			t.Errorf("Status %s: version %d is %s, want %s", when, status.Source.Version, status.State, want)
		}
		if i > 0 && status.Source.Version <= statuses[i-1].Source.Version {
			t.Errorf("Status %s: versions out of order at %d", when, status.Source.Version)
		}
	}
}

func versions(results []*goose.MigrationResult) []int64 {
	var vs []int64
	for _, r := range results {
		vs = append(vs, r.Source.Version)
	}
	return vs
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

// What a client sees of a store error is auth.Error's Message: SQL, table
// and index names, and the conflicting values stay out of it.
func TestStoreErrorsCarryNoSQLToClients(t *testing.T) {
	sqlFragments := []string{"INSERT", "insert", "users", "username_key", "Duplicate", "UNIQUE", "constraint", "FOREIGN", "sessions", "'"}
	checkClean := func(t *testing.T, what, message string) {
		t.Helper()
		for _, fragment := range sqlFragments {
			if strings.Contains(message, fragment) {
				t.Errorf("%s %q contains %q", what, message, fragment)
			}
		}
	}
	storetest.Each(t, func(t *testing.T, database storetest.Database) {
		ctx := t.Context()
		s := store.New(openMigrated(t, database.URL(t)), 0)
		now := time.Now().UTC().Truncate(time.Microsecond)
		first := &auth.User{ID: uuid.NewString(), Username: "taken", CreatedAt: now}
		if err := s.CreateUser(ctx, first, "h"); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}

		t.Run("UniqueViolationIsUsernameTaken", func(t *testing.T) {
			err := s.CreateUser(ctx, &auth.User{ID: uuid.NewString(), Username: "TAKEN", CreatedAt: now}, "h")
			var domain *auth.Error
			if !errors.As(err, &domain) || !errors.Is(err, auth.ErrUsernameTaken) {
				t.Fatalf("duplicate CreateUser = %v, want ErrUsernameTaken", err)
			}
			checkClean(t, "Message", domain.Message)
			checkClean(t, "Error()", err.Error())
		})

		t.Run("UnexpectedFailureIsInternal", func(t *testing.T) {
			orphan := &auth.Session{ID: uuid.NewString(), UserID: uuid.NewString(), CreatedAt: now, LastUsedAt: now, RotatedAt: now, ExpiresAt: now.Add(time.Hour)}
			hash := make([]byte, 32)
			err := s.CreateSession(ctx, orphan, hash)
			var domain *auth.Error
			if !errors.As(err, &domain) || domain.Kind != auth.KindInternal {
				t.Fatalf("CreateSession for a missing user = %v, want an internal error", err)
			}
			if domain.Message != auth.ErrInternal.Message {
				t.Errorf("Message = %q, want the generic %q", domain.Message, auth.ErrInternal.Message)
			}
			checkClean(t, "Message", domain.Message)
		})
	})
}

func TestTransactionOutlivingItsDeadlineIsUnavailable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, database storetest.Database) {
		s := store.New(openMigrated(t, database.URL(t)), 100*time.Millisecond)
		err := s.Tx(t.Context(), func(tx auth.Store) error {
			time.Sleep(200 * time.Millisecond) // a database too slow to answer in time
			return tx.CreateUser(t.Context(), &auth.User{ID: "0196a7e0-0000-7000-8000-0000000000aa", Username: "slowpoke", Roles: []string{}, CreatedAt: time.Now().UTC()}, "h")
		})
		if auth.KindOf(err) != auth.KindUnavailable {
			t.Fatalf("kind %v, want unavailable: %v", auth.KindOf(err), err)
		}
	})
}
