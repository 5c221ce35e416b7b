package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPOptions shape an SMTPServer.
type SMTPOptions struct {
	// Addr is where to listen (default 127.0.0.1:0, a free port).
	Addr string
	// Username and Password, when set, make AUTH PLAIN required before
	// MAIL FROM.
	Username, Password string
	// StartTLS offers STARTTLS; ImplicitTLS speaks TLS from the first
	// byte (smtps). Both use a certificate for 127.0.0.1, 127.0.0.2, ::1
	// and localhost that SMTPServer.RootCAs verifies.
	StartTLS, ImplicitTLS bool
	// Reject, when set, answers RCPT TO: a non-nil error (an
	// *smtp.SMTPError for a chosen code) refuses the recipient.
	Reject func(rcpt string) error
}

// Received is one mail the server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
	// TLS says whether the connection was encrypted when the mail came;
	// AuthUser is who authenticated ("" for nobody).
	TLS      bool
	AuthUser string
}

// Auth is one AUTH attempt the server saw.
type Auth struct {
	Username string
	TLS      bool
}

// SMTPServer is a real SMTP server in process (emersion/go-smtp) that
// keeps what it accepts.
type SMTPServer struct {
	// Addr is host:port, Host and Port its parts.
	Addr string
	Host string
	Port int
	// RootCAs verify the server's certificate.
	RootCAs *x509.CertPool

	opts    SMTPOptions
	server  *smtp.Server
	arrived chan Received

	mu       sync.Mutex
	received []Received
	auths    []Auth
}

// StartSMTP starts a server; it stops when the test ends.
func StartSMTP(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	cert, pool := Certificate(t)
	s := &SMTPServer{RootCAs: pool, opts: opts, arrived: make(chan Received, 1000)}
	s.server = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{server: s, conn: c}, nil
	}))
	s.server.Domain = "localhost"
	s.server.ReadTimeout, s.server.WriteTimeout = 10*time.Second, 10*time.Second
	s.server.MaxMessageBytes = 1 << 20
	// The server accepts AUTH without TLS so that a test sees what the
	// client does: a client that sends credentials in clear is caught.
	s.server.AllowInsecureAuth = true
	s.server.ErrorLog = log.New(io.Discard, "", 0)
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if opts.StartTLS {
		s.server.TLSConfig = tlsConfig
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() { _ = s.server.Serve(ln) }()
	t.Cleanup(func() { _ = s.server.Close() })
	return s
}

// Close stops the server (further connections are refused).
func (s *SMTPServer) Close() { _ = s.server.Close() }

// Next waits for the next mail to arrive, failing the test after 10 s.
func (s *SMTPServer) Next(t testing.TB) Received {
	t.Helper()
	select {
	case r := <-s.arrived:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no mail arrived within 10s")
		return Received{}
	}
}

// Received lists every mail accepted so far.
func (s *SMTPServer) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Auths lists every AUTH attempt so far.
func (s *SMTPServer) Auths() []Auth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Auth(nil), s.auths...)
}

type session struct {
	server   *SMTPServer
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

func (s *session) tls() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *session) AuthMechanisms() []string {
	if s.server.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		s.server.mu.Lock()
		s.server.auths = append(s.server.auths, Auth{Username: username, TLS: s.tls()})
		s.server.mu.Unlock()
		if username != s.server.opts.Username || password != s.server.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.authUser = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.opts.Username != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.server.opts.Reject != nil {
		if err := s.server.opts.Reject(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	received := Received{From: s.from, To: s.to, Data: data, TLS: s.tls(), AuthUser: s.authUser}
	s.server.mu.Lock()
	s.server.received = append(s.server.received, received)
	s.server.mu.Unlock()
	s.server.arrived <- received
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// Certificate is a fresh self-signed certificate for 127.0.0.1,
// 127.0.0.2, ::1 and localhost, and the pool that trusts it.
func Certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "keycard test SMTP server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: parsed}, pool
}
