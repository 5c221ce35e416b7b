package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// runTx checks Tx: all or nothing, domain errors kept, nested calls joining
// the outer transaction.
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
