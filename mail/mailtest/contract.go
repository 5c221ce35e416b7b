package mailtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keycard/keycard/mail"
)

// Fixture is an Outbox under test and how to put messages into it.
type Fixture struct {
	Outbox mail.Outbox
	// Enqueue stores m as the domain's transaction would, due at
	// m.CreatedAt, and returns its id.
	Enqueue func(ctx context.Context, m mail.Message) (int64, error)
}

// epoch is a whole second, so that no database's time precision matters.
var epoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// RunOutbox is the Outbox contract: every implementation, on every
// database, must pass it unchanged. newFixture returns a fresh, empty
// outbox for one subtest.
func RunOutbox(t *testing.T, newFixture func(t *testing.T) Fixture) {
	const lease = time.Minute
	enqueue := func(t *testing.T, f Fixture, createdAt time.Time) int64 {
		t.Helper()
		id, err := f.Enqueue(t.Context(), mail.Message{
			To:        "alice@example.com",
			Template:  mail.TemplatePasswordReset,
			Data:      map[string]string{mail.DataLink: "https://app.example.com/reset-password?token=T", mail.DataUsername: "alice"},
			CreatedAt: createdAt,
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	leaseIDs := func(t *testing.T, f Fixture, owner string, now time.Time, limit int) []int64 {
		t.Helper()
		messages, err := f.Outbox.Lease(t.Context(), owner, now, lease, limit)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{}
		for _, m := range messages {
			ids = append(ids, m.ID)
		}
		return ids
	}
	expectLost := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, mail.ErrLeaseLost) {
			t.Fatalf("%s without the lease: %v, want mail.ErrLeaseLost", what, err)
		}
	}
	ok := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("LeaseReturnsTheMessageAsEnqueuedAndCountsTheAttempt", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		messages, err := f.Outbox.Lease(t.Context(), "a", epoch, lease, 10)
		ok(t, err)
		if len(messages) != 1 {
			t.Fatalf("leased %d messages, want 1", len(messages))
		}
		m := messages[0]
		if m.ID != id || m.To != "alice@example.com" || m.Template != mail.TemplatePasswordReset || m.Attempts != 1 || !m.CreatedAt.Equal(epoch) {
			t.Errorf("leased %+v, want id %d, alice@example.com, password_reset, 1 attempt, created %s", m, id, epoch)
		}
		if m.Data[mail.DataLink] != "https://app.example.com/reset-password?token=T" || m.Data[mail.DataUsername] != "alice" || len(m.Data) != 2 {
			t.Errorf("data = %v, want the link and the username", m.Data)
		}
	})

	t.Run("LeaseSkipsMessagesNotYetDue", func(t *testing.T) {
		f := newFixture(t)
		enqueue(t, f, epoch.Add(time.Hour))
		if ids := leaseIDs(t, f, "a", epoch, 10); len(ids) != 0 {
			t.Errorf("leased %v an hour before it is due", ids)
		}
		if ids := leaseIDs(t, f, "a", epoch.Add(time.Hour), 10); len(ids) != 1 {
			t.Errorf("leased %v when due, want it", ids)
		}
	})

	t.Run("LeaseIsExclusiveUntilItExpires", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		leaseIDs(t, f, "a", epoch, 10)
		if ids := leaseIDs(t, f, "b", epoch.Add(lease-time.Second), 10); len(ids) != 0 {
			t.Fatalf("b leased %v while a's lease runs", ids)
		}
		messages, err := f.Outbox.Lease(t.Context(), "b", epoch.Add(lease), lease, 10)
		ok(t, err)
		if len(messages) != 1 || messages[0].ID != id || messages[0].Attempts != 2 {
			t.Fatalf("after a's lease expired b leased %+v, want message %d at attempt 2", messages, id)
		}
	})

	t.Run("LeaseTakesTheOldestDueFirstUpToLimit", func(t *testing.T) {
		f := newFixture(t)
		first := enqueue(t, f, epoch)
		second := enqueue(t, f, epoch.Add(time.Second))
		third := enqueue(t, f, epoch.Add(2*time.Second))
		now := epoch.Add(time.Minute)
		if ids := leaseIDs(t, f, "a", now, 2); fmt.Sprint(ids) != fmt.Sprint([]int64{first, second}) {
			t.Errorf("first lease = %v, want [%d %d]", ids, first, second)
		}
		if ids := leaseIDs(t, f, "a", now, 2); fmt.Sprint(ids) != fmt.Sprint([]int64{third}) {
			t.Errorf("second lease = %v, want [%d]", ids, third)
		}
	})

	t.Run("MarkSentSettlesTheMessage", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		leaseIDs(t, f, "a", epoch, 10)
		ok(t, f.Outbox.MarkSent(t.Context(), id, "a", epoch.Add(time.Second)))
		if ids := leaseIDs(t, f, "b", epoch.Add(24*time.Hour), 10); len(ids) != 0 {
			t.Errorf("a sent message was leased again: %v", ids)
		}
		expectLost(t, "a second MarkSent", f.Outbox.MarkSent(t.Context(), id, "a", epoch.Add(2*time.Second)))
		backlog, err := f.Outbox.Backlog(t.Context())
		ok(t, err)
		if backlog.Pending != 0 || backlog.Dead != 0 {
			t.Errorf("backlog after sending = %+v, want nothing pending or dead", backlog)
		}
	})

	t.Run("SettlingNeedsTheLease", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		expectLost(t, "MarkSent of an unleased message", f.Outbox.MarkSent(t.Context(), id, "a", epoch))
		leaseIDs(t, f, "a", epoch, 10)
		expectLost(t, "MarkSent by another owner", f.Outbox.MarkSent(t.Context(), id, "b", epoch))
		expectLost(t, "Retry by another owner", f.Outbox.Retry(t.Context(), id, "b", epoch.Add(time.Minute), "connect"))
		expectLost(t, "Abandon by another owner", f.Outbox.Abandon(t.Context(), id, "b", epoch, "connect"))
		ok(t, f.Outbox.MarkSent(t.Context(), id, "a", epoch.Add(time.Second)))
	})

	t.Run("AnExpiredLeaseNobodyTookIsStillTheOwners", func(t *testing.T) {
		// The mail went out; refusing the mark would only send it twice.
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		leaseIDs(t, f, "a", epoch, 10)
		ok(t, f.Outbox.MarkSent(t.Context(), id, "a", epoch.Add(2*lease)))
	})

	t.Run("ATakenOverLeaseRefusesTheFormerOwner", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		leaseIDs(t, f, "a", epoch, 10)
		leaseIDs(t, f, "b", epoch.Add(lease), 10)
		expectLost(t, "MarkSent by the former owner", f.Outbox.MarkSent(t.Context(), id, "a", epoch.Add(lease)))
		expectLost(t, "Retry by the former owner", f.Outbox.Retry(t.Context(), id, "a", epoch.Add(2*lease), "timeout"))
		expectLost(t, "Abandon by the former owner", f.Outbox.Abandon(t.Context(), id, "a", epoch.Add(lease), "timeout"))
		ok(t, f.Outbox.MarkSent(t.Context(), id, "b", epoch.Add(lease+time.Second)))
	})

	t.Run("RetryFreesTheLeaseAndMakesItDueAtNext", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		leaseIDs(t, f, "a", epoch, 10)
		next := epoch.Add(5 * time.Minute)
		ok(t, f.Outbox.Retry(t.Context(), id, "a", next, "connect"))
		expectLost(t, "MarkSent after Retry", f.Outbox.MarkSent(t.Context(), id, "a", epoch))
		if ids := leaseIDs(t, f, "b", next.Add(-time.Second), 10); len(ids) != 0 {
			t.Errorf("leased %v before the retry is due", ids)
		}
		messages, err := f.Outbox.Lease(t.Context(), "b", next, lease, 10)
		ok(t, err)
		if len(messages) != 1 || messages[0].ID != id || messages[0].Attempts != 2 {
			t.Fatalf("at the retry's time leased %+v, want message %d at attempt 2", messages, id)
		}
		if messages[0].Data[mail.DataLink] == "" {
			t.Error("a retried message lost its data")
		}
	})

	t.Run("AbandonIsFinal", func(t *testing.T) {
		f := newFixture(t)
		id := enqueue(t, f, epoch)
		leaseIDs(t, f, "a", epoch, 10)
		ok(t, f.Outbox.Abandon(t.Context(), id, "a", epoch.Add(time.Second), "address"))
		if ids := leaseIDs(t, f, "b", epoch.Add(48*time.Hour), 10); len(ids) != 0 {
			t.Errorf("a dead message was leased again: %v", ids)
		}
		expectLost(t, "MarkSent of a dead message", f.Outbox.MarkSent(t.Context(), id, "a", epoch))
		backlog, err := f.Outbox.Backlog(t.Context())
		ok(t, err)
		if backlog.Pending != 0 || backlog.Dead != 1 {
			t.Errorf("backlog = %+v, want 0 pending and 1 dead", backlog)
		}
	})

	t.Run("BacklogCountsPendingAndDatesTheOldest", func(t *testing.T) {
		f := newFixture(t)
		backlog, err := f.Outbox.Backlog(t.Context())
		ok(t, err)
		if backlog.Pending != 0 || !backlog.OldestPending.IsZero() {
			t.Errorf("empty outbox backlog = %+v", backlog)
		}
		sent := enqueue(t, f, epoch)
		enqueue(t, f, epoch.Add(time.Minute))
		enqueue(t, f, epoch.Add(2*time.Minute))
		leaseIDs(t, f, "a", epoch, 1)
		ok(t, f.Outbox.MarkSent(t.Context(), sent, "a", epoch))
		leaseIDs(t, f, "a", epoch.Add(time.Minute), 1) // leased is still pending
		backlog, err = f.Outbox.Backlog(t.Context())
		ok(t, err)
		if backlog.Pending != 2 || !backlog.OldestPending.Equal(epoch.Add(time.Minute)) || backlog.Dead != 0 {
			t.Errorf("backlog = %+v, want 2 pending, the oldest from %s", backlog, epoch.Add(time.Minute))
		}
	})

	t.Run("ConcurrentLeasesNeverShareAMessage", func(t *testing.T) {
		f := newFixture(t)
		const messages, owners = 60, 8
		for i := range messages {
			enqueue(t, f, epoch.Add(time.Duration(i)*time.Millisecond))
		}
		var mu sync.Mutex
		leasedBy := map[int64][]string{}
		var wg sync.WaitGroup
		errs := make(chan error, owners)
		start := make(chan struct{})
		for o := range owners {
			owner := fmt.Sprintf("owner-%d", o)
			wg.Go(func() {
				<-start
				for {
					leased, err := f.Outbox.Lease(context.Background(), owner, epoch.Add(time.Second), lease, 3)
					if err != nil {
						errs <- err
						return
					}
					if len(leased) == 0 {
						return
					}
					mu.Lock()
					for _, m := range leased {
						leasedBy[m.ID] = append(leasedBy[m.ID], owner)
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(leasedBy) != messages {
			t.Errorf("%d messages leased, want all %d", len(leasedBy), messages)
		}
		for id, by := range leasedBy {
			if len(by) != 1 {
				t.Errorf("message %d leased by %v at once", id, by)
			}
		}
	})
}
