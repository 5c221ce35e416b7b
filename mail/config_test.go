package mail_test

import (
	"strings"
	"testing"

	"github.com/keycard/keycard/mail"
	"github.com/keycard/keycard/mail/mailtest"
)

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want mail.SMTPServer
	}{
		{"smtp://mail.example.com", mail.SMTPServer{Host: "mail.example.com", Port: 587, TLS: mail.STARTTLSOpportunistic}},
		{"smtp://user:p%40ss@mail.example.com:25", mail.SMTPServer{Host: "mail.example.com", Port: 25, Username: "user", Password: "p@ss", TLS: mail.STARTTLSOpportunistic}},
		{"smtp://mail.example.com?starttls=required", mail.SMTPServer{Host: "mail.example.com", Port: 587, TLS: mail.STARTTLSRequired}},
		{"smtp://localhost:1025?starttls=off", mail.SMTPServer{Host: "localhost", Port: 1025, TLS: mail.STARTTLSOff}},
		{"smtps://u:p@[::1]", mail.SMTPServer{Host: "::1", Port: 465, Username: "u", Password: "p", TLS: mail.TLSImplicit}},
	} {
		got, err := mail.ParseSMTPURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"http://mail.example.com",
		"mail.example.com:587",
		"smtp://",
		"smtp://mail.example.com:0",
		"smtp://mail.example.com:99999",
		"smtp://user@mail.example.com",
		"smtp://mail.example.com/inbox",
		"smtp://mail.example.com?tls=on",
		"smtp://mail.example.com?starttls=yes",
		"smtps://mail.example.com?starttls=required",
		"smtp://user:s3cret@exa mple.com",
	} {
		_, err := mail.ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted", bad)
			continue
		}
		if !strings.HasPrefix(err.Error(), "KEYCARD_SMTP_URL: ") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseSMTPURL(%q) = %q: want it to name the variable and never quote the password", bad, err)
		}
	}
}

func TestSMTPServerStringHidesThePassword(t *testing.T) {
	s, err := mail.ParseSMTPURL("smtp://bob:s3cret@mail.example.com?starttls=required")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "smtp://bob@mail.example.com:587 (STARTTLS required)" {
		t.Errorf("String() = %q", got)
	}
}

func TestConfigCheckReportsEveryProblemAtOnce(t *testing.T) {
	err := mail.Config{SMTPURL: "smtp://mail.example.com", Product: "Bad\nName", Lease: 10_000_000_000, Timeout: 30_000_000_000}.Check()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"KEYCARD_MAIL_FROM is required", "KEYCARD_PRODUCT_NAME", "twice KEYCARD_SMTP_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := (mail.Config{SMTPURL: "smtp://mail.example.com", From: "not an address"}).Check(); err == nil || !strings.Contains(err.Error(), "KEYCARD_MAIL_FROM") {
		t.Errorf("a bad From: %v", err)
	}
	if err := (mail.Config{SMTPURL: "smtp://mail.example.com", From: "Acme <no-reply@acme.example>"}).Check(); err != nil {
		t.Errorf("a good configuration: %v", err)
	}
}

func TestNewPicksTheSenderTheConfigurationAsksFor(t *testing.T) {
	outbox := mailtest.NewOutbox()
	for _, tc := range []struct {
		name          string
		cfg           mail.Config
		available     bool
		transport     string
		describe      string
		describeLacks string
	}{
		{"smtp", mail.Config{SMTPURL: "smtp://bob:s3cret@mail.example.com", From: "a@example.com"}, true, "smtp", "mail via SMTP smtp://bob@mail.example.com:587 (STARTTLS when offered)", "s3cret"},
		{"development files", mail.Config{Development: true, Dir: t.TempDir() + "/mail"}, true, "files", ".eml files in", ""},
		{"production without smtp", mail.Config{}, false, "none", "UNAVAILABLE", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := mail.New(tc.cfg, outbox, mail.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			if w.Available() != tc.available {
				t.Errorf("Available() = %t, want %t", w.Available(), tc.available)
			}
			if d := w.Describe(); !strings.Contains(d, tc.describe) || (tc.describeLacks != "" && strings.Contains(d, tc.describeLacks)) {
				t.Errorf("Describe() = %q", d)
			}
			h, err := w.Health(t.Context())
			if err != nil || h.Transport != tc.transport {
				t.Errorf("Health() = %+v, %v; want transport %s", h, err, tc.transport)
			}
		})
	}
}
