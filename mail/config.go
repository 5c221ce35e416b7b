package mail

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Defaults of Config's zero values.
const (
	DefaultDir          = "keycard-mail"
	DefaultProduct      = "keycard"
	DefaultTimeout      = 30 * time.Second
	DefaultPollInterval = 5 * time.Second
	DefaultLease        = 2 * time.Minute
	DefaultBackoffBase  = 30 * time.Second
	DefaultBackoffMax   = time.Hour
	DefaultMaxAttempts  = 30
	DefaultMaxAge       = 24 * time.Hour
	DefaultConcurrency  = 4
)

// Config is the mail settings. The first group mirrors environment
// variables (named beside each field; the error messages use those
// names); the delivery policy has defaults that rarely need changing.
type Config struct {
	// SMTPURL (KEYCARD_SMTP_URL) is the submission server, see
	// ParseSMTPURL. Empty: no SMTP.
	SMTPURL string
	// From (KEYCARD_MAIL_FROM) is the sender, "Name <address>" or an
	// address; required with SMTP.
	From string
	// Dir (KEYCARD_MAIL_DIR, default DefaultDir) receives one .eml file per
	// mail in development when SMTPURL is empty.
	Dir string
	// Templates (KEYCARD_MAIL_TEMPLATES) is a directory whose files replace
	// the embedded templates of the same name.
	Templates string
	// Product (KEYCARD_PRODUCT_NAME, default "keycard") is the product
	// name the templates show.
	Product string
	// Timeout (KEYCARD_SMTP_TIMEOUT, default 30s) bounds one send, from
	// dialling to the server's acceptance.
	Timeout time.Duration
	// Development (KEYCARD_ENV=development) writes .eml files when no SMTP
	// server is set; production without one has no mail at all, and
	// operations that must send mail answer UNAVAILABLE.
	Development bool
	// RootCAs verify the SMTP server's certificate (nil: the system's).
	RootCAs *x509.CertPool

	// PollInterval is how often the outbox is looked at when nothing
	// nudged the Worker (retries falling due, other instances' mail).
	PollInterval time.Duration
	// Lease is how long a leased message is the Worker's alone; at least
	// twice Timeout, so a send finishes well inside it.
	Lease time.Duration
	// BackoffBase and BackoffMax shape the retry delay: BackoffBase after
	// the first failure, doubling up to BackoffMax, with jitter.
	BackoffBase, BackoffMax time.Duration
	// MaxAttempts and MaxAge bound retries: past either the message is
	// given up on (dead letter). The default age is the longest a link in
	// these mails lives.
	MaxAttempts int
	MaxAge      time.Duration
	// Concurrency is how many sends one Worker runs at once.
	Concurrency int
}

func (c Config) withDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Product == "" {
		c.Product = DefaultProduct
	}
	setDuration := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDuration(&c.Timeout, DefaultTimeout)
	setDuration(&c.PollInterval, DefaultPollInterval)
	setDuration(&c.Lease, DefaultLease)
	setDuration(&c.BackoffBase, DefaultBackoffBase)
	setDuration(&c.BackoffMax, DefaultBackoffMax)
	setDuration(&c.MaxAge, DefaultMaxAge)
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// Check reports every problem of the configuration at once, templates
// included, each naming its variable; New runs it too. The wiring calls it
// with the rest of the configuration, before anything opens.
func (c Config) Check() error {
	_, err := c.check()
	return err
}

// parsed is what check read out of a Config.
type parsed struct {
	server    *SMTPServer // nil: no SMTP
	from      *mail.Address
	templates *Templates
}

// check validates c (with defaults) and returns what it parsed.
func (c Config) check() (parsed, error) {
	c = c.withDefaults()
	var errs []error
	var server *SMTPServer
	if c.SMTPURL != "" {
		s, err := ParseSMTPURL(c.SMTPURL)
		if err != nil {
			errs = append(errs, err)
		} else {
			server = &s
		}
	}
	from, err := c.from()
	if err != nil {
		errs = append(errs, err)
	}
	if strings.IndexFunc(c.Product, unicode.IsControl) >= 0 {
		errs = append(errs, errors.New("KEYCARD_PRODUCT_NAME must not contain control characters"))
	}
	if c.Timeout < 0 || c.PollInterval < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 || c.MaxAge < 0 || c.MaxAttempts < 0 || c.Concurrency < 0 {
		errs = append(errs, errors.New("mail: durations and counts must not be negative"))
	}
	if c.Lease < 2*c.Timeout {
		errs = append(errs, fmt.Errorf("mail: the lease (%s) must be at least twice KEYCARD_SMTP_TIMEOUT (%s), so a send ends while it is still leased", c.Lease, c.Timeout))
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, errors.New("mail: BackoffMax must not be shorter than BackoffBase"))
	}
	templates, err := LoadTemplates(c.Templates, c.Product)
	if err != nil {
		errs = append(errs, fmt.Errorf("KEYCARD_MAIL_TEMPLATES: %w", err))
	}
	return parsed{server: server, from: from, templates: templates}, errors.Join(errs...)
}

