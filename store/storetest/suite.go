package storetest

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// Run is the storage contract: every auth.Store implementation, on every
// database, must pass it unchanged. newStore returns a fresh, migrated,
// empty store for one subtest and closes it when that subtest ends.
//
// The suite speaks only through auth.Store and never asks which dialect it
// runs on: a dialect passes by behaving exactly like the others.
func Run(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("users", func(t *testing.T) { runUsers(t, newStore) })
	t.Run("sessions", func(t *testing.T) { runSessions(t, newStore) })
	t.Run("tx", func(t *testing.T) { runTx(t, newStore) })
	t.Run("revocations", func(t *testing.T) { runRevocations(t, newStore) })
	t.Run("events", func(t *testing.T) { runEvents(t, newStore) })
	t.Run("purge", func(t *testing.T) { runPurge(t, newStore) })
	t.Run("ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("concurrency", func(t *testing.T) { runConcurrency(t, newStore) })
}

// epoch is the suite's "now". It has a microsecond part, the precision the
// service writes (auth.Service.clock) and DATETIME(6) keeps, so a dialect
// that drops or rounds sub-second digits fails.
var epoch = time.Date(2031, time.March, 14, 15, 9, 26, 535897000, time.UTC)

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

func runSessions(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("CreateSessionThenLookUpReturnsItAtGenerationZero", func(t *testing.T) {
		store := newStore(t)
		user := createUser(t, store, "judy", nil, nil)
		want, hash := createSession(t, store, user.ID)

		got, generation, err := store.SessionByRefreshHash(t.Context(), hash)
		if err != nil {
			t.Fatalf("SessionByRefreshHash: %v", err)
		}
		checkSession(t, "session", got, want)
		if generation != 0 {
			t.Errorf("generation = %d, want 0", generation)
		}
	})

	t.Run("UnknownRefreshHashIsNotFound", func(t *testing.T) {
		store := newStore(t)
		user := createUser(t, store, "karl", nil, nil)
		createSession(t, store, user.ID)
		if _, _, err := store.SessionByRefreshHash(t.Context(), refreshHash(t)); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SessionByRefreshHash(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("AdvanceSessionKeepsEveryEarlierTokenResolvable", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "laura", nil, nil)
		sess, firstHash := createSession(t, store, user.ID)
		hashes := [][]byte{firstHash}

		for step := 1; step <= 2; step++ {
			at := epoch.Add(time.Duration(step) * time.Hour)
			next := *sess
			next.Generation++
			next.LastUsedAt = at
			next.RotatedAt = at
			next.ExpiresAt = at.Add(30 * 24 * time.Hour)
			next.UserAgent = fmt.Sprintf("agent %d", step)
			next.IP = fmt.Sprintf("198.51.100.%d", step)
			hash := refreshHash(t)
			if err := store.AdvanceSession(ctx, &next, hash); err != nil {
				t.Fatalf("AdvanceSession to generation %d: %v", next.Generation, err)
			}
			sess = &next
			hashes = append(hashes, hash)
		}

		// Earlier tokens resolve to their own generation so that a replayed
		// one is recognised as reuse, not as unknown.
		for issued, hash := range hashes {
			got, generation, err := store.SessionByRefreshHash(ctx, hash)
			if err != nil {
				t.Fatalf("SessionByRefreshHash(token of generation %d): %v", issued, err)
			}
			if generation != int64(issued) {
				t.Errorf("token of generation %d resolves to generation %d", issued, generation)
			}
			checkSession(t, fmt.Sprintf("session via token of generation %d", issued), got, sess)
		}
	})

	t.Run("AdvanceSessionFromStaleGenerationChangesNothing", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "mallory", nil, nil)
		read, _ := createSession(t, store, user.ID)

		winner := *read
		winner.Generation++
		winner.RotatedAt = epoch.Add(time.Minute)
		winner.UserAgent = "winner"
		winnerHash := refreshHash(t)
		if err := store.AdvanceSession(ctx, &winner, winnerHash); err != nil {
			t.Fatalf("AdvanceSession: %v", err)
		}

		loser := *read
		loser.Generation++
		loser.RotatedAt = epoch.Add(2 * time.Minute)
		loser.UserAgent = "loser"
		loserHash := refreshHash(t)
		err := store.AdvanceSession(ctx, &loser, loserHash)
		if !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("AdvanceSession from a stale generation = %v, want ErrInvalidRefresh", err)
		}
		if _, _, err := store.SessionByRefreshHash(ctx, loserHash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("stale rotation stored its token: SessionByRefreshHash = %v, want ErrNotFound", err)
		}
		got, _, err := store.SessionByRefreshHash(ctx, winnerHash)
		if err != nil {
			t.Fatalf("SessionByRefreshHash: %v", err)
		}
		checkSession(t, "session after stale rotation", got, &winner)
	})

	// A rotation racing a logout must not bring the session back to life.
	t.Run("AdvanceSessionOfRevokedSessionFails", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "niaj", nil, nil)
		sess, _ := createSession(t, store, user.ID)
		if _, err := store.RevokeSessions(ctx, user.ID, nil, epoch, epoch.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		next := *sess
		next.Generation++
		hash := refreshHash(t)
		if err := store.AdvanceSession(ctx, &next, hash); err == nil {
			t.Fatal("AdvanceSession of a revoked session succeeded")
		}
		if _, _, err := store.SessionByRefreshHash(ctx, hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("refused rotation stored its token: SessionByRefreshHash = %v, want ErrNotFound", err)
		}
	})

	t.Run("LiveSessionsListsTheUsersLiveSessionsMostRecentlyUsedFirst", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		now := epoch
		wholeSecond := now.Truncate(time.Second)
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)

		byName := map[string]*auth.Session{}
		for i, sess := range []*auth.Session{
			sessionUsed(alice.ID, "expires in a microsecond", now.Add(-time.Hour), now.Add(time.Microsecond)),
			// Used at a whole second just before a fractional now: a text
			// comparison of times must still order them as instants.
			sessionUsed(alice.ID, "used at a whole second", wholeSecond, now.Add(24*time.Hour)),
			sessionUsed(alice.ID, "used long ago", now.Add(-72*time.Hour), now.Add(time.Hour)),
			sessionUsed(alice.ID, "expires at now", now.Add(-10*time.Minute), now),
			sessionUsed(alice.ID, "expired a microsecond ago", now.Add(-20*time.Minute), now.Add(-time.Microsecond)),
			sessionUsed(alice.ID, "expired at a whole second", now.Add(-30*time.Minute), wholeSecond),
			sessionUsed(alice.ID, "revoked", now.Add(-5*time.Minute), now.Add(24*time.Hour)),
			sessionUsed(alice.ID, "rotated", now.Add(-48*time.Hour), now.Add(time.Minute)),
			// Bob's session is the most recently used of all, so leaking it
			// would put it first.
			sessionUsed(bob.ID, "bob's", now, now.Add(24*time.Hour)),
		} {
			sess.IP = fmt.Sprintf("2001:db8::%x", i+1)
			storeSession(t, store, sess)
			byName[sess.UserAgent] = sess
		}
		if _, err := store.RevokeSessions(ctx, alice.ID, []string{byName["revoked"].ID}, now.Add(-time.Minute), now.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		// Rotation moves a session's last use and expiry forward: it goes
		// from the bottom of the list to the top.
		byName["rotated"], _ = advanceSession(t, store, byName["rotated"], now.Add(-time.Microsecond))

		for _, tc := range []struct {
			who    string
			userID string
			now    time.Time
			want   []string
		}{
			{"alice", alice.ID, now, []string{"rotated", "used at a whole second", "expires in a microsecond", "used long ago"}},
			{"alice", alice.ID, now.Add(time.Hour), []string{"rotated", "used at a whole second"}},
			{"bob", bob.ID, now, []string{"bob's"}},
			{"bob", bob.ID, now.Add(24 * time.Hour), nil},
			{"unknown user", uuid.NewString(), now, nil},
		} {
			got, err := store.LiveSessions(ctx, tc.userID, tc.now)
			if err != nil {
				t.Fatalf("LiveSessions(%s, %s): %v", tc.who, tc.now, err)
			}
			var gotNames []string
			for _, sess := range got {
				gotNames = append(gotNames, sess.UserAgent)
			}
			if !slices.Equal(gotNames, tc.want) {
				t.Errorf("LiveSessions(%s, %s) = %q, want %q", tc.who, tc.now, gotNames, tc.want)
				continue
			}
			for _, sess := range got {
				checkSession(t, "LiveSessions: "+sess.UserAgent, sess, byName[sess.UserAgent])
			}
		}
	})
}

