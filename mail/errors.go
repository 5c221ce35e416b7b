package mail

import "errors"

// Error classes: what went wrong with a delivery, in a word. They are what
// the outbox keeps as a retry's reason, what /readyz shows as the last
// error, and what logs are grouped by; a server's reply never goes into
// the outbox (it may quote the mail).
const (
	// ClassConnect: the server could not be reached (refused, no route,
	// DNS).
	ClassConnect = "connect"
	// ClassTimeout: the send took longer than Config.Timeout.
	ClassTimeout = "timeout"
	// ClassTLS: the TLS handshake failed (certificate, protocol), or
	// STARTTLS was required and not offered.
	ClassTLS = "tls"
	// ClassAuth: SMTP AUTH failed, or credentials would have travelled
	// unencrypted.
	ClassAuth = "auth"
	// ClassRejectedTemporary: the server answered 4xx to the mail.
	ClassRejectedTemporary = "rejected_temporary"
	// ClassRejectedPermanent: the server answered 5xx to the mail (the
	// recipient or the content); retried a few times only.
	ClassRejectedPermanent = "rejected_permanent"
	// ClassAddress: the recipient is not a valid address; never retried.
	ClassAddress = "address"
	// ClassTemplate: the message could not be rendered (unknown template
	// or missing data, e.g. enqueued by a newer version).
	ClassTemplate = "template"
	// ClassExpired: the message waited longer than Config.MaxAge; the
	// link in it is dead, so it is given up on unsent.
	ClassExpired = "expired"
	// ClassSMTP: any other SMTP protocol failure.
	ClassSMTP = "smtp"
	// ClassFile: the .eml file could not be written.
	ClassFile = "file"
)

// DeliveryError is a failed delivery with its class. Permanent says that
// sending the same mail again cannot succeed (an invalid address, a 5xx
// rejection), so the Worker stops retrying it early.
type DeliveryError struct {
	Class     string
	Permanent bool
	Err       error
}

func (e *DeliveryError) Error() string {
	return "mail: " + e.Class + ": " + e.Err.Error()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// classOf is err's class; errors that are no DeliveryError are ClassSMTP.
func classOf(err error) (class string, permanent bool) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Class, de.Permanent
	}
	return ClassSMTP, false
}
