package mail_test

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	keycardmail "github.com/keycard/keycard/mail"
	"github.com/keycard/keycard/mail/mailtest"
)

var sender = &mail.Address{Name: "Acme ID", Address: "no-reply@acme.example"}

const resetLink = "https://app.acme.example/reset-password?token=kq3Xr-9vL_0aZ"

func resetMail(t *testing.T) keycardmail.Rendered {
	t.Helper()
	r, err := loadTemplates(t, "").Render(keycardmail.Message{
		ID: 42, To: "alice@example.com", Template: keycardmail.TemplatePasswordReset,
		Data:      map[string]string{keycardmail.DataLink: resetLink, keycardmail.DataUsername: "alice"},
		CreatedAt: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func smtpSender(t *testing.T, url string, s *mailtest.SMTPServer) *keycardmail.SMTPSender {
	t.Helper()
	server, err := keycardmail.ParseSMTPURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return keycardmail.NewSMTPSender(server, sender, 5*time.Second, s.RootCAs)
}

// expectClass checks that err is a DeliveryError of class.
func expectClass(t *testing.T, err error, class string, permanent bool) {
	t.Helper()
	var de *keycardmail.DeliveryError
	if !errors.As(err, &de) || de.Class != class || de.Permanent != permanent {
		t.Fatalf("error = %v, want class %s (permanent %t)", err, class, permanent)
	}
}

// checkResetMail checks what arrived is the reset mail, whole.
func checkResetMail(t *testing.T, got mailtest.Received) {
	t.Helper()
	if got.From != "no-reply@acme.example" || len(got.To) != 1 || got.To[0] != "alice@example.com" {
		t.Errorf("envelope from %s to %v", got.From, got.To)
	}
	p := mailtest.Parse(t, got.Data)
	for header, want := range map[string]string{
		"From":           `"Acme ID" <no-reply@acme.example>`,
		"To":             "<alice@example.com>",
		"Date":           "Wed, 06 May 2026 07:08:09 +0000",
		"Auto-Submitted": "auto-generated",
		"Mime-Version":   "1.0",
	} {
		if v := p.Header.Get(header); v != want {
			t.Errorf("%s: %q, want %q", header, v, want)
		}
	}
	if p.Subject != "Reset your Acme ID password" {
		t.Errorf("subject %q", p.Subject)
	}
	if id := p.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@acme.example>") {
		t.Errorf("Message-ID %q", id)
	}
	if p.Link("https://app.acme.example/reset-password?token=") != resetLink {
		t.Errorf("text part lacks the link %s:\n%s", resetLink, p.Text)
	}
	if !strings.Contains(p.HTML, `href="`+resetLink+`"`) {
		t.Errorf("HTML part does not link %s:\n%s", resetLink, p.HTML)
	}
}

func TestSMTPSenderAuthenticatesWithPlainOverSTARTTLS(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{StartTLS: true, Username: "keycard", Password: "p@ss word"})
	s := smtpSender(t, fmt.Sprintf("smtp://keycard:p%%40ss%%20word@%s?starttls=required", server.Addr), server)
	if err := s.Send(t.Context(), resetMail(t)); err != nil {
		t.Fatal(err)
	}
	got := server.Next(t)
	if !got.TLS || got.AuthUser != "keycard" {
		t.Errorf("mail came with TLS %t, authenticated as %q", got.TLS, got.AuthUser)
	}
	if auths := server.Auths(); len(auths) != 1 || !auths[0].TLS {
		t.Errorf("AUTH attempts %+v, want one, over TLS", auths)
	}
	checkResetMail(t, got)
}

func TestSMTPSenderTakesSTARTTLSWhenOffered(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{StartTLS: true})
	if err := smtpSender(t, "smtp://"+server.Addr, server).Send(t.Context(), resetMail(t)); err != nil {
		t.Fatal(err)
	}
	if got := server.Next(t); !got.TLS {
		t.Error("opportunistic STARTTLS did not encrypt although the server offered it")
	}
}

func TestSMTPSenderSpeaksImplicitTLS(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{ImplicitTLS: true, Username: "keycard", Password: "pw"})
	if err := smtpSender(t, "smtps://keycard:pw@"+server.Addr, server).Send(t.Context(), resetMail(t)); err != nil {
		t.Fatal(err)
	}
	got := server.Next(t)
	if !got.TLS || got.AuthUser != "keycard" {
		t.Errorf("mail came with TLS %t, authenticated as %q", got.TLS, got.AuthUser)
	}
	checkResetMail(t, got)
}

func TestSMTPSenderNeverSendsCredentialsInClear(t *testing.T) {
	// 127.0.0.2 is loopback but not "localhost" to the client, so it gets
	// the treatment of a remote server whose STARTTLS an attacker
	// stripped.
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{Addr: "127.0.0.2:0", Username: "keycard", Password: "pw"})
	err := smtpSender(t, "smtp://keycard:pw@"+server.Addr, server).Send(t.Context(), resetMail(t))
	expectClass(t, err, keycardmail.ClassAuth, false)
	if auths := server.Auths(); len(auths) != 0 {
		t.Errorf("the client authenticated in clear: %+v", auths)
	}
	if len(server.Received()) != 0 {
		t.Error("a mail was accepted")
	}
}