func runTx(t *testing.T, newStore func(t *testing.T) auth.Store) {
	errAbort := errors.New("abort")

	t.Run("ErrorRollsBackEveryWrite", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := &auth.User{ID: uuid.NewString(), Username: "olivia", CreatedAt: epoch}
		hash := refreshHash(t)
		err := store.Tx(ctx, func(tx auth.Store) error {
			if err := tx.CreateUser(ctx, user, "h"); err != nil {
				return err
			}
			if err := tx.CreateSession(ctx, newSession(user.ID), hash); err != nil {
				return err
			}
			if err := tx.AppendRevocation(ctx, newRevocation(epoch.Add(time.Hour))); err != nil {
				return err
			}
			// Writes are visible inside the transaction before commit.
			if _, err := tx.UserByID(ctx, user.ID); err != nil {
				return fmt.Errorf("own write not visible inside Tx: %w", err)
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Tx = %v, want fn's error", err)
		}
		if _, err := store.UserByID(ctx, user.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("user survived rollback: UserByID = %v", err)
		}
		if _, _, err := store.SessionByRefreshHash(ctx, hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("session survived rollback: SessionByRefreshHash = %v", err)
		}
		checkMaxRevocationID(t, store, 0)
	})

	t.Run("NilCommits", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := &auth.User{ID: uuid.NewString(), Username: "peggy", CreatedAt: epoch}
		err := store.Tx(ctx, func(tx auth.Store) error { return tx.CreateUser(ctx, user, "h") })
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		if _, err := store.UserByID(ctx, user.ID); err != nil {
			t.Errorf("committed user: UserByID = %v", err)
		}
	})

	// The service hands domain errors through Tx to its callers; they must
	// keep their kind, not turn into internal errors.
	t.Run("DomainErrorPassesThroughUnchanged", func(t *testing.T) {
		store := newStore(t)
		err := store.Tx(t.Context(), func(auth.Store) error { return auth.ErrInvalidRefresh })
		if !errors.Is(err, auth.ErrInvalidRefresh) || auth.KindOf(err) != auth.KindUnauthenticated {
			t.Errorf("Tx = %v (kind %v), want ErrInvalidRefresh", err, auth.KindOf(err))
		}
	})

	t.Run("NestedTxJoinsTheOuterOne", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			innerErr   error
			outerErr   error
			wantStored bool
		}{
			{"BothCommit", nil, nil, true},
			{"OuterErrorUndoesCommittedInner", nil, errAbort, false},
			{"InnerErrorUndoesOuter", errAbort, nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				store := newStore(t)
				ctx := t.Context()
				outerUser := &auth.User{ID: uuid.NewString(), Username: "outer", CreatedAt: epoch}
				innerUser := &auth.User{ID: uuid.NewString(), Username: "inner", CreatedAt: epoch}
				err := store.Tx(ctx, func(tx auth.Store) error {
					if err := tx.CreateUser(ctx, outerUser, "h"); err != nil {
						return err
					}
					err := tx.Tx(ctx, func(inner auth.Store) error {
						if _, err := inner.UserByID(ctx, outerUser.ID); err != nil {
							return fmt.Errorf("outer write not visible in nested Tx: %w", err)
						}
						if err := inner.CreateUser(ctx, innerUser, "h"); err != nil {
							return err
						}
						return tc.innerErr
					})
					if err != nil {
						return err
					}
					return tc.outerErr
				})
				if want := cmp.Or(tc.innerErr, tc.outerErr); !errors.Is(err, want) {
					t.Fatalf("Tx = %v, want %v", err, want)
				}
				for _, u := range []*auth.User{outerUser, innerUser} {
					_, err := store.UserByID(ctx, u.ID)
					if stored := err == nil; stored != tc.wantStored {
						t.Errorf("user %s stored = %v (UserByID: %v), want %v", u.Username, stored, err, tc.wantStored)
					}
				}
			})
		}
	})

	// A role change writes the roles, a UserChanged entry that makes other
	// processes drop their cached user, and an audit event: all or none.
	t.Run("RoleChangeCommitsOrRollsBackWithItsLogEntries", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			fnErr      error
			wantStored bool
		}{
			{"Commit", nil, true},
			{"Rollback", errAbort, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				store := newStore(t)
				ctx := t.Context()
				user := createUser(t, store, "quentin", nil, []string{"user"})
				entry := &auth.Revocation{Kind: auth.UserChanged, Subject: user.ID, UserID: user.ID, RevokedAt: epoch, ExpiresAt: epoch.Add(time.Minute)}
				event := &auth.Event{Kind: auth.EventRoleGranted, UserID: &user.ID, Username: user.Username, Detail: "admin", CreatedAt: epoch}
				err := store.Tx(ctx, func(tx auth.Store) error {
					if err := tx.SetRoles(ctx, user.ID, []string{"user", "admin"}); err != nil {
						return err
					}
					got, err := tx.UserByID(ctx, user.ID)
					if err != nil {
						return err
					}
					if !slices.Equal(got.Roles, []string{"user", "admin"}) {
						return fmt.Errorf("roles inside Tx = %q, want the ones just set", got.Roles)
					}
					if err := tx.AppendRevocation(ctx, entry); err != nil {
						return err
					}
					if err := tx.RecordEvent(ctx, event); err != nil {
						return err
					}
					return tc.fnErr
				})
				if !errors.Is(err, tc.fnErr) {
					t.Fatalf("Tx = %v, want %v", err, tc.fnErr)
				}

				want := *user
				if tc.wantStored {
					want.Roles = []string{"user", "admin"}
				}
				got, err := store.UserByID(ctx, user.ID)
				if err != nil {
					t.Fatalf("UserByID: %v", err)
				}
				checkUser(t, "user after Tx", got, &want)
				entries, err := store.RevocationsAfter(ctx, 0, epoch, 10)
				if err != nil {
					t.Fatalf("RevocationsAfter: %v", err)
				}
				events, err := store.Events(ctx, auth.EventFilter{Limit: 10})
				if err != nil {
					t.Fatalf("Events: %v", err)
				}
				if !tc.wantStored {
					if len(entries) != 0 || len(events) != 0 {
						t.Errorf("after rollback: revocation list %+v, events %+v; want both empty", entries, events)
					}
					return
				}
				if !slices.EqualFunc(entries, []auth.Revocation{*entry}, sameRevocation) {
					t.Errorf("revocation list = %+v, want the UserChanged entry %+v", entries, *entry)
				}
				if len(events) != 1 {
					t.Fatalf("Events = %+v, want the one recorded", events)
				}
				checkEvent(t, "recorded event", events[0], event)
			})
		}
	})
}

