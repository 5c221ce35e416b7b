package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Sender delivers one rendered mail. Send returns nil only once the mail
// is accepted (the SMTP server answered 250 to DATA, the file is in
// place); a failure should be a *DeliveryError so the Worker knows its
// class. Implementations must be safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, r Rendered) error
}

// SMTPSender submits mail to an SMTP server, one connection per mail
// (transactional mail is rare; a pooled connection would only add a state
// that goes stale).
type SMTPSender struct {
	server  SMTPServer
	from    *mail.Address
	timeout time.Duration
	tls     *tls.Config
}

// NewSMTPSender sends through server as from; timeout bounds one whole
// send; rootCAs verify the server's certificate (nil: the system's).
func NewSMTPSender(server SMTPServer, from *mail.Address, timeout time.Duration, rootCAs *x509.CertPool) *SMTPSender {
	return &SMTPSender{
		server:  server,
		from:    from,
		timeout: timeout,
		tls:     &tls.Config{ServerName: server.Host, RootCAs: rootCAs, MinVersion: tls.VersionTLS12},
	}
}

func (s *SMTPSender) String() string { return "SMTP " + s.server.String() }

// Send submits r. Quoted-printable keeps every line short and 7-bit, which
// every server takes.
func (s *SMTPSender) Send(ctx context.Context, r Rendered) error {
	msg, err := compose(s.from, r, gomail.EncodingQP)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	client, err := s.client(ctx)
	if err != nil {
		return &DeliveryError{Class: ClassSMTP, Err: err}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil && !msg.IsDelivered() {
		return classify(ctx, err)
	}
	// Delivered is the server's 250 to DATA: what fails after it (QUIT,
	// a dropped connection) cannot undo the mail, and reporting it would
	// only send the mail twice.
	return nil
}

// client is a fresh go-mail client for one send: its options are per
// connection, and sharing one between concurrent sends would share them.
func (s *SMTPSender) client(ctx context.Context) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.server.Port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(s.dialer(ctx)),
		// One mail per connection: no NOOP before it, no RSET after it.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch s.server.TLS {
	case STARTTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case STARTTLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case STARTTLSOff, TLSImplicit:
		// Implicit TLS is the dialer's; STARTTLS over it would be a
		// second layer.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.server.Username != "" {
		// PLAIN and LOGIN are what submission servers offer; they refuse
		// to run without TLS except to localhost, so a stripped STARTTLS
		// cannot make the password travel in clear. Without either, the
		// strongest mechanism offered.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.server.Username),
			gomail.WithPassword(s.server.Password))
	}
	return gomail.NewClient(s.server.Host, opts...)
}

// dialer connects (with TLS from the start for smtps) and ties the
// connection to ctx: go-mail's timeout is per command, so a server
// answering each command just in time could hold a send for ever; closing
// the connection when ctx ends bounds the whole send.
func (s *SMTPSender) dialer(ctx context.Context) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			if dialCtx.Err() != nil {
				return nil, &DeliveryError{Class: ClassTimeout, Err: err}
			}
			return nil, &DeliveryError{Class: ClassConnect, Err: err}
		}
		if s.server.TLS == TLSImplicit {
			tc := tls.Client(conn, s.tls)
			if err := tc.HandshakeContext(dialCtx); err != nil {
				conn.Close()
				return nil, &DeliveryError{Class: ClassTLS, Err: err}
			}
			conn = tc
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

// classify gives a go-mail error its class. go-mail wraps most failures
// in fmt.Errorf, so after the typed checks some are told by their text.
func classify(ctx context.Context, err error) error {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de
	}
	class, permanent := ClassSMTP, false
	var (
		sendErr   *gomail.SendError
		protoErr  *textproto.Error
		netErr    net.Error
		certErr   *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
	)
	text := err.Error()
	switch {
	case ctx.Err() != nil:
		class = ClassTimeout
	case errors.Is(err, gosmtp.ErrUnencrypted), strings.Contains(text, "SMTP AUTH failed"),
		strings.Contains(text, "does not support SMTP AUTH"), errors.Is(err, gomail.ErrNoSupportedAuthDiscovered):
		class = ClassAuth
	case errors.As(err, &certErr), errors.As(err, &recordErr), errors.As(err, &alertErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), strings.Contains(text, "STARTTLS"):
		class = ClassTLS
	case errors.As(err, &sendErr):
		switch code := sendErr.ErrorCode(); {
		case sendErr.Reason == gomail.ErrGetRcpts || sendErr.Reason == gomail.ErrGetSender:
			class, permanent = ClassAddress, true
		case code >= 500:
			class, permanent = ClassRejectedPermanent, true
		case code >= 400 || sendErr.IsTemp():
			class = ClassRejectedTemporary
		}
	case errors.As(err, &protoErr):
		// A reply to EHLO or the greeting: the server, not this mail.
		if protoErr.Code >= 400 && protoErr.Code < 500 {
			class = ClassRejectedTemporary
		}
	case errors.As(err, &netErr) && netErr.Timeout():
		class = ClassTimeout
	}
	return &DeliveryError{Class: class, Permanent: permanent, Err: err}
}
