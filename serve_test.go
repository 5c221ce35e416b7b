package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keycard/keycard/config"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "keycard test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startServe runs serve in the background and returns its address and a
// stop function that waits for it to return.
func startServe(t *testing.T, env map[string]string) (string, func() error) {
	t.Helper()
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return startServeWith(t, cfg, slog.New(slog.DiscardHandler))
}

// startServeWith serves cfg, logging to log.
func startServeWith(t *testing.T, cfg config.Config, log *slog.Logger) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- listenAndServe(ctx, cfg, log, func(addr string) { addrs <- addr }) }()
	select {
	case addr := <-addrs:
		return addr, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func TestServesTLS12AndUpWithHSTSInProduction(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	addr, stop := startServe(t, map[string]string{
		"KEYCARD_ADDR":         "127.0.0.1:0",
		"KEYCARD_METRICS_ADDR": "127.0.0.1:0",
		"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db"),
		"KEYCARD_ENV":          "production",
		"KEYCARD_JWT_SECRET":   "serve-test-secret-0123456789-abcdefghijklmnop",
		"KEYCARD_PUBLIC_URL":   "https://auth.example.com",
		"KEYCARD_TLS_CERT":     certFile,
		"KEYCARD_TLS_KEY":      keyFile,
	})
	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // self-signed test certificate
			MaxVersion:         maxVersion,
		}}}
	}
	resp, err := client(tls.VersionTLS13).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("https: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = client(tls.VersionTLS12).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("TLS 1.2 refused: %v", err)
	}
	resp.Body.Close()
	if _, err := client(tls.VersionTLS11).Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	addr, stop := startServe(t, map[string]string{
		"KEYCARD_ADDR":         "127.0.0.1:0",
		"KEYCARD_METRICS_ADDR": "127.0.0.1:0",
		"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db"),
	})
	// Ten aliased registrations spend ten real argon2id hashes, a few
	// hundred milliseconds: the request is in flight when the shutdown
	// starts, and must still be answered in full.
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, 1)
	sent := make(chan struct{})
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(
			`{"query":"mutation { `+aliasedRegistrations(10)+` }"}`))
		req.Header.Set("Content-Type", "application/json")
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
		resp, err := http.DefaultClient.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			results <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		results <- result{status: resp.StatusCode, body: string(body)}
	}()
	<-sent
	time.Sleep(50 * time.Millisecond) // accepted and running, not just queued by the kernel
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-results
	if r.err != nil || r.status != http.StatusOK || strings.Count(r.body, "accessToken") != 10 {
		t.Fatalf("in-flight request: %v %d %s", r.err, r.status, r.body)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func aliasedRegistrations(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `r%d: register(input: {username: \"inflight%d\", password: \"open-sesame-42\"}) { accessToken } `, i, i)
	}
	return b.String()
}

func TestMetricsPortInUseDoesNotStopTheServer(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr, stop := startServe(t, map[string]string{
		"KEYCARD_ADDR":         "127.0.0.1:0",
		"KEYCARD_METRICS_ADDR": taken.Addr().String(),
		"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db"),
	})
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsAreServedOnTheirOwnListener(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := free.Addr().String()
	free.Close()
	_, stop := startServe(t, map[string]string{
		"KEYCARD_ADDR":         "127.0.0.1:0",
		"KEYCARD_METRICS_ADDR": metricsAddr,
		"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db"),
	})
	defer stop()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "keycard_password_hash_queue") {
		t.Fatalf("metrics: %d %.200s", resp.StatusCode, body)
	}
}