func runRevocations(t *testing.T, newStore func(t *testing.T) auth.Store) {
	revokedAt := epoch.Add(time.Hour)
	until := revokedAt.Add(15 * time.Minute)

	t.Run("RevokeAllSessionsOfOneUserOnly", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		a1, a1Hash := createSession(t, store, alice.ID)
		a2, a2Hash := createSession(t, store, alice.ID)
		_, bobHash := createSession(t, store, bob.ID)

		revoked, err := store.RevokeSessions(ctx, alice.ID, nil, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		checkSessionRevocations(t, revoked, alice.ID, []string{a1.ID, a2.ID}, revokedAt, until)
		checkRevokedAt(t, store, a1Hash, &revokedAt)
		checkRevokedAt(t, store, a2Hash, &revokedAt)
		checkRevokedAt(t, store, bobHash, nil)

		// The returned entries are the ones stored: same ids, same fields.
		listed, err := store.RevocationsAfter(ctx, 0, revokedAt, 100)
		if err != nil {
			t.Fatalf("RevocationsAfter: %v", err)
		}
		if !slices.EqualFunc(listed, sortedByID(revoked), sameRevocation) {
			t.Errorf("RevocationsAfter = %+v, want the entries RevokeSessions returned %+v", listed, revoked)
		}
	})

	t.Run("RevokeListedSessionsOnly", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		_, keepHash := createSession(t, store, alice.ID)
		target, targetHash := createSession(t, store, alice.ID)
		_, alsoKeepHash := createSession(t, store, alice.ID)

		revoked, err := store.RevokeSessions(t.Context(), alice.ID, []string{target.ID}, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		checkSessionRevocations(t, revoked, alice.ID, []string{target.ID}, revokedAt, until)
		checkRevokedAt(t, store, targetHash, &revokedAt)
		checkRevokedAt(t, store, keepHash, nil)
		checkRevokedAt(t, store, alsoKeepHash, nil)
	})

	// Session ids are only as secret as the tokens that carry them: naming
	// another user's session must not revoke it.
	t.Run("RevokeIgnoresSessionsOfOtherUsers", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		bobSession, bobHash := createSession(t, store, bob.ID)

		revoked, err := store.RevokeSessions(t.Context(), alice.ID, []string{bobSession.ID}, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		if len(revoked) != 0 {
			t.Errorf("RevokeSessions(alice, [bob's session]) = %+v, want nothing", revoked)
		}
		checkRevokedAt(t, store, bobHash, nil)
		checkMaxRevocationID(t, store, 0)
	})

	t.Run("RevokingAgainReturnsNothing", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		sess, hash := createSession(t, store, alice.ID)
		first, err := store.RevokeSessions(ctx, alice.ID, nil, revokedAt, until)
		if err != nil || len(first) != 1 {
			t.Fatalf("first RevokeSessions = %+v, %v; want one entry", first, err)
		}
		later := revokedAt.Add(time.Minute)
		for _, ids := range [][]string{nil, {sess.ID}} {
			again, err := store.RevokeSessions(ctx, alice.ID, ids, later, later.Add(time.Hour))
			if err != nil {
				t.Fatalf("RevokeSessions(%v) again: %v", ids, err)
			}
			if len(again) != 0 {
				t.Errorf("RevokeSessions(%v) again = %+v, want nothing", ids, again)
			}
		}
		checkRevokedAt(t, store, hash, &revokedAt)
		checkMaxRevocationID(t, store, first[0].ID)
	})

	t.Run("EmptyIDListRevokesNothing", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		_, hash := createSession(t, store, alice.ID)
		revoked, err := store.RevokeSessions(t.Context(), alice.ID, []string{}, revokedAt, until)
		if err != nil {
			t.Fatalf("RevokeSessions: %v", err)
		}
		if len(revoked) != 0 {
			t.Errorf("RevokeSessions with empty ids = %+v, want nothing", revoked)
		}
		checkRevokedAt(t, store, hash, nil)
		checkMaxRevocationID(t, store, 0)
	})

	t.Run("MaxRevocationIDIsZeroWhenEmpty", func(t *testing.T) {
		checkMaxRevocationID(t, newStore(t), 0)
	})

	t.Run("AppendRevocationAssignsIncreasingIDs", func(t *testing.T) {
		store := newStore(t)
		var last int64
		for i := range 3 {
			r := newRevocation(until)
			if err := store.AppendRevocation(t.Context(), r); err != nil {
				t.Fatalf("AppendRevocation %d: %v", i, err)
			}
			if r.ID <= last {
				t.Fatalf("AppendRevocation %d: ID = %d, want > %d", i, r.ID, last)
			}
			last = r.ID
			checkMaxRevocationID(t, store, last)
		}
	})

	t.Run("RevocationsAfterPagesInIDOrder", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		var appended []auth.Revocation
		for range 5 {
			r := newRevocation(until)
			if err := store.AppendRevocation(ctx, r); err != nil {
				t.Fatalf("AppendRevocation: %v", err)
			}
			appended = append(appended, *r)
		}
		for _, tc := range []struct {
			afterID int64
			limit   int
			want    []auth.Revocation
		}{
			{0, 2, appended[0:2]},
			{appended[1].ID, 2, appended[2:4]},
			{appended[3].ID, 2, appended[4:]},
			{appended[4].ID, 2, nil},
			{0, 100, appended},
		} {
			got, err := store.RevocationsAfter(ctx, tc.afterID, revokedAt, tc.limit)
			if err != nil {
				t.Fatalf("RevocationsAfter(%d, limit %d): %v", tc.afterID, tc.limit, err)
			}
			if !slices.EqualFunc(got, tc.want, sameRevocation) {
				t.Errorf("RevocationsAfter(%d, limit %d) = %+v, want %+v", tc.afterID, tc.limit, got, tc.want)
			}
		}
	})

	t.Run("RevocationsAfterOmitsEntriesNoLongerInForce", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		now := epoch
		var inForce []auth.Revocation
		for _, tc := range []struct {
			expiresAt time.Time
			inForce   bool
		}{
			{now.Add(-time.Hour), false},
			{now.Add(-time.Microsecond), false},
			{now, false},
			{now.Add(time.Microsecond), true},
			// Whole seconds around a fractional now: a text comparison of
			// times must still order them as instants.
			{now.Truncate(time.Second), false},
			{now.Truncate(time.Second).Add(time.Second), true},
			{now.Add(time.Hour), true},
		} {
			r := newRevocation(tc.expiresAt)
			if err := store.AppendRevocation(ctx, r); err != nil {
				t.Fatalf("AppendRevocation: %v", err)
			}
			if tc.inForce {
				inForce = append(inForce, *r)
			}
		}
		got, err := store.RevocationsAfter(ctx, 0, now, 100)
		if err != nil {
			t.Fatalf("RevocationsAfter: %v", err)
		}
		if !slices.EqualFunc(got, inForce, sameRevocation) {
			t.Errorf("RevocationsAfter(now) = %+v, want only entries expiring after now %+v", got, inForce)
		}
	})
}

