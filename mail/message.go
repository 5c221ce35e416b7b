package mail

import (
	"context"
	"errors"
	"time"
)

// Message is one queued mail as the domain enqueues it: who gets it, which
// template, and the values the template needs. The outbox row holds it
// until it was sent (then Data is cleared: links carry live tokens) or
// given up on.
type Message struct {
	// ID is the outbox row's id, assigned at enqueue.
	ID int64
	// To is the recipient's address (one address, no display name needed).
	To string
	// Template names the template set (TemplatePasswordReset, ...).
	Template string
	// Data holds the template's values under the Data* keys.
	Data map[string]string
	// Attempts counts the leases taken so far, this one included: a
	// message whose sends crash the process still runs out of attempts.
	Attempts int
	// CreatedAt is when the message was enqueued; it dates the mail and
	// bounds how long retries go on.
	CreatedAt time.Time
}

// The templates keycard sends. Each takes DataUsername when known.
const (
	// TemplatePasswordReset needs DataLink (the reset link, valid 1 h).
	TemplatePasswordReset = "password_reset"
	// TemplateVerifyEmail needs DataLink (the verification link, 24 h).
	TemplateVerifyEmail = "verify_email"
	// TemplateEmailChangeVerify goes to the new address and needs DataLink
	// (24 h); the account keeps its old address until the link is used.
	TemplateEmailChangeVerify = "email_change_verify"
	// TemplateEmailChangeNotice goes to the old address and needs
	// DataNewEmail, so the owner sees what their address is changing to.
	TemplateEmailChangeNotice = "email_change_notice"
)

// Keys of Message.Data. Unknown keys are ignored, so an older instance
// still renders what a newer one enqueued.
const (
	DataLink     = "link"
	DataUsername = "username"
	DataNewEmail = "new_email"
)

// ErrLeaseLost is what an Outbox answers when the owner no longer holds a
// message's lease: it expired and another owner took it, or the message
// was already settled.
var ErrLeaseLost = errors.New("mail: outbox lease lost")

// Outbox is the durable queue the Worker drains. The domain writes
// messages in the same transaction as the token the mail carries; the
// store implements this interface over the same table. Every method must
// be safe for concurrent use by several processes.
//
// A message is pending until it is sent or dead. Only the lease owner may
// settle it; a lease that expired but that nobody else took is still the
// owner's (the mail did go out, so marking it sent is right).
type Outbox interface {
	// Lease claims up to limit pending messages due at now
	// (next_attempt_at <= now) whose lease is free or expired, oldest due
	// first, for owner until now+lease, and counts an attempt on each.
	// Two callers never get the same message while its lease runs.
	Lease(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Message, error)
	// MarkSent records that the SMTP server accepted the message and
	// clears its Data. ErrLeaseLost unless owner holds the lease.
	MarkSent(ctx context.Context, id int64, owner string, at time.Time) error
	// Retry frees the lease and makes the message due again at next;
	// reason is a short error class (see DeliveryError), never a server
	// reply or the mail. ErrLeaseLost unless owner holds the lease.
	Retry(ctx context.Context, id int64, owner string, next time.Time, reason string) error
	// Abandon gives up on the message (dead letter): it is never leased
	// again, its Data is cleared, reason is kept for operators.
	// ErrLeaseLost unless owner holds the lease.
	Abandon(ctx context.Context, id int64, owner string, at time.Time, reason string) error
	// Backlog counts pending and dead messages, and dates the oldest
	// pending one. Purging settled rows is the store's janitor's job.
	Backlog(ctx context.Context) (Backlog, error)
}

// Backlog is the state of the queue, for metrics and /readyz.
type Backlog struct {
	// Pending counts messages neither sent nor dead.
	Pending int
	// OldestPending is the CreatedAt of the oldest pending message (zero
	// when none is pending).
	OldestPending time.Time
	// Dead counts messages given up on and not yet purged.
	Dead int
}
