package app_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards TCP connections to a target and lets a test take the
// target away: Cut closes the listener and every forwarded connection, as a
// database host that vanished from the network would look to keycard
// (established connections reset, new ones refused); Restore listens again
// on the same port.
type tcpProxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	// generation changes at every Cut, so a connection accepted just
	// before a cut is not forwarded after it.
	generation int
	// stalled holds every byte in flight (see Stall); flow wakes the
	// pipes when that ends or a Cut closes them.
	stalled bool
	flow    *sync.Cond
	// done counts the accept loops and copy goroutines, so the test ends
	// with none left behind.
	done sync.WaitGroup
}

// startTCPProxy listens on a free loopback port and forwards to target. The
// proxy is shut down, and waited for, when the test ends.
func startTCPProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.flow = sync.NewCond(&p.mu)
	p.serve(ln)
	t.Cleanup(func() {
		p.Cut()
		p.done.Wait()
	})
	return p
}

// Addr is the proxy's host:port; it stays the same across Cut and Restore.
func (p *tcpProxy) Addr() string { return p.addr }

// Stall keeps connections open but forwards nothing, new connections
// included: a database host that stopped answering without resetting
// anything (frozen, or behind a partition that drops packets).
func (p *tcpProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// Cut closes the listener and every open connection, and ends a Stall.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.generation++
	p.stalled = false
	p.flow.Broadcast()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore listens again on the same port.
func (p *tcpProxy) Restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; a few retries cover a slow release.
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	generation := p.generation
	p.mu.Unlock()
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.done.Add(1)
			go func() {
				defer p.done.Done()
				p.forward(client, generation)
			}()
		}
	}()
}

// forward pipes one client connection to a fresh connection to the target
// until either side closes or Cut closes both.
func (p *tcpProxy) forward(client net.Conn, generation int) {
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(generation, client, upstream) {
		return
	}
	var pipes sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer pipes.Done()
		// Errors are expected here: Cut closes connections mid-copy.
		_, _ = io.Copy(dst, stallingReader{p, src})
		// One direction ending ends the connection, as with a real peer.
		dst.Close()
		src.Close()
	}
	pipes.Add(2)
	go pipe(upstream, client)
	go pipe(client, upstream)
	pipes.Wait()
	p.untrack(client, upstream)
}

// track registers the pair for Cut, unless a Cut happened since it was
// accepted: then it closes both and reports false.
func (p *tcpProxy) track(generation int, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if generation != p.generation {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// stallingReader holds what it read while the proxy is stalled.
type stallingReader struct {
	p   *tcpProxy
	src io.Reader
}

func (r stallingReader) Read(b []byte) (int, error) {
	n, err := r.src.Read(b)
	r.p.mu.Lock()
	for r.p.stalled {
		r.p.flow.Wait()
	}
	r.p.mu.Unlock()
	return n, err
}