func runEvents(t *testing.T, newStore func(t *testing.T) auth.Store) {
	alice, bob := uuid.NewString(), uuid.NewString()
	session := uuid.NewString()

	t.Run("RecordEventAssignsIncreasingIDsAndEveryFieldRoundTrips", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		recorded := []*auth.Event{
			{Kind: auth.EventRegister, UserID: &alice, Username: "alice", IP: "203.0.113.7", UserAgent: "Mozilla/5.0", CreatedAt: epoch},
			// A failed login for a name nobody has: no user, no session.
			{Kind: auth.EventLoginFailed, Username: "nobody", IP: "2001:db8::1", UserAgent: "curl/8.5.0", CreatedAt: epoch.Add(time.Microsecond)},
			{Kind: auth.EventLoginSucceeded, UserID: &alice, Username: "alice", SessionID: &session, IP: "203.0.113.7", CreatedAt: epoch.Add(time.Second)},
			// Events are ordered by id, not by time: a clock that went
			// backwards changes nothing.
			{Kind: auth.EventRoleGranted, UserID: &bob, Username: "bob", Detail: "admin", CreatedAt: epoch.Truncate(time.Second)},
			// The longest client text the service stores (it clips to
			// these byte lengths), in multi-byte UTF-8.
			{
				Kind: auth.EventUserSessionsRevoked, UserID: &alice, SessionID: &session,
				Username:  strings.Repeat("é", 32),
				IP:        strings.Repeat("f", 64),
				UserAgent: strings.Repeat("🔑", 128),
				Detail:    "session revoked",
				CreatedAt: epoch.Add(90 * 24 * time.Hour),
			},
		}
		var last int64
		for i, e := range recorded {
			if err := store.RecordEvent(ctx, e); err != nil {
				t.Fatalf("RecordEvent %d (%s): %v", i, e.Kind, err)
			}
			if e.ID <= last {
				t.Fatalf("RecordEvent %d: ID = %d, want > %d", i, e.ID, last)
			}
			last = e.ID
		}

		got, err := store.Events(ctx, auth.EventFilter{Limit: 100})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		want := filterEvents(recorded, auth.EventFilter{Limit: len(recorded)})
		if !slices.Equal(eventIDs(got), eventIDs(want)) {
			t.Fatalf("Events = ids %v, want %v (newest first)", eventIDs(got), eventIDs(want))
		}
		for i := range got {
			checkEvent(t, fmt.Sprintf("event %d", got[i].ID), got[i], want[i])
		}
	})

	t.Run("EventsFiltersNewestFirst", func(t *testing.T) {
		store := newStore(t)
		recorded := recordEvents(t, store, alice, bob)
		last := recorded[len(recorded)-1].ID
		for _, tc := range []struct {
			name   string
			filter auth.EventFilter
		}{
			{"all", auth.EventFilter{Limit: 100}},
			{"user", auth.EventFilter{UserID: alice, Limit: 100}},
			{"other-user", auth.EventFilter{UserID: bob, Limit: 100}},
			{"unknown-user", auth.EventFilter{UserID: uuid.NewString(), Limit: 100}},
			{"kind", auth.EventFilter{Kind: string(auth.EventLoginFailed), Limit: 100}},
			{"unknown-kind", auth.EventFilter{Kind: "no_such_kind", Limit: 100}},
			{"user-and-kind", auth.EventFilter{UserID: alice, Kind: string(auth.EventLoginFailed), Limit: 100}},
			{"other-user-and-kind", auth.EventFilter{UserID: bob, Kind: string(auth.EventRegister), Limit: 100}},
			{"before", auth.EventFilter{BeforeID: recorded[4].ID, Limit: 100}},
			{"before-the-first", auth.EventFilter{BeforeID: recorded[0].ID, Limit: 100}},
			{"before-beyond-the-newest", auth.EventFilter{BeforeID: last + 1000, Limit: 100}},
			{"user-before", auth.EventFilter{UserID: alice, BeforeID: recorded[6].ID, Limit: 100}},
			{"kind-before", auth.EventFilter{Kind: string(auth.EventLoginFailed), BeforeID: recorded[5].ID, Limit: 100}},
			{"limit-1", auth.EventFilter{Limit: 1}},
			{"limit-3", auth.EventFilter{Limit: 3}},
			{"user-limit", auth.EventFilter{UserID: alice, Limit: 2}},
			{"user-kind-before-limit", auth.EventFilter{UserID: alice, Kind: string(auth.EventLoginFailed), BeforeID: last + 1, Limit: 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := store.Events(t.Context(), tc.filter)
				if err != nil {
					t.Fatalf("Events(%+v): %v", tc.filter, err)
				}
				want := filterEvents(recorded, tc.filter)
				if !slices.Equal(eventIDs(got), eventIDs(want)) {
					t.Errorf("Events(%+v) = ids %v, want %v", tc.filter, eventIDs(got), eventIDs(want))
				}
			})
		}
	})

	t.Run("EventsPagesByBeforeIDWithoutGapsOrRepeats", func(t *testing.T) {
		store := newStore(t)
		recorded := recordEvents(t, store, alice, bob)
		// Odd and even counts: the walk ends on a short page or on an
		// empty one.
		for _, tc := range []struct {
			name   string
			filter auth.EventFilter
		}{
			{"all", auth.EventFilter{}},
			{"user", auth.EventFilter{UserID: alice}},
			{"other-user", auth.EventFilter{UserID: bob}},
			{"kind", auth.EventFilter{Kind: string(auth.EventLoginFailed)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				const pageSize = 2
				f := tc.filter
				f.Limit = pageSize
				var walked []int64
				for pages := 0; ; pages++ {
					if pages > len(recorded) {
						t.Fatalf("paging with %+v does not end: %v so far", tc.filter, walked)
					}
					page, err := store.Events(t.Context(), f)
					if err != nil {
						t.Fatalf("Events(%+v): %v", f, err)
					}
					if len(page) > pageSize {
						t.Fatalf("Events(%+v) returned %d events, more than the limit", f, len(page))
					}
					walked = append(walked, eventIDs(page)...)
					if len(page) < pageSize {
						break
					}
					f.BeforeID = page[len(page)-1].ID
				}
				all := tc.filter
				all.Limit = len(recorded)
				if want := eventIDs(filterEvents(recorded, all)); !slices.Equal(walked, want) {
					t.Errorf("pages of %+v walked ids %v, want each of %v once, newest first", tc.filter, walked, want)
				}
			})
		}
	})
}

