package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/store"
	"github.com/keycard/keycard/store/storetest"
)

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
