// Package mail holds keycard's outgoing mail: the Message a domain
// operation enqueues in its own transaction, the Outbox interface through
// which the queue is read back (the store implements it), the embedded and
// overridable templates that turn a Message into a subject, a text part and
// an HTML part, the two Senders (SMTP, and .eml files for development), and
// the Worker that leases due messages, sends them, and marks them sent or
// schedules a retry with exponential backoff and jitter.
//
// Delivery is at least once: a message is marked sent only after the SMTP
// server accepted it, so a process that dies between the two sends it again
// once its lease expires. Under normal operation leasing keeps several
// instances from sending the same message.
//
// It imports the standard library and github.com/wneessen/go-mail, and
// nothing of keycard: auth and store import it for its types, never the
// other way round. mailtest holds the fixtures its tests and the store's
// share (an in-memory Outbox, the Outbox contract, an SMTP server).
package mail