// recordEvents records a mix of events of two users and of nobody, oldest
// first, and returns them with their ids: 9 in all, 4 of alice, 3 of bob,
// 4 failed logins.
func recordEvents(t *testing.T, store auth.Store, alice, bob string) []*auth.Event {
	t.Helper()
	var recorded []*auth.Event
	for i, tc := range []struct {
		kind     auth.EventKind
		userID   *string
		username string
	}{
		{auth.EventRegister, &alice, "alice"},
		{auth.EventRegister, &bob, "bob"},
		{auth.EventLoginSucceeded, &alice, "alice"},
		{auth.EventLoginFailed, nil, "mallory"},
		{auth.EventRefresh, &alice, "alice"},
		{auth.EventLoginFailed, &bob, "bob"},
		{auth.EventLoginFailed, &alice, "alice"},
		{auth.EventRefresh, &bob, "bob"},
		{auth.EventLoginFailed, nil, "mallory"},
	} {
		e := &auth.Event{Kind: tc.kind, UserID: tc.userID, Username: tc.username, CreatedAt: epoch.Add(time.Duration(i) * time.Minute)}
		if err := store.RecordEvent(t.Context(), e); err != nil {
			t.Fatalf("RecordEvent %d (%s): %v", i, e.Kind, err)
		}
		recorded = append(recorded, e)
	}
	return recorded
}

// filterEvents is what Events(f) must return from the recorded events.
func filterEvents(recorded []*auth.Event, f auth.EventFilter) []*auth.Event {
	var out []*auth.Event
	for _, e := range slices.Backward(recorded) {
		if len(out) == f.Limit {
			break
		}
		if f.UserID != "" && (e.UserID == nil || *e.UserID != f.UserID) ||
			f.Kind != "" && string(e.Kind) != f.Kind ||
			f.BeforeID > 0 && e.ID >= f.BeforeID {
			continue
		}
		out = append(out, e)
	}
	return out
}

