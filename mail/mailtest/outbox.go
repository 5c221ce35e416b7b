// Package mailtest holds what tests of mail and of its Outbox
// implementations share: an in-memory Outbox with the leasing semantics
// the store must have (a fixture for the Worker's tests), the Outbox
// contract every implementation must pass (RunOutbox), and a real SMTP
// server in process (github.com/emersion/go-smtp) that records what
// arrives. It imports mail, the standard library and go-smtp; only tests
// import it.
package mailtest

import (
	"context"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/keycard/keycard/mail"
)

// Row is one message of an Outbox with its delivery state.
type Row struct {
	mail.Message
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	SentAt        time.Time
	DeadAt        time.Time
	LastError     string
}

// Outbox is a mail.Outbox in memory, one mutex around every decision, as
// a database's row locks would be.
type Outbox struct {
	mu     sync.Mutex
	rows   []*Row
	nextID int64
}

var _ mail.Outbox = (*Outbox)(nil)

// NewOutbox is an empty Outbox.
func NewOutbox() *Outbox { return &Outbox{} }

// Enqueue adds m, due at once (m.CreatedAt), and returns its id.
func (o *Outbox) Enqueue(_ context.Context, m mail.Message) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextID++
	m.ID, m.Attempts = o.nextID, 0
	m.Data = maps.Clone(m.Data)
	o.rows = append(o.rows, &Row{Message: m, NextAttemptAt: m.CreatedAt})
	return m.ID, nil
}

// Row returns a copy of message id's state (false when there is none).
func (o *Outbox) Row(id int64) (Row, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.rows {
		if r.ID == id {
			c := *r
			c.Data = maps.Clone(r.Data)
			return c, true
		}
	}
	return Row{}, false
}

func (r *Row) pending() bool { return r.SentAt.IsZero() && r.DeadAt.IsZero() }

// Lease implements mail.Outbox.
func (o *Outbox) Lease(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]mail.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*Row
	for _, r := range o.rows {
		if r.pending() && !r.NextAttemptAt.After(now) && (r.LeaseOwner == "" || !r.LeaseUntil.After(now)) {
			due = append(due, r)
		}
	}
	sort.SliceStable(due, func(i, j int) bool {
		if !due[i].NextAttemptAt.Equal(due[j].NextAttemptAt) {
			return due[i].NextAttemptAt.Before(due[j].NextAttemptAt)
		}
		return due[i].ID < due[j].ID
	})
	var out []mail.Message
	for _, r := range due[:min(limit, len(due))] {
		r.LeaseOwner, r.LeaseUntil = owner, now.Add(lease)
		r.Attempts++
		m := r.Message
		m.Data = maps.Clone(r.Data)
		out = append(out, m)
	}
	return out, nil
}

// held is message id while owner holds its lease, else nil.
func (o *Outbox) held(id int64, owner string) *Row {
	for _, r := range o.rows {
		if r.ID == id && r.pending() && r.LeaseOwner == owner {
			return r
		}
	}
	return nil
}

// MarkSent implements mail.Outbox.
func (o *Outbox) MarkSent(ctx context.Context, id int64, owner string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.held(id, owner)
	if r == nil {
		return mail.ErrLeaseLost
	}
	r.SentAt, r.LeaseOwner, r.LeaseUntil, r.Data = at, "", time.Time{}, nil
	return nil
}

// Retry implements mail.Outbox.
func (o *Outbox) Retry(ctx context.Context, id int64, owner string, next time.Time, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.held(id, owner)
	if r == nil {
		return mail.ErrLeaseLost
	}
	r.NextAttemptAt, r.LastError, r.LeaseOwner, r.LeaseUntil = next, reason, "", time.Time{}
	return nil
}

// Abandon implements mail.Outbox.
func (o *Outbox) Abandon(ctx context.Context, id int64, owner string, at time.Time, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.held(id, owner)
	if r == nil {
		return mail.ErrLeaseLost
	}
	r.DeadAt, r.LastError, r.LeaseOwner, r.LeaseUntil, r.Data = at, reason, "", time.Time{}, nil
	return nil
}

// Backlog implements mail.Outbox.
func (o *Outbox) Backlog(ctx context.Context) (mail.Backlog, error) {
	if err := ctx.Err(); err != nil {
		return mail.Backlog{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var b mail.Backlog
	for _, r := range o.rows {
		switch {
		case r.pending():
			b.Pending++
			if b.OldestPending.IsZero() || r.CreatedAt.Before(b.OldestPending) {
				b.OldestPending = r.CreatedAt
			}
		case !r.DeadAt.IsZero():
			b.Dead++
		}
	}
	return b, nil
}
