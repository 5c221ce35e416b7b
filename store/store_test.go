package store_test

import (
	"testing"
	"time"

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