func eventIDs(events []*auth.Event) []int64 {
	ids := []int64{}
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

func checkEvent(t *testing.T, what string, got, want *auth.Event) {
	t.Helper()
	if got.ID != want.ID || got.Kind != want.Kind || got.Username != want.Username ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || got.Detail != want.Detail {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	if optional(got.UserID) != optional(want.UserID) {
		t.Errorf("%s: UserID = %s, want %s", what, optional(got.UserID), optional(want.UserID))
	}
	if optional(got.SessionID) != optional(want.SessionID) {
		t.Errorf("%s: SessionID = %s, want %s", what, optional(got.SessionID), optional(want.SessionID))
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
}

func runPurge(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("PurgeDeletesExactlyTheRowsPastTheirCutOffs", func(t *testing.T) {
		store := newStore(t)
		fixture := seedPurge(t, store, 0)
		deleted, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if deleted != fixture.deleted {
			t.Errorf("Purge = %d rows, want %d", deleted, fixture.deleted)
		}
		fixture.check(t, store)

		again, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil || again != 0 {
			t.Errorf("second Purge = %d, %v; want nothing left to delete", again, err)
		}
		fixture.check(t, store)
	})

	t.Run("PurgeWithoutEventCutOffKeepsEveryEvent", func(t *testing.T) {
		store := newStore(t)
		fixture := seedPurge(t, store, 0)
		fixture.keepEvents()
		deleted, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if deleted != fixture.deleted {
			t.Errorf("Purge = %d rows, want %d", deleted, fixture.deleted)
		}
		fixture.check(t, store)
	})

	// The store deletes in batches (store.purgeBatch is 1000); one call
	// must still go through them all.
	t.Run("PurgeDeletesMoreThanOneBatchInOneCall", func(t *testing.T) {
		store := newStore(t)
		fixture := seedPurge(t, store, manyExpiredRevocations)
		deleted, err := store.Purge(t.Context(), fixture.cutoffs)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if deleted != fixture.deleted {
			t.Errorf("Purge = %d rows, want %d", deleted, fixture.deleted)
		}
		fixture.check(t, store)
	})
}

// manyExpiredRevocations is more than two batches of the store's purge
// (store.purgeBatch, 1000), one row past a batch boundary.
const manyExpiredRevocations = 2001

// purgeFixture is a database holding rows on both sides of every cut-off,
// and what a purge must leave of it.
type purgeFixture struct {
	cutoffs auth.Purge
	// keptRevocations in ID order.
	keptRevocations []auth.Revocation
	keptTokens      []keptToken
	// goneTokens are hashes whose rows must be gone: the session's, or
	// only the token's.
	goneTokens map[string][]byte
	// allEvents and keptEvents oldest first.
	allEvents, keptEvents []*auth.Event
	// deleted is what Purge must report: every row a cut-off selects, each
	// once. Refresh tokens that go only because their session goes
	// (ON DELETE CASCADE) are not counted.
	deleted, eventsDeleted int64
}

// keptToken is a refresh token that must still resolve after the purge.
type keptToken struct {
	what       string
	hash       []byte
	session    *auth.Session
	generation int64
}

// seedPurge fills store with the rows of a janitor's run at epoch, plus
// extraExpired revocations that expired long ago.
func seedPurge(t *testing.T, store auth.Store, extraExpired int) *purgeFixture {
	t.Helper()
	ctx := t.Context()
	now := epoch
	const refreshTTL = 30 * 24 * time.Hour
	f := &purgeFixture{
		cutoffs: auth.Purge{
			RevocationsExpiredBefore:   now,
			SessionsExpiredBefore:      now,
			SessionsRevokedBefore:      now.Add(-24 * time.Hour),
			RefreshTokensCreatedBefore: now.Add(-refreshTTL),
			EventsCreatedBefore:        now.Add(-90 * 24 * time.Hour),
		},
		goneTokens: map[string][]byte{},
	}
	addRevocations := func(rs ...auth.Revocation) {
		for _, r := range rs {
			if r.ExpiresAt.Before(f.cutoffs.RevocationsExpiredBefore) {
				f.deleted++
			} else {
				f.keptRevocations = append(f.keptRevocations, r)
			}
		}
	}

	wholeSecond := now.Truncate(time.Second)
	kinds := []auth.RevocationKind{auth.RevokedAccessToken, auth.RevokedSession, auth.UserChanged}
	for i, expiresAt := range []time.Time{
		now.Add(-time.Hour),
		now.Add(-time.Microsecond),
		wholeSecond,
		now,
		now.Add(time.Microsecond),
		wholeSecond.Add(time.Second),
		now.Add(time.Hour),
	} {
		r := newRevocation(expiresAt)
		r.Kind = kinds[i%len(kinds)]
		if err := store.AppendRevocation(ctx, r); err != nil {
			t.Fatalf("AppendRevocation: %v", err)
		}
		addRevocations(*r)
	}
	if extraExpired > 0 {
		// One transaction: thousands of commits would make the suite slow.
		err := store.Tx(ctx, func(tx auth.Store) error {
			for i := range extraExpired {
				if err := tx.AppendRevocation(ctx, newRevocation(now.Add(-time.Duration(i+1)*time.Second))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("AppendRevocation of %d expired entries: %v", extraExpired, err)
		}
		f.deleted += int64(extraExpired)
	}

	alice := createUser(t, store, "alice", nil, nil)
	bob := createUser(t, store, "bob", nil, nil)
	keep := func(what string, hash []byte, sess *auth.Session, generation int64) {
		f.keptTokens = append(f.keptTokens, keptToken{what, hash, sess, generation})
	}
	revoke := func(sess *auth.Session, at, until time.Time) *auth.Session {
		t.Helper()
		entries, err := store.RevokeSessions(ctx, sess.UserID, []string{sess.ID}, at, until)
		if err != nil || len(entries) != 1 {
			t.Fatalf("RevokeSessions(%s) = %+v, %v; want one entry", sess.UserAgent, entries, err)
		}
		addRevocations(entries...)
		revoked := *sess
		revoked.RevokedAt = &at
		return &revoked
	}

	// Expired long ago; its only token is past the token cut-off too and
	// is counted with the tokens.
	expired := sessionUsed(alice.ID, "expired long ago", now.Add(-40*24*time.Hour), now.Add(-10*24*time.Hour))
	f.goneTokens[expired.UserAgent] = storeSession(t, store, expired)
	f.deleted += 2

	// Its token is recent, so it goes only with its session, uncounted.
	expiredJustNow := sessionUsed(alice.ID, "expired a microsecond ago", now.Add(-2*time.Hour), now.Add(-time.Microsecond))
	f.goneTokens[expiredJustNow.UserAgent] = storeSession(t, store, expiredJustNow)
	f.deleted++

	expiresAtCutOff := sessionUsed(alice.ID, "expires at the cut-off", now.Add(-2*time.Hour), now)
	keep(expiresAtCutOff.UserAgent, storeSession(t, store, expiresAtCutOff), expiresAtCutOff, 0)

	// A live session rotated over more than the refresh lifetime: its
	// tokens older than the cut-off go, the session and newer ones stay.
	rotated := sessionUsed(alice.ID, "rotated", now.Add(-40*24*time.Hour), now.Add(-10*24*time.Hour))
	hashes := [][]byte{storeSession(t, store, rotated)}
	for _, at := range []time.Time{
		f.cutoffs.RefreshTokensCreatedBefore.Add(-time.Microsecond),
		f.cutoffs.RefreshTokensCreatedBefore,
		now.Add(-time.Hour),
	} {
		var hash []byte
		rotated, hash = advanceSession(t, store, rotated, at)
		hashes = append(hashes, hash)
	}
	f.goneTokens["rotated, generation 0"] = hashes[0]
	f.goneTokens["rotated, generation 1"] = hashes[1]
	f.deleted += 2
	keep("rotated, generation 2 at the cut-off", hashes[2], rotated, 2)
	keep("rotated, generation 3", hashes[3], rotated, 3)

	revokedLongAgo := sessionUsed(alice.ID, "revoked over a day ago", now.Add(-48*time.Hour), now.Add(28*24*time.Hour))
	f.goneTokens[revokedLongAgo.UserAgent] = storeSession(t, store, revokedLongAgo)
	revoke(revokedLongAgo, f.cutoffs.SessionsRevokedBefore.Add(-time.Microsecond), now.Add(-time.Hour))
	f.deleted++

	revokedAtCutOff := sessionUsed(alice.ID, "revoked a day ago", now.Add(-48*time.Hour), now.Add(28*24*time.Hour))
	hash := storeSession(t, store, revokedAtCutOff)
	keep(revokedAtCutOff.UserAgent, hash, revoke(revokedAtCutOff, f.cutoffs.SessionsRevokedBefore, now.Add(time.Hour)), 0)

	revokedRecently := sessionUsed(alice.ID, "revoked an hour ago", now.Add(-2*time.Hour), now.Add(29*24*time.Hour))
	hash = storeSession(t, store, revokedRecently)
	keep(revokedRecently.UserAgent, hash, revoke(revokedRecently, now.Add(-time.Hour), now.Add(15*time.Minute)), 0)

	// Revoked recently but expired: either reason is enough.
	revokedAndExpired := sessionUsed(alice.ID, "revoked an hour ago and expired", now.Add(-3*time.Hour), now.Add(-30*time.Minute))
	f.goneTokens[revokedAndExpired.UserAgent] = storeSession(t, store, revokedAndExpired)
	revoke(revokedAndExpired, now.Add(-time.Hour), now.Add(-45*time.Minute))
	f.deleted++

	bobs := sessionUsed(bob.ID, "bob's live session", now.Add(-time.Minute), now.Add(30*24*time.Hour))
	keep(bobs.UserAgent, storeSession(t, store, bobs), bobs, 0)

	for i, createdAt := range []time.Time{
		now.Add(-365 * 24 * time.Hour),
		f.cutoffs.EventsCreatedBefore.Add(-time.Microsecond),
		f.cutoffs.EventsCreatedBefore,
		now.Add(-time.Hour),
		// A clock that went backwards: the cut-off is by time, not by id.
		now.Add(-100 * 24 * time.Hour),
	} {
		e := &auth.Event{Kind: auth.EventRefresh, UserID: &alice.ID, Username: alice.Username, Detail: fmt.Sprint(i), CreatedAt: createdAt}
		if err := store.RecordEvent(ctx, e); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
		f.allEvents = append(f.allEvents, e)
		if createdAt.Before(f.cutoffs.EventsCreatedBefore) {
			f.eventsDeleted++
		} else {
			f.keptEvents = append(f.keptEvents, e)
		}
	}
	f.deleted += f.eventsDeleted
	return f
}

// keepEvents drops the event cut-off: a zero time keeps every event.
func (f *purgeFixture) keepEvents() {
	f.cutoffs.EventsCreatedBefore = time.Time{}
	f.keptEvents = f.allEvents
	f.deleted -= f.eventsDeleted
	f.eventsDeleted = 0
}

// check looks through the interface for exactly the kept rows.
func (f *purgeFixture) check(t *testing.T, store auth.Store) {
	t.Helper()
	ctx := t.Context()
	// Long before any entry's expiry: lists every row still stored.
	longAgo := epoch.AddDate(-100, 0, 0)
	revocations, err := store.RevocationsAfter(ctx, 0, longAgo, 100_000)
	if err != nil {
		t.Fatalf("RevocationsAfter: %v", err)
	}
	if !slices.EqualFunc(revocations, f.keptRevocations, sameRevocation) {
		t.Errorf("revocations after purge: %d entries %s; want the %d still in force at the cut-off %s",
			len(revocations), describeRevocations(revocations), len(f.keptRevocations), describeRevocations(f.keptRevocations))
	}

	for what, hash := range f.goneTokens {
		if sess, _, err := store.SessionByRefreshHash(ctx, hash); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("token of %s after purge: SessionByRefreshHash = (%+v, %v), want ErrNotFound", what, sess, err)
		}
	}
	for _, kept := range f.keptTokens {
		sess, generation, err := store.SessionByRefreshHash(ctx, kept.hash)
		if err != nil {
			t.Errorf("token of %s after purge: SessionByRefreshHash = %v, want it kept", kept.what, err)
			continue
		}
		checkSession(t, "session of "+kept.what, sess, kept.session)
		if generation != kept.generation {
			t.Errorf("token of %s resolves to generation %d, want %d", kept.what, generation, kept.generation)
		}
	}

	events, err := store.Events(ctx, auth.EventFilter{Limit: 100})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	want := filterEvents(f.keptEvents, auth.EventFilter{Limit: len(f.keptEvents)})
	if !slices.Equal(eventIDs(events), eventIDs(want)) {
		t.Errorf("events after purge = ids %v, want %v", eventIDs(events), eventIDs(want))
	}
}

// describeRevocations names entries by id and expiry, the first few only:
// thousands may survive a broken purge.
func describeRevocations(rs []auth.Revocation) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(rs)-i)
			break
		}
		fmt.Fprintf(&b, "[%d %s expires %s] ", r.ID, r.Kind, r.ExpiresAt.Format(time.RFC3339Nano))
	}
	return b.String()
}

func runConcurrency(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("OneOfConcurrentRegistrationsOfAUsernameWins", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		const racers = 30
		users := make([]*auth.User, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			users[i] = &auth.User{ID: uuid.NewString(), Username: caseVariant("racername", i), CreatedAt: epoch}
			wg.Go(func() {
				<-start
				errs[i] = store.CreateUser(ctx, users[i], "h")
			})
		}
		close(start)
		wg.Wait()

		var winner *auth.User
		for i, err := range errs {
			switch {
			case err == nil && winner == nil:
				winner = users[i]
			case err == nil:
				t.Errorf("both %q and %q were registered", winner.Username, users[i].Username)
			case !errors.Is(err, auth.ErrUsernameTaken):
				t.Errorf("CreateUser(%q) = %v (kind %v), want ErrUsernameTaken", users[i].Username, err, auth.KindOf(err))
			}
		}
		if winner == nil {
			t.Fatal("no registration succeeded")
		}
		got, _, err := store.UserByUsername(ctx, "racername")
		if err != nil {
			t.Fatalf("UserByUsername: %v", err)
		}
		checkUser(t, "stored user", got, winner)
	})

	// Ten clients present the same refresh token at once: exactly one
	// rotation may succeed, or one token would fork into several sessions.
	t.Run("OneOfConcurrentRotationsOfASessionWins", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "rotator", nil, nil)
		_, presented := createSession(t, store, user.ID)

		const racers = 10
		hashes := make([][]byte, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			hashes[i] = refreshHash(t)
			wg.Go(func() {
				<-start
				errs[i] = store.Tx(ctx, func(tx auth.Store) error {
					sess, generation, err := tx.SessionByRefreshHash(ctx, presented)
					if err != nil {
						return err
					}
					sess.Generation = generation + 1
					sess.RotatedAt = epoch.Add(time.Duration(i+1) * time.Second)
					sess.UserAgent = fmt.Sprintf("racer %d", i)
					return tx.AdvanceSession(ctx, sess, hashes[i])
				})
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("racers %d and %d both rotated the session", winner, i)
			case !errors.Is(err, auth.ErrInvalidRefresh):
				t.Errorf("racer %d: %v (kind %v), want ErrInvalidRefresh", i, err, auth.KindOf(err))
			}
		}
		if winner < 0 {
			t.Fatal("no rotation succeeded")
		}
		for i, hash := range hashes {
			sess, generation, err := store.SessionByRefreshHash(ctx, hash)
			switch {
			case i == winner && err != nil:
				t.Errorf("winner's token: SessionByRefreshHash = %v", err)
			case i == winner && (generation != 1 || sess.Generation != 1 || sess.UserAgent != fmt.Sprintf("racer %d", i)):
				t.Errorf("winner's token resolves to generation %d of %+v, want generation 1 written by racer %d", generation, sess, i)
			case i != winner && !errors.Is(err, auth.ErrNotFound):
				t.Errorf("loser %d's token: SessionByRefreshHash = %v, want ErrNotFound", i, err)
			}
		}
	})

	// Every instance runs the janitor; runs that overlap must neither fail
	// nor leave dead rows behind nor touch live ones.
	t.Run("ConcurrentPurgesDeleteEveryDeadRowAndNothingElse", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		fixture := seedPurge(t, store, manyExpiredRevocations)

		const purgers = 4
		deleted := make([]int64, purgers)
		errs := make([]error, purgers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range purgers {
			wg.Go(func() {
				<-start
				deleted[i], errs[i] = store.Purge(ctx, fixture.cutoffs)
			})
		}
		close(start)
		wg.Wait()

		var total int64
		for i, err := range errs {
			if err != nil {
				t.Errorf("purger %d: %v (kind %v)", i, err, auth.KindOf(err))
			}
			total += deleted[i]
		}
		// Each row is deleted by one purger; none may count it twice.
		if total > fixture.deleted {
			t.Errorf("purgers reported %v rows in all, more than the %d there were", deleted, fixture.deleted)
		}
		fixture.check(t, store)
		if again, err := store.Purge(ctx, fixture.cutoffs); err != nil || again != 0 {
			t.Errorf("Purge after the concurrent ones = %d, %v; want nothing left to delete", again, err)
		}
	})
}

