package app

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/keycard/keycard/auth"
)

// clientAddresses tells where a request comes from, for sessions, audit and
// rate limits: the peer, unless the peer is a trusted proxy, and then the
// client that proxy forwards for (X-Forwarded-For). It warns, once per peer,
// about the two ways a deployment gets this wrong without noticing: a
// proxy that sends forwarding headers but is not trusted (all its clients
// count as the proxy), and a trusted proxy that forwards no usable client
// address.
type clientAddresses struct {
	trusted []netip.Prefix
	log     *slog.Logger
	// untrusted holds the peers warned about for sending forwarding
	// headers, unusable the trusted proxies warned about for a missing or
	// unparseable X-Forwarded-For hop.
	untrusted, unusable peerSet
}

func newClientAddresses(trusted []netip.Prefix, log *slog.Logger) *clientAddresses {
	return &clientAddresses{trusted: trusted, log: log}
}

// middleware puts the caller's auth.Client into each request's context.
func (c *clientAddresses) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := auth.Client{IP: c.clientIP(r), UserAgent: r.UserAgent()}
		next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), client)))
	})
}

// forwardingHeaders are the headers proxies name the client in. keycard
// reads X-Forwarded-For only, and only from trusted proxies; from anyone
// else any of them is ignored and noted.
var forwardingHeaders = []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// clientIP is the peer's address, unless the peer is a trusted proxy: then
// X-Forwarded-For is read from the right (the entries the trusted proxies
// appended) and the first untrusted hop is the client. Entries left of it
// are whatever the client chose to send and are ignored.
//
// A trusted proxy that sends no X-Forwarded-For, or whose hop cannot be
// parsed, leaves the client unknown. The request is then attributed to the
// nearest trusted hop (the proxy itself), so it is limited as that one
// client, never unlimited, and a WARN says so once per proxy: every client
// behind it shares that bucket until the proxy is fixed.
func (c *clientAddresses) clientIP(r *http.Request) string {
	addr, ok := peerAddr(r)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	if !isTrusted(addr, c.trusted) {
		for _, header := range forwardingHeaders {
			if r.Header.Get(header) != "" {
				c.warnOnce(&c.untrusted, addr, "a peer that is not a trusted proxy sent a forwarding header; it is ignored and the peer counts as the client (if the peer is your proxy, list it in KEYCARD_TRUSTED_PROXIES)", "header", header)
				break
			}
		}
		return addr.String()
	}
	list := r.Header.Values("X-Forwarded-For")
	if len(list) == 0 {
		c.warnOnce(&c.unusable, addr, "a trusted proxy sent no X-Forwarded-For; its requests count as one client, the proxy (configure it to append the client address to X-Forwarded-For)", "path", r.URL.Path)
		return addr.String()
	}
	hops := strings.Split(strings.Join(list, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			// Garbage: nothing further left can be trusted either.
			c.warnOnce(&c.unusable, addr, "a trusted proxy sent an X-Forwarded-For hop that is not an address; such requests count as coming from the nearest trusted hop", "hop_index", i)
			return addr.String()
		}
		if !isTrusted(hop, c.trusted) {
			return hop.String()
		}
		addr = hop
	}
	// Every hop is a trusted proxy: the request started at one of them.
	return addr.String()
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with
// a port as some proxies write it (198.51.100.7:4711, [2001:db8::1]:443).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	addr, err := netip.ParseAddr(s)
	if err != nil {
		addrPort, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = addrPort.Addr()
	}
	return addr.Unmap().WithZone(""), true
}

// peerAddr is the address of the connection's other end, IPv4-mapped IPv6
// as IPv4 and without a zone (a zone names the local interface, not the
// client, and would stop trusted prefixes from matching).
func peerAddr(r *http.Request) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return peer.Addr().Unmap().WithZone(""), true
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// warnOnce logs msg at WARN the first time peer is seen in set.
func (c *clientAddresses) warnOnce(set *peerSet, peer netip.Addr, msg string, attrs ...any) {
	first, full := set.add(peer)
	if !first {
		return
	}
	c.log.Warn(msg, append([]any{"peer", peer.String()}, attrs...)...)
	if full {
		c.log.Warn("further peers are not warned about: too many distinct peers", "peers", maxWarnedPeers)
	}
}

// maxWarnedPeers bounds the peers a peerSet remembers: any client on the
// internet may send X-Forwarded-For, and remembering each forever would let
// a flood of addresses grow memory without end.
const maxWarnedPeers = 1024

// peerSet remembers peers already warned about, up to maxWarnedPeers;
// once full it admits no more, so each peer is logged at most once and the
// log and memory stay bounded.
type peerSet struct {
	mu   sync.Mutex
	seen map[netip.Addr]struct{}
}

// add reports whether peer is new (and there was room for it), and whether
// it was the one that filled the set.
func (p *peerSet) add(peer netip.Addr) (first, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = make(map[netip.Addr]struct{})
	}
	if _, seen := p.seen[peer]; seen || len(p.seen) >= maxWarnedPeers {
		return false, false
	}
	p.seen[peer] = struct{}{}
	return true, len(p.seen) == maxWarnedPeers
}
