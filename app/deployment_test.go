package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/store"
	"github.com/keycard/keycard/store/storetest"
)

// A least-privilege deployment: the schema is migrated by an administrator
// (keycard migrate up as a separate job), and keycard runs as a user that
// may only SELECT, INSERT, UPDATE and DELETE rows, with KEYCARD_MIGRATE=off
// or check. Every flow works through HTTP; check refuses to start while a
// migration is pending.
func TestDataOnlyUserServesWithMigrationsOff(t *testing.T) {
	var mysqlDB *storetest.Database
	for _, d := range storetest.Databases(t) {
		if d.Name == "mysql" {
			mysqlDB = &d
		}
	}
	if mysqlDB == nil {
		t.Skipf("%s is not set", storetest.MySQLEnv)
	}
	t.Parallel()
	adminURL := mysqlDB.URL(t)
	migrateAs(t, adminURL, "up")
	dataOnly := storetest.DataOnlyUser(t, adminURL)
	// The user really may not change the schema, so serving below proves
	// that keycard does not need to.
	db, err := store.OpenExisting(context.Background(), dataOnly, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.Exec("CREATE TABLE ddl_probe (id INT)"); err == nil {
		t.Fatal("the data-only user may create tables")
	}
	db.Close()

	for _, mode := range []string{"off", "check"} {
		t.Run(mode, func(t *testing.T) {
			s := startServer(t, dataOnly, withEnv("KEYCARD_MIGRATE", mode))
			name := unique("dml")
			reg := s.register(t, name, "open-sesame-42")
			login := s.login(t, name, "open-sesame-42")
			expectOK(t, s.me(t, login.AccessToken))
			expectOK(t, s.refresh(t, login.refresh()))
			expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, map[string]any{"scope": "ALL"}))
			expectCode(t, s.me(t, login.AccessToken), "UNAUTHENTICATED")
			if _, err := s.app.Service().GrantRole(context.Background(), name, "admin"); err != nil {
				t.Errorf("GrantRole as the data-only user: %v", err)
			}
			s.stop()
		})
	}

	// A migration left out: check refuses to start, naming it and the fix.
	migrateAs(t, adminURL, "down")
	cfg := loadConfig(t, map[string]string{"KEYCARD_DATABASE_URL": dataOnly, "KEYCARD_JWT_SECRET": testSecret, "KEYCARD_MIGRATE": "check"})
	if a, err := app.New(context.Background(), cfg, app.Options{PasswordParams: &cheapArgon2, NoBackground: true}); err == nil {
		a.Close()
		t.Fatal("KEYCARD_MIGRATE=check started with a migration pending")
	} else if !strings.Contains(err.Error(), "1 migration(s) pending") || !strings.Contains(err.Error(), "keycard migrate up") {
		t.Errorf("check with a migration pending: %v", err)
	}
}

// migrateAs runs keycard migrate up or down on dbURL, as an administrator.
func migrateAs(t *testing.T, dbURL, direction string) {
	t.Helper()
	db, err := store.Open(context.Background(), dbURL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrator, err := db.Migrator(nil)
	if err != nil {
		t.Fatal(err)
	}
	if direction == "up" {
		_, err = migrator.Up(context.Background())
	} else {
		_, err = migrator.Down(context.Background())
	}
	if err != nil {
		t.Fatalf("migrate %s: %v", direction, err)
	}
}

func loadConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
