package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// runPasskeys checks passkeys and their ceremonies' challenges: what is
// stored reads back, a credential id is registered once across users, the
// counter rule holds in the UPDATE itself, and a challenge is taken once.
func runPasskeys(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Run("PasskeysReadBackByUserByUsernameAndByCredentialID", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "Alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		first := storePasskey(t, store, alice.ID, "phone", epoch)
		second := storePasskey(t, store, alice.ID, "laptop", epoch.Add(time.Second))
		storePasskey(t, store, bob.ID, "bob's", epoch)

		got, err := store.Passkeys(ctx, alice.ID)
		if err != nil || len(got) != 2 {
			t.Fatalf("Passkeys = %d, %v; want 2", len(got), err)
		}
		checkPasskey(t, "Passkeys[0]", got[0], first)
		checkPasskey(t, "Passkeys[1]", got[1], second)
		byName, err := store.PasskeysByUsername(ctx, "alice")
		if err != nil || len(byName) != 2 {
			t.Fatalf("PasskeysByUsername = %d, %v; want 2", len(byName), err)
		}
		checkPasskey(t, "PasskeysByUsername[0]", byName[0], first)
		if none, err := store.PasskeysByUsername(ctx, "nobody"); err != nil || len(none) != 0 {
			t.Fatalf("PasskeysByUsername(nobody) = %d, %v", len(none), err)
		}
		byID, err := store.PasskeyByCredentialID(ctx, second.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		checkPasskey(t, "PasskeyByCredentialID", byID, second)
		if _, err := store.PasskeyByCredentialID(ctx, []byte("unknown")); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("unknown credential id: %v", err)
		}
	})

	t.Run("ACredentialIDIsRegisteredOnceAcrossUsers", func(t *testing.T) {
		store := newStore(t)
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		p := storePasskey(t, store, alice.ID, "phone", epoch)
		for _, owner := range []string{alice.ID, bob.ID} {
			again := newPasskey(owner, "copy", epoch)
			again.CredentialID = p.CredentialID
			if err := store.CreatePasskey(t.Context(), again); !errors.Is(err, auth.ErrPasskeyRegistered) {
				t.Fatalf("second registration of a credential id: %v (kind %v), want ErrPasskeyRegistered", err, auth.KindOf(err))
			}
		}
	})

	t.Run("UsePasskeyWritesOnlyAGrowingCounter", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		counting := storePasskey(t, store, alice.ID, "key", epoch)
		at := epoch.Add(time.Minute)
		for _, step := range []struct {
			count uint32
			ok    bool
		}{{0, true}, {0, true}, {5, true}, {5, false}, {4, false}, {0, false}, {6, true}} {
			err := store.UsePasskey(ctx, counting.ID, step.count, []byte("record"), at)
			if step.ok != (err == nil) || err != nil && !errors.Is(err, auth.ErrNotFound) {
				t.Fatalf("UsePasskey(%d) = %v, want ok %v", step.count, err, step.ok)
			}
		}
		got, err := store.PasskeyByCredentialID(ctx, counting.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SignCount != 6 || string(got.Record) != "record" || got.LastUsedAt == nil {
			t.Fatalf("after use: %+v", got)
		}
		checkTime(t, "LastUsedAt", *got.LastUsedAt, at)
		if err := store.UsePasskey(ctx, uuid.NewString(), 9, nil, at); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("UsePasskey of an unknown passkey: %v", err)
		}
	})

	t.Run("DeletePasskeyDeletesOnlyTheUsersOwn", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := createUser(t, store, "alice", nil, nil)
		bob := createUser(t, store, "bob", nil, nil)
		p := storePasskey(t, store, alice.ID, "phone", epoch)
		if _, err := store.DeletePasskey(ctx, bob.ID, p.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("bob deleted alice's passkey: %v", err)
		}
		deleted, err := store.DeletePasskey(ctx, alice.ID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkPasskey(t, "deleted", deleted, p)
		if _, err := store.DeletePasskey(ctx, alice.ID, p.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("deleted twice: %v", err)
		}
		if left, _ := store.Passkeys(ctx, alice.ID); len(left) != 0 {
			t.Fatalf("%d passkeys left", len(left))
		}
	})

	t.Run("AChallengeIsTakenOnceForItsPurposeAndUser", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		alice := uuid.NewString()
		registration := newChallenge(auth.PasskeyRegistration, alice, epoch.Add(5*time.Minute))
		discoverable := newChallenge(auth.PasskeyLogin, "", epoch.Add(-time.Second)) // expired: still taken
		for _, c := range []*auth.PasskeyChallenge{registration, discoverable} {
			if err := store.CreatePasskeyChallenge(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		for name, take := range map[string]func() error{
			"another purpose": func() error {
				_, err := store.TakePasskeyChallenge(ctx, registration.ID, auth.PasskeyLogin, "")
				return err
			},
			"another user": func() error {
				_, err := store.TakePasskeyChallenge(ctx, registration.ID, auth.PasskeyRegistration, uuid.NewString())
				return err
			},
			"unknown": func() error {
				_, err := store.TakePasskeyChallenge(ctx, uuid.NewString(), auth.PasskeyRegistration, "")
				return err
			},
		} {
			if err := take(); !errors.Is(err, auth.ErrNotFound) {
				t.Fatalf("%s: %v, want ErrNotFound", name, err)
			}
		}
		got, err := store.TakePasskeyChallenge(ctx, registration.ID, auth.PasskeyRegistration, alice)
		if err != nil {
			t.Fatal(err)
		}
		checkChallenge(t, "registration", got, registration)
		if _, err := store.TakePasskeyChallenge(ctx, registration.ID, auth.PasskeyRegistration, alice); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("taken twice: %v", err)
		}
		got, err = store.TakePasskeyChallenge(ctx, discoverable.ID, auth.PasskeyLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		checkChallenge(t, "discoverable", got, discoverable)
	})

	t.Run("OneOfConcurrentTakesOfAChallengeWins", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		c := newChallenge(auth.PasskeyLogin, "", epoch.Add(5*time.Minute))
		if err := store.CreatePasskeyChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
		const racers = 20
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				_, errs[i] = store.TakePasskeyChallenge(ctx, c.ID, auth.PasskeyLogin, "")
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, auth.ErrNotFound):
				t.Errorf("take: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d takes of one challenge succeeded, want 1", won)
		}
	})

	t.Run("PurgeDeletesExpiredChallengesOnly", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		expired := newChallenge(auth.PasskeyLogin, "", epoch.Add(-time.Microsecond))
		live := newChallenge(auth.PasskeyLogin, "", epoch)
		for _, c := range []*auth.PasskeyChallenge{expired, live} {
			if err := store.CreatePasskeyChallenge(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := store.Purge(ctx, auth.Purge{PasskeyChallengesExpiredBefore: epoch}); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want 1", n, err)
		}
		if _, err := store.TakePasskeyChallenge(ctx, expired.ID, auth.PasskeyLogin, ""); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("expired challenge survived: %v", err)
		}
		if _, err := store.TakePasskeyChallenge(ctx, live.ID, auth.PasskeyLogin, ""); err != nil {
			t.Fatalf("live challenge purged: %v", err)
		}
	})
}