func TestSTARTTLSRequiredRefusesAServerWithoutIt(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{})
	err := smtpSender(t, "smtp://"+server.Addr+"?starttls=required", server).Send(t.Context(), resetMail(t))
	expectClass(t, err, keycardmail.ClassTLS, false)
	if len(server.Received()) != 0 {
		t.Error("the mail went out in clear")
	}
}

func TestSMTPSenderRefusesACertificateItCannotVerify(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{ImplicitTLS: true})
	url, _ := keycardmail.ParseSMTPURL("smtps://" + server.Addr)
	err := keycardmail.NewSMTPSender(url, sender, 5*time.Second, nil).Send(t.Context(), resetMail(t))
	expectClass(t, err, keycardmail.ClassTLS, false)

	starttls := mailtest.StartSMTP(t, mailtest.SMTPOptions{StartTLS: true})
	url, _ = keycardmail.ParseSMTPURL("smtp://" + starttls.Addr)
	err = keycardmail.NewSMTPSender(url, sender, 5*time.Second, nil).Send(t.Context(), resetMail(t))
	expectClass(t, err, keycardmail.ClassTLS, false)
	if len(server.Received())+len(starttls.Received()) != 0 {
		t.Error("a mail went to a server whose certificate did not verify")
	}
}

func TestSMTPSenderClassifiesFailures(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		server := mailtest.StartSMTP(t, mailtest.SMTPOptions{StartTLS: true, Username: "keycard", Password: "right"})
		err := smtpSender(t, "smtp://keycard:wrong@"+server.Addr, server).Send(t.Context(), resetMail(t))
		expectClass(t, err, keycardmail.ClassAuth, false)
	})
	t.Run("recipient refused for good", func(t *testing.T) {
		server := mailtest.StartSMTP(t, mailtest.SMTPOptions{Reject: func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}})
		err := smtpSender(t, "smtp://"+server.Addr, server).Send(t.Context(), resetMail(t))
		expectClass(t, err, keycardmail.ClassRejectedPermanent, true)
	})
	t.Run("recipient refused for now", func(t *testing.T) {
		server := mailtest.StartSMTP(t, mailtest.SMTPOptions{Reject: func(string) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}})
		err := smtpSender(t, "smtp://"+server.Addr, server).Send(t.Context(), resetMail(t))
		expectClass(t, err, keycardmail.ClassRejectedTemporary, false)
	})
	t.Run("nobody listening", func(t *testing.T) {
		addr := freeAddr(t)
		server, _ := keycardmail.ParseSMTPURL("smtp://" + addr)
		err := keycardmail.NewSMTPSender(server, sender, 5*time.Second, nil).Send(t.Context(), resetMail(t))
		expectClass(t, err, keycardmail.ClassConnect, false)
	})
	t.Run("invalid recipient", func(t *testing.T) {
		server := mailtest.StartSMTP(t, mailtest.SMTPOptions{})
		r := resetMail(t)
		r.To = "alice at example.com"
		err := smtpSender(t, "smtp://"+server.Addr, server).Send(t.Context(), r)
		expectClass(t, err, keycardmail.ClassAddress, true)
	})
}

func TestSMTPSenderTimeoutBoundsTheWholeSend(t *testing.T) {
	// A server that accepts the connection and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			accepted <- conn
		}
	}()
	t.Cleanup(func() {
		select {
		case conn := <-accepted:
			conn.Close()
		default:
		}
	})
	server, _ := keycardmail.ParseSMTPURL("smtp://" + ln.Addr().String())
	err = keycardmail.NewSMTPSender(server, sender, 200*time.Millisecond, nil).Send(t.Context(), resetMail(t))
	expectClass(t, err, keycardmail.ClassTimeout, false)
}

func TestAMailTheServerAcceptedCountsAsSentWhateverFollows(t *testing.T) {
	// A server that answers 250 to the mail and hangs up instead of
	// answering QUIT: the mail is the recipient's, and retrying it would
	// send it twice. go-smtp always answers QUIT, so this one is scripted.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := textproto.NewConn(conn)
		_ = r.PrintfLine("220 localhost ESMTP")
		for {
			line, err := r.ReadLine()
			if err != nil {
				return
			}
			switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
			case "EHLO", "HELO":
				_ = r.PrintfLine("250 localhost")
			case "MAIL", "RCPT":
				_ = r.PrintfLine("250 OK")
			case "DATA":
				_ = r.PrintfLine("354 go ahead")
				body, err := r.ReadDotBytes()
				if err != nil {
					return
				}
				_ = r.PrintfLine("250 queued")
				accepted <- string(body)
			default: // QUIT: hang up
				return
			}
		}
	}()
	server, _ := keycardmail.ParseSMTPURL("smtp://" + ln.Addr().String())
	if err := keycardmail.NewSMTPSender(server, sender, 5*time.Second, nil).Send(t.Context(), resetMail(t)); err != nil {
		t.Errorf("Send = %v after the server accepted the mail", err)
	}
	if body := <-accepted; !strings.Contains(body, "reset-password") {
		t.Errorf("accepted %q", body)
	}
}

// freeAddr is a loopback address nobody listens on (until a test starts a
// server there).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