// caseVariant spells name with the letters picked by the bits of n in upper
// case, so concurrent racers differ as typed but share one username key.
func caseVariant(name string, n int) string {
	b := []byte(name)
	for i := range b {
		if n&(1<<i) != 0 {
			b[i] = strings.ToUpper(string(b[i]))[0]
		}
	}
	return string(b)
}

func createUser(t *testing.T, store auth.Store, username string, email *string, roles []string) *auth.User {
	t.Helper()
	u := &auth.User{ID: uuid.NewString(), Username: username, Email: email, Roles: roles, CreatedAt: epoch}
	if err := store.CreateUser(t.Context(), u, "hash-of-"+username); err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

func newSession(userID string) *auth.Session {
	return &auth.Session{
		ID:         uuid.NewString(),
		UserID:     userID,
		CreatedAt:  epoch,
		LastUsedAt: epoch,
		RotatedAt:  epoch,
		ExpiresAt:  epoch.Add(30 * 24 * time.Hour),
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
		IP:         "203.0.113.7",
	}
}

func createSession(t *testing.T, store auth.Store, userID string) (*auth.Session, []byte) {
	t.Helper()
	sess := newSession(userID)
	return sess, storeSession(t, store, sess)
}

// storeSession creates sess and returns the hash of its first refresh
// token.
func storeSession(t *testing.T, store auth.Store, sess *auth.Session) []byte {
	t.Helper()
	hash := refreshHash(t)
	if err := store.CreateSession(t.Context(), sess, hash); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.UserAgent, err)
	}
	return hash
}