func newPasskey(userID, name string, at time.Time) *auth.Passkey {
	id := make([]byte, 32)
	rand.Read(id)
	return &auth.Passkey{
		ID:           uuid.NewString(),
		UserID:       userID,
		Name:         name,
		CredentialID: id,
		Record:       []byte(`{"v":1}`),
		CreatedAt:    at,
	}
}

func storePasskey(t *testing.T, store auth.Store, userID, name string, at time.Time) *auth.Passkey {
	t.Helper()
	p := newPasskey(userID, name, at)
	if err := store.CreatePasskey(t.Context(), p); err != nil {
		t.Fatalf("CreatePasskey: %v", err)
	}
	return p
}

func checkPasskey(t *testing.T, what string, got, want *auth.Passkey) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Name != want.Name || got.SignCount != want.SignCount ||
		!bytes.Equal(got.CredentialID, want.CredentialID) || !bytes.Equal(got.Record, want.Record) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	if (got.LastUsedAt == nil) != (want.LastUsedAt == nil) {
		t.Errorf("%s: LastUsedAt = %v, want %v", what, got.LastUsedAt, want.LastUsedAt)
	}
}

func newChallenge(purpose auth.PasskeyPurpose, userID string, expiresAt time.Time) *auth.PasskeyChallenge {
	return &auth.PasskeyChallenge{
		ID:        uuid.NewString(),
		Purpose:   purpose,
		UserID:    userID,
		State:     []byte(`{"challenge":"` + uuid.NewString() + `"}`),
		CreatedAt: epoch.Add(-time.Minute),
		ExpiresAt: expiresAt,
	}
}

func checkChallenge(t *testing.T, what string, got, want *auth.PasskeyChallenge) {
	t.Helper()
	if got.ID != want.ID || got.Purpose != want.Purpose || got.UserID != want.UserID || !bytes.Equal(got.State, want.State) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}
