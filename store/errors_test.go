package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/store"
	"github.com/keycard/keycard/store/storetest"
)

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
