package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// runUsers checks user rows: what is stored reads back, usernames and emails
// are unique whatever their case, and hash and role updates touch one user.
func runUsers(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("CreateUserThenLookUpsReturnWhatWasStored", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		want := &auth.User{
			ID:        uuid.NewString(),
			Username:  "Alice.Smith",
			Email:     ptr("Alice.Smith@Example.com"),
			Roles:     []string{"admin", "user"},
			CreatedAt: epoch,
		}
		if err := store.CreateUser(ctx, want, "hash-of-alice"); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}

		byID, err := store.UserByID(ctx, want.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		checkUser(t, "UserByID", byID, want)

		byName, hash, err := store.UserByUsername(ctx, "alice.smith")
		if err != nil {
			t.Fatalf("UserByUsername by key: %v", err)
		}
		checkUser(t, "UserByUsername", byName, want)
		if hash != "hash-of-alice" {
			t.Errorf("UserByUsername hash = %q, want %q", hash, "hash-of-alice")
		}
	})

	t.Run("RolesRoundTripInOrder", func(t *testing.T) {
		store := newStore(t)
		for _, tc := range []struct {
			name  string
			roles []string
			want  []string
		}{
			{"nil", nil, []string{}},
			{"empty", []string{}, []string{}},
			{"one", []string{"user"}, []string{"user"}},
			{"several", []string{"support", "admin", "user"}, []string{"support", "admin", "user"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := createUser(t, store, "roles-"+tc.name, nil, tc.roles)
				got, err := store.UserByID(t.Context(), u.ID)
				if err != nil {
					t.Fatalf("UserByID: %v", err)
				}
				if got.Roles == nil || !slices.Equal(got.Roles, tc.want) {
					t.Errorf("Roles = %#v, want %#v", got.Roles, tc.want)
				}
			})
		}
	})

	t.Run("UsernameIsTakenWhateverItsCase", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		first := createUser(t, store, "Bob", nil, nil)
		for _, name := range []string{"Bob", "bob", "BOB", "bOb"} {
			t.Run(name, func(t *testing.T) {
				dup := &auth.User{ID: uuid.NewString(), Username: name, CreatedAt: epoch}
				err := store.CreateUser(ctx, dup, "other-hash")
				if !errors.Is(err, auth.ErrUsernameTaken) {
					t.Fatalf("CreateUser(%q) = %v, want ErrUsernameTaken", name, err)
				}
				if _, err := store.UserByID(ctx, dup.ID); !errors.Is(err, auth.ErrNotFound) {
					t.Errorf("rejected user is readable: UserByID = %v, want ErrNotFound", err)
				}
			})
		}
		got, hash, err := store.UserByUsername(ctx, "bob")
		if err != nil {
			t.Fatalf("UserByUsername: %v", err)
		}
		checkUser(t, "original user", got, first)
		if hash != "hash-of-Bob" {
			t.Errorf("original hash = %q, want it untouched", hash)
		}
	})

	t.Run("EmailIsTakenWhateverItsCase", func(t *testing.T) {
		store := newStore(t)
		createUser(t, store, "carol", ptr("carol@example.com"), nil)
		dup := &auth.User{ID: uuid.NewString(), Username: "carol2", Email: ptr("Carol@EXAMPLE.com"), CreatedAt: epoch}
		if err := store.CreateUser(t.Context(), dup, "h"); !errors.Is(err, auth.ErrEmailTaken) {
			t.Fatalf("CreateUser with same email in other case = %v, want ErrEmailTaken", err)
		}
	})

	// The conflict must be told from the index that failed, never from the
	// values in the database's message, which the registering user chose.
	t.Run("ConflictNamesTheRightFieldWhateverTheValues", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		createUser(t, store, "email_key", ptr("username_key@example.com"), nil)

		dupName := &auth.User{ID: uuid.NewString(), Username: "Email_Key", Email: ptr("other@example.com"), CreatedAt: epoch}
		if err := store.CreateUser(ctx, dupName, "h"); !errors.Is(err, auth.ErrUsernameTaken) {
			t.Errorf("duplicate username %q = %v, want ErrUsernameTaken", dupName.Username, err)
		}
		dupEmail := &auth.User{ID: uuid.NewString(), Username: "someone", Email: ptr("USERNAME_KEY@example.com"), CreatedAt: epoch}
		if err := store.CreateUser(ctx, dupEmail, "h"); !errors.Is(err, auth.ErrEmailTaken) {
			t.Errorf("duplicate email %q = %v, want ErrEmailTaken", *dupEmail.Email, err)
		}
	})

	t.Run("UsersWithoutEmailDoNotConflict", func(t *testing.T) {
		store := newStore(t)
		for _, name := range []string{"dave", "erin", "frank"} {
			u := createUser(t, store, name, nil, nil)
			got, err := store.UserByID(t.Context(), u.ID)
			if err != nil {
				t.Fatalf("UserByID(%s): %v", name, err)
			}
			if got.Email != nil {
				t.Errorf("%s: Email = %q, want nil", name, *got.Email)
			}
		}
	})

	t.Run("UnknownUserIsNotFound", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		createUser(t, store, "grace", nil, nil)
		if _, err := store.UserByID(ctx, uuid.NewString()); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("UserByID(unknown) = %v, want ErrNotFound", err)
		}
		if _, hash, err := store.UserByUsername(ctx, "nobody"); !errors.Is(err, auth.ErrNotFound) || hash != "" {
			t.Errorf("UserByUsername(unknown) = (hash %q, %v), want ErrNotFound and no hash", hash, err)
		}
	})

	t.Run("SetPasswordHashReplacesOnlyThatUsersHash", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		heidi := createUser(t, store, "heidi", nil, nil)
		createUser(t, store, "ivan", nil, nil)

		if err := store.SetPasswordHash(ctx, heidi.ID, "new-hash"); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		checkHash(t, store, "heidi", "new-hash")
		checkHash(t, store, "ivan", "hash-of-ivan")

		// Setting the hash it already has is a success, not "not found":
		// the row exists even when nothing changes.
		if err := store.SetPasswordHash(ctx, heidi.ID, "new-hash"); err != nil {
			t.Errorf("SetPasswordHash to the same hash: %v", err)
		}
		if err := store.SetPasswordHash(ctx, uuid.NewString(), "x"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SetPasswordHash(unknown user) = %v, want ErrNotFound", err)
		}
	})

	t.Run("PasswordHashReturnsTheStoredHash", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		heidi := createUser(t, store, "heidi", nil, nil)
		ivan := createUser(t, store, "ivan", nil, nil)
		checkPasswordHash(t, store, heidi.ID, "hash-of-heidi")
		checkPasswordHash(t, store, ivan.ID, "hash-of-ivan")

		if err := store.SetPasswordHash(ctx, heidi.ID, "new-hash"); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		checkPasswordHash(t, store, heidi.ID, "new-hash")
		checkPasswordHash(t, store, ivan.ID, "hash-of-ivan")

		// A password change checks the old hash and writes the new one in
		// one transaction: the transaction reads its own write.
		err := store.Tx(ctx, func(tx auth.Store) error {
			if err := tx.SetPasswordHash(ctx, heidi.ID, "newer-hash"); err != nil {
				return err
			}
			hash, err := tx.PasswordHash(ctx, heidi.ID)
			if err != nil || hash != "newer-hash" {
				return fmt.Errorf("PasswordHash inside Tx = (%q, %v), want %q", hash, err, "newer-hash")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		checkPasswordHash(t, store, heidi.ID, "newer-hash")

		if hash, err := store.PasswordHash(ctx, uuid.NewString()); !errors.Is(err, auth.ErrNotFound) || hash != "" {
			t.Errorf("PasswordHash(unknown user) = (%q, %v), want ErrNotFound and no hash", hash, err)
		}
	})

	t.Run("SetRolesReplacesRolesInOrder", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		judy := createUser(t, store, "judy", ptr("judy@example.com"), []string{"user"})
		karl := createUser(t, store, "karl", nil, []string{"user", "admin"})
		// Each step starts from the roles the previous one left.
		for _, tc := range []struct {
			name  string
			roles []string
			want  []string
		}{
			{"several", []string{"support", "admin", "user"}, []string{"support", "admin", "user"}},
			{"reordered", []string{"user", "support"}, []string{"user", "support"}},
			// The row exists even when nothing changes: a success, not
			// "not found".
			{"same-again", []string{"user", "support"}, []string{"user", "support"}},
			{"empty", []string{}, []string{}},
			{"one", []string{"admin"}, []string{"admin"}},
			{"nil", nil, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := store.SetRoles(ctx, judy.ID, tc.roles); err != nil {
					t.Fatalf("SetRoles(%#v): %v", tc.roles, err)
				}
				want := *judy
				want.Roles = tc.want
				byID, err := store.UserByID(ctx, judy.ID)
				if err != nil {
					t.Fatalf("UserByID: %v", err)
				}
				checkUser(t, "UserByID", byID, &want)
				byName, hash, err := store.UserByUsername(ctx, "judy")
				if err != nil {
					t.Fatalf("UserByUsername: %v", err)
				}
				checkUser(t, "UserByUsername", byName, &want)
				if hash != "hash-of-judy" {
					t.Errorf("password hash = %q after SetRoles, want it untouched", hash)
				}
			})
		}

		other, err := store.UserByID(ctx, karl.ID)
		if err != nil {
			t.Fatalf("UserByID(karl): %v", err)
		}
		checkUser(t, "other user", other, karl)
		if err := store.SetRoles(ctx, uuid.NewString(), []string{"admin"}); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SetRoles(unknown user) = %v, want ErrNotFound", err)
		}
	})
}

func ptr(s string) *string { return &s }

func checkHash(t *testing.T, store auth.Store, usernameKey, want string) {
	t.Helper()
	_, hash, err := store.UserByUsername(t.Context(), usernameKey)
	if err != nil {
		t.Fatalf("UserByUsername(%s): %v", usernameKey, err)
	}
	if hash != want {
		t.Errorf("%s: password hash = %q, want %q", usernameKey, hash, want)
	}
}

func checkPasswordHash(t *testing.T, store auth.Store, userID, want string) {
	t.Helper()
	hash, err := store.PasswordHash(t.Context(), userID)
	if err != nil {
		t.Fatalf("PasswordHash(%s): %v", userID, err)
	}
	if hash != want {
		t.Errorf("PasswordHash(%s) = %q, want %q", userID, hash, want)
	}
}
