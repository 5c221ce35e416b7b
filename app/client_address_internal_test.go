package app

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// Any client may send X-Forwarded-For, so the peers remembered for
// warn-once must not grow without bound: past maxWarnedPeers nobody more is
// remembered or logged, and the log says so once.
func TestForwardingWarningsStayBounded(t *testing.T) {
	var logs strings.Builder
	c := newClientAddresses(nil, slog.New(slog.NewTextHandler(&logs, nil)))
	for i := range 3 * maxWarnedPeers {
		r := httptest.NewRequest("GET", "/graphql", nil)
		r.RemoteAddr = fmt.Sprintf("[2001:db8::%x]:4711", i)
		r.Header.Set("X-Forwarded-For", "192.0.2.1")
		if got := c.clientIP(r); got != netip.MustParseAddrPort(r.RemoteAddr).Addr().String() {
			t.Fatalf("client ip %q for peer %s", got, r.RemoteAddr)
		}
	}
	if n := len(c.untrusted.seen); n != maxWarnedPeers {
		t.Fatalf("%d peers remembered, want %d", n, maxWarnedPeers)
	}
	lines := strings.Count(logs.String(), "\n")
	if lines != maxWarnedPeers+1 || !strings.Contains(logs.String(), "further peers are not warned about") {
		t.Fatalf("%d log lines, want one per remembered peer and one saying the rest are not logged", lines)
	}
}

func TestClientIPReadsForwardedForFromTheRight(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/10")}
	c := newClientAddresses(trusted, slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		name, peer, forwardedFor, want string
	}{
		{"untrusted peer", "198.51.100.1:1", "203.0.113.5", "198.51.100.1"},
		{"one proxy", "10.0.0.1:1", "203.0.113.5", "203.0.113.5"},
		{"client's own claim ignored", "10.0.0.1:1", "192.0.2.66, 203.0.113.5", "203.0.113.5"},
		{"two proxies", "10.0.0.1:1", "203.0.113.5, 10.0.0.2", "203.0.113.5"},
		{"hop with port", "10.0.0.1:1", "203.0.113.5:4711", "203.0.113.5"},
		{"IPv6 hop with port", "10.0.0.1:1", "[2001:db8::5]:443", "2001:db8::5"},
		{"IPv4-mapped hop", "10.0.0.1:1", "::ffff:203.0.113.5", "203.0.113.5"},
		{"zone dropped", "10.0.0.1:1", "2001:db8::5%eth0", "2001:db8::5"},
		{"garbage hop: nearest trusted hop", "10.0.0.1:1", "203.0.113.5, junk, 10.0.0.2", "10.0.0.2"},
		{"only proxies: the first of them", "10.0.0.1:1", "10.0.0.3, 10.0.0.2", "10.0.0.3"},
		{"missing: the proxy", "10.0.0.1:1", "", "10.0.0.1"},
		{"link-local proxy with a zone is trusted", "[fe80::1%eth0]:1", "203.0.113.5", "203.0.113.5"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.1]:1", "", "198.51.100.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/graphql", nil)
			r.RemoteAddr = tt.peer
			if tt.forwardedFor != "" {
				r.Header.Set("X-Forwarded-For", tt.forwardedFor)
			}
			if got := c.clientIP(r); got != tt.want {
				t.Fatalf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
