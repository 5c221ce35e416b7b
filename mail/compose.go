package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// compose builds the RFC 5322 message both senders deliver: a
// multipart/alternative of the text part and the HTML part.
func compose(from *mail.Address, r Rendered, encoding gomail.Encoding) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithEncoding(encoding), gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	if err := msg.To(r.To); err != nil {
		return nil, &DeliveryError{Class: ClassAddress, Permanent: true, Err: err}
	}
	msg.Subject(r.Subject)
	msg.SetDateWithValue(r.CreatedAt)
	msg.SetMessageIDWithValue(messageID(from, r))
	msg.SetUserAgent("keycard")
	// Transactional mail: vacation responders and Exchange's automatic
	// replies stay quiet (RFC 3834).
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "All")
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	return msg, nil
}

// messageID is the same for every delivery of one outbox message, so that
// a mail sent twice (a crash between send and mark) carries one id and
// mail clients that deduplicate show it once. It is a hash, so it does not
// count the outbox's rows for whoever reads the header.
func messageID(from *mail.Address, r Rendered) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "keycard-outbox\x00%d\x00%d\x00%s", r.ID, r.CreatedAt.UnixNano(), r.To))
	domain := "localhost"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		domain = from.Address[at+1:]
	}
	return hex.EncodeToString(sum[:16]) + "@" + domain
}
