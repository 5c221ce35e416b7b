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

		byName, credential, err := store.UserByUsername(ctx, "alice.smith")
		if err != nil {
			t.Fatalf("UserByUsername by key: %v", err)
		}
		checkUser(t, "UserByUsername", byName, want)
		if want := (auth.Credential{PasswordHash: "hash-of-alice"}); credential != want {
			t.Errorf("UserByUsername credential = %+v, want %+v (a new user's is version 0)", credential, want)
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
		got, credential, err := store.UserByUsername(ctx, "bob")
		if err != nil {
			t.Fatalf("UserByUsername: %v", err)
		}
		checkUser(t, "original user", got, first)
		if credential.PasswordHash != "hash-of-Bob" {
			t.Errorf("original hash = %q, want it untouched", credential.PasswordHash)
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
		if _, credential, err := store.UserByUsername(ctx, "nobody"); !errors.Is(err, auth.ErrNotFound) || credential.PasswordHash != "" {
			t.Errorf("UserByUsername(unknown) = (hash %q, %v), want ErrNotFound and no hash", credential.PasswordHash, err)
		}
		if credential, err := store.Credential(ctx, uuid.NewString()); !errors.Is(err, auth.ErrNotFound) || credential.PasswordHash != "" {
			t.Errorf("Credential(unknown) = (hash %q, %v), want ErrNotFound and no hash", credential.PasswordHash, err)
		}
	})

	t.Run("ChangeCredentialIsACompareAndSwapOnTheVersion", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		heidi := createUser(t, store, "heidi", nil, nil)
		ivan := createUser(t, store, "ivan", nil, nil)

		if err := store.ChangeCredential(ctx, heidi.ID, 0, "new-hash"); err != nil {
			t.Fatalf("ChangeCredential from 0: %v", err)
		}
		checkCredential(t, store, heidi.ID, auth.Credential{PasswordHash: "new-hash", Version: 1})
		// A second change made from the version the first one replaced
		// is refused and changes nothing.
		if err := store.ChangeCredential(ctx, heidi.ID, 0, "other-hash"); !errors.Is(err, auth.ErrCredentialChanged) {
			t.Errorf("ChangeCredential from a stale version = %v, want ErrCredentialChanged", err)
		}
		checkCredential(t, store, heidi.ID, auth.Credential{PasswordHash: "new-hash", Version: 1})
		// A change of something else than the password (an email, a
		// second factor) bumps the version and keeps the hash.
		if err := store.ChangeCredential(ctx, heidi.ID, 1, ""); err != nil {
			t.Fatalf("ChangeCredential without a hash: %v", err)
		}
		checkCredential(t, store, heidi.ID, auth.Credential{PasswordHash: "new-hash", Version: 2})
		checkCredential(t, store, ivan.ID, auth.Credential{PasswordHash: "hash-of-ivan"})
		if err := store.ChangeCredential(ctx, uuid.NewString(), 0, "x"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("ChangeCredential(unknown user) = %v, want ErrNotFound", err)
		}
	})

	t.Run("RehashPasswordKeepsTheVersionAndNeverLandsOnANewerOne", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		heidi := createUser(t, store, "heidi", nil, nil)

		if err := store.RehashPassword(ctx, heidi.ID, 0, "rehashed"); err != nil {
			t.Fatalf("RehashPassword: %v", err)
		}
		checkCredential(t, store, heidi.ID, auth.Credential{PasswordHash: "rehashed", Version: 0})
		// The same hash again is a success: the row matched.
		if err := store.RehashPassword(ctx, heidi.ID, 0, "rehashed"); err != nil {
			t.Errorf("RehashPassword to the hash it has: %v", err)
		}
		if err := store.ChangeCredential(ctx, heidi.ID, 0, "changed"); err != nil {
			t.Fatal(err)
		}
		// A rehash of the old password that lands after the change must
		// not bring the old password back.
		if err := store.RehashPassword(ctx, heidi.ID, 0, "old-password-rehashed"); !errors.Is(err, auth.ErrCredentialChanged) {
			t.Errorf("RehashPassword at a stale version = %v, want ErrCredentialChanged", err)
		}
		checkCredential(t, store, heidi.ID, auth.Credential{PasswordHash: "changed", Version: 1})
		if err := store.RehashPassword(ctx, uuid.NewString(), 0, "x"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RehashPassword(unknown user) = %v, want ErrNotFound", err)
		}
	})

	t.Run("CredentialInsideTxReadsItsOwnWrite", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		heidi := createUser(t, store, "heidi", nil, nil)
		err := store.Tx(ctx, func(tx auth.Store) error {
			if err := tx.ChangeCredential(ctx, heidi.ID, 0, "newer-hash"); err != nil {
				return err
			}
			got, err := tx.Credential(ctx, heidi.ID)
			if want := (auth.Credential{PasswordHash: "newer-hash", Version: 1}); err != nil || got != want {
				return fmt.Errorf("Credential inside Tx = (%+v, %v), want %+v", got, err, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		checkCredential(t, store, heidi.ID, auth.Credential{PasswordHash: "newer-hash", Version: 1})
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
				byName, credential, err := store.UserByUsername(ctx, "judy")
				if err != nil {
					t.Fatalf("UserByUsername: %v", err)
				}
				checkUser(t, "UserByUsername", byName, &want)
				if want := (auth.Credential{PasswordHash: "hash-of-judy"}); credential != want {
					t.Errorf("credential = %+v after SetRoles, want it untouched", credential)
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

// checkCredential wants userID's credential to be want, read both ways.
func checkCredential(t *testing.T, store auth.Store, userID string, want auth.Credential) {
	t.Helper()
	got, err := store.Credential(t.Context(), userID)
	if err != nil {
		t.Fatalf("Credential(%s): %v", userID, err)
	}
	if got != want {
		t.Errorf("Credential(%s) = %+v, want %+v", userID, got, want)
	}
	user, err := store.UserByID(t.Context(), userID)
	if err != nil {
		t.Fatalf("UserByID(%s): %v", userID, err)
	}
	key, _ := auth.UsernameKey(user.Username)
	if _, byName, err := store.UserByUsername(t.Context(), key); err != nil || byName != want {
		t.Errorf("UserByUsername(%s) credential = %+v, %v; want %+v", key, byName, err, want)
	}
}