// sessionUsed is a session of userID last used (and rotated) at usedAt,
// named name in its user agent so failures say which one misbehaved.
func sessionUsed(userID, name string, usedAt, expiresAt time.Time) *auth.Session {
	sess := newSession(userID)
	sess.CreatedAt = usedAt.Add(-time.Hour)
	sess.LastUsedAt = usedAt
	sess.RotatedAt = usedAt
	sess.ExpiresAt = expiresAt
	sess.UserAgent = name
	return sess
}

// advanceSession rotates sess at at, as a refresh would, and returns the
// session as stored and the new token's hash.
func advanceSession(t *testing.T, store auth.Store, sess *auth.Session, at time.Time) (*auth.Session, []byte) {
	t.Helper()
	next := *sess
	next.Generation++
	next.LastUsedAt = at
	next.RotatedAt = at
	next.ExpiresAt = at.Add(30 * 24 * time.Hour)
	hash := refreshHash(t)
	if err := store.AdvanceSession(t.Context(), &next, hash); err != nil {
		t.Fatalf("AdvanceSession(%s) to generation %d: %v", sess.UserAgent, next.Generation, err)
	}
	return &next, hash
}

// refreshHash is what the service stores for a refresh token: 32 bytes of
// SHA-256.
func refreshHash(t *testing.T) []byte {
	t.Helper()
	var token [32]byte
	if _, err := rand.Read(token[:]); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(token[:])
	return sum[:]
}

func newRevocation(expiresAt time.Time) *auth.Revocation {
	return &auth.Revocation{
		Kind:      auth.RevokedAccessToken,
		Subject:   uuid.NewString(),
		UserID:    uuid.NewString(),
		RevokedAt: epoch,
		ExpiresAt: expiresAt,
	}
}

func ptr(s string) *string { return &s }

func checkUser(t *testing.T, what string, got, want *auth.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username {
		t.Errorf("%s: ID, Username = %q, %q; want %q, %q", what, got.ID, got.Username, want.ID, want.Username)
	}
	if (got.Email == nil) != (want.Email == nil) || got.Email != nil && *got.Email != *want.Email {
		t.Errorf("%s: Email = %s, want %s", what, optional(got.Email), optional(want.Email))
	}
	wantRoles := want.Roles
	if wantRoles == nil {
		wantRoles = []string{}
	}
	if got.Roles == nil || !slices.Equal(got.Roles, wantRoles) {
		t.Errorf("%s: Roles = %#v, want %#v", what, got.Roles, wantRoles)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
}

func checkSession(t *testing.T, what string, got, want *auth.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Generation != want.Generation ||
		got.UserAgent != want.UserAgent || got.IP != want.IP {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTime(t, what+": RotatedAt", got.RotatedAt, want.RotatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	switch {
	case (got.RevokedAt == nil) != (want.RevokedAt == nil):
		t.Errorf("%s: RevokedAt = %v, want %v", what, got.RevokedAt, want.RevokedAt)
	case got.RevokedAt != nil:
		checkTime(t, what+": RevokedAt", *got.RevokedAt, *want.RevokedAt)
	}
}

// checkTime wants the same instant to the microsecond, read back in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano+" MST"), want.UTC().Format(time.RFC3339Nano+" MST"))
	}
}

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

func checkRevokedAt(t *testing.T, store auth.Store, refreshHash []byte, want *time.Time) {
	t.Helper()
	sess, _, err := store.SessionByRefreshHash(t.Context(), refreshHash)
	if err != nil {
		t.Fatalf("SessionByRefreshHash: %v", err)
	}
	switch {
	case want == nil && sess.RevokedAt != nil:
		t.Errorf("session %s: RevokedAt = %v, want it live", sess.ID, *sess.RevokedAt)
	case want != nil && sess.RevokedAt == nil:
		t.Errorf("session %s: not revoked, want RevokedAt %v", sess.ID, *want)
	case want != nil:
		checkTime(t, "session "+sess.ID+": RevokedAt", *sess.RevokedAt, *want)
	}
}

func checkMaxRevocationID(t *testing.T, store auth.Store, want int64) {
	t.Helper()
	got, err := store.MaxRevocationID(t.Context())
	if err != nil {
		t.Fatalf("MaxRevocationID: %v", err)
	}
	if got != want {
		t.Errorf("MaxRevocationID = %d, want %d", got, want)
	}
}

// checkSessionRevocations wants one RevokedSession entry per session id,
// each with a distinct positive ID, in any order.
func checkSessionRevocations(t *testing.T, got []auth.Revocation, userID string, sessionIDs []string, revokedAt, until time.Time) {
	t.Helper()
	if len(got) != len(sessionIDs) {
		t.Fatalf("RevokeSessions returned %d entries %+v, want %d", len(got), got, len(sessionIDs))
	}
	seenIDs := map[int64]bool{}
	var subjects []string
	for _, r := range got {
		if r.ID <= 0 || seenIDs[r.ID] {
			t.Errorf("entry %+v: ID not positive and distinct", r)
		}
		seenIDs[r.ID] = true
		if r.Kind != auth.RevokedSession || r.UserID != userID {
			t.Errorf("entry %+v: want Kind %q, UserID %q", r, auth.RevokedSession, userID)
		}
		checkTime(t, "entry RevokedAt", r.RevokedAt, revokedAt)
		checkTime(t, "entry ExpiresAt", r.ExpiresAt, until)
		subjects = append(subjects, r.Subject)
	}
	slices.Sort(subjects)
	want := slices.Sorted(slices.Values(sessionIDs))
	if !slices.Equal(subjects, want) {
		t.Errorf("revoked subjects = %v, want session ids %v", subjects, want)
	}
}

func sameRevocation(a, b auth.Revocation) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Subject == b.Subject && a.UserID == b.UserID &&
		a.RevokedAt.Equal(b.RevokedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.RevokedAt.Location() == time.UTC && a.ExpiresAt.Location() == time.UTC
}

func sortedByID(rs []auth.Revocation) []auth.Revocation {
	return slices.SortedFunc(slices.Values(rs), func(a, b auth.Revocation) int { return cmp.Compare(a.ID, b.ID) })
}

func optional(s *string) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *s)
}
