package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// runConcurrency races what the database must decide alone: one of
// concurrent registrations, one of concurrent rotations, overlapping purges.
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

	// Clients change one credential at once from the version they all
	// read: a compare-and-swap, so exactly one change lands.
	t.Run("OneOfConcurrentCredentialChangesFromOneVersionWins", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "changer", nil, nil)

		const racers = 10
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = store.ChangeCredential(ctx, user.ID, 0, fmt.Sprintf("hash-%d", i))
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
				t.Errorf("racers %d and %d both changed the credential", winner, i)
			case !errors.Is(err, auth.ErrCredentialChanged):
				t.Errorf("racer %d: %v (kind %v), want ErrCredentialChanged", i, err, auth.KindOf(err))
			}
		}
		if winner < 0 {
			t.Fatal("no change succeeded")
		}
		checkCredential(t, store, user.ID, auth.Credential{PasswordHash: fmt.Sprintf("hash-%d", winner), Version: 1})
	})

	// Credential inside Tx holds the row until commit: transactions that
	// read the version and then swap from it queue one behind the other,
	// so each reads the version the previous one left and every one lands.
	// Without the lock two of them would read the same version and all but
	// one swap would fail.
	t.Run("CredentialInsideTxLocksTheRowUntilCommit", func(t *testing.T) {
		store := newStore(t)
		ctx := t.Context()
		user := createUser(t, store, "locker", nil, nil)

		const racers = 8
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = store.Tx(ctx, func(tx auth.Store) error {
					current, err := tx.Credential(ctx, user.ID)
					if err != nil {
						return err
					}
					return tx.ChangeCredential(ctx, user.ID, current.Version, fmt.Sprintf("hash-%d", i))
				})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v (kind %v); want every locked read-then-swap to land", i, err, auth.KindOf(err))
			}
		}
		got, err := store.Credential(ctx, user.ID)
		if err != nil || got.Version != racers {
			t.Errorf("Credential after %d locked changes = %+v, %v; want version %d", racers, got, err, racers)
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