// from is the sender address: KEYCARD_MAIL_FROM, which SMTP requires (a
// made-up sender is refused or lands in spam), or for .eml files the
// product at localhost.
func (c Config) from() (*mail.Address, error) {
	if c.From == "" {
		if c.SMTPURL != "" {
			return nil, errors.New("KEYCARD_MAIL_FROM is required with KEYCARD_SMTP_URL, e.g. KEYCARD_MAIL_FROM='Example <no-reply@example.com>'")
		}
		return &mail.Address{Name: c.Product, Address: "keycard@localhost"}, nil
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("KEYCARD_MAIL_FROM: %q is not an address such as 'Example <no-reply@example.com>'", c.From)
	}
	return from, nil
}

// TLSMode is how a connection to the SMTP server is encrypted.
type TLSMode string

const (
	// TLSImplicit: TLS from the first byte (smtps://, port 465).
	TLSImplicit TLSMode = "implicit"
	// STARTTLSOpportunistic: STARTTLS when the server offers it, plain
	// text when it does not (smtp://, the default). Credentials never
	// travel in plain text (AUTH then fails, except to localhost), but
	// the mail would: use STARTTLSRequired across networks.
	STARTTLSOpportunistic TLSMode = "opportunistic"
	// STARTTLSRequired: STARTTLS or no delivery
	// (smtp://...?starttls=required).
	STARTTLSRequired TLSMode = "required"
	// STARTTLSOff: never STARTTLS (smtp://...?starttls=off), for a relay
	// on the same host or network whose certificate does not verify.
	STARTTLSOff TLSMode = "off"
)

// SMTPServer is a parsed KEYCARD_SMTP_URL.
type SMTPServer struct {
	Host               string
	Port               int
	Username, Password string
	TLS                TLSMode
}

// String is the server for logs, without the password.
func (s SMTPServer) String() string {
	scheme := "smtp"
	if s.TLS == TLSImplicit {
		scheme = "smtps"
	}
	user := ""
	if s.Username != "" {
		user = url.User(s.Username).String() + "@"
	}
	mode := map[TLSMode]string{
		TLSImplicit:           "implicit TLS",
		STARTTLSOpportunistic: "STARTTLS when offered",
		STARTTLSRequired:      "STARTTLS required",
		STARTTLSOff:           "no TLS",
	}[s.TLS]
	return fmt.Sprintf("%s://%s%s (%s)", scheme, user, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), mode)
}

// ParseSMTPURL reads KEYCARD_SMTP_URL: smtp://[USER:PASSWORD@]HOST[:PORT]
// (default port 587, STARTTLS when offered; ?starttls=required refuses a
// server without it, ?starttls=off never starts it) or
// smtps://[USER:PASSWORD@]HOST[:PORT] (implicit TLS, default port 465).
// User and password are percent-encoded. With credentials keycard
// authenticates with PLAIN or LOGIN (or the strongest mechanism offered
// when the server has neither), and only over TLS or to localhost.
func ParseSMTPURL(raw string) (SMTPServer, error) {
	fail := func(format string, args ...any) (SMTPServer, error) {
		return SMTPServer{}, fmt.Errorf("KEYCARD_SMTP_URL: "+format+"; the form is smtp://USER:PASSWORD@HOST:587 or smtps://USER:PASSWORD@HOST:465", args...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the URL, password included.
		return fail("not a URL")
	}
	var s SMTPServer
	switch u.Scheme {
	case "smtp":
		s.TLS, s.Port = STARTTLSOpportunistic, 587
	case "smtps":
		s.TLS, s.Port = TLSImplicit, 465
	default:
		return fail("the scheme must be smtp or smtps")
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return fail("no host")
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return fail("%q is not a port", p)
		}
		s.Port = port
	}
	if u.Path != "" && u.Path != "/" {
		return fail("a path (%s) means nothing here", u.Path)
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" || s.Password == "" {
			return fail("give both a user and a password, or neither")
		}
	}
	query := u.Query()
	for key := range query {
		if key != "starttls" {
			return fail("unknown parameter %q (the only one is starttls)", key)
		}
	}
	if v := query.Get("starttls"); v != "" {
		if s.TLS == TLSImplicit {
			return fail("starttls is for smtp://; smtps:// is TLS from the start")
		}
		switch TLSMode(v) {
		case STARTTLSOpportunistic, STARTTLSRequired, STARTTLSOff:
			s.TLS = TLSMode(v)
		default:
			return fail("starttls=%q is not opportunistic, required or off", v)
		}
	}
	return s, nil
}
