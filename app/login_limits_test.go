package app_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/keycard/keycard/requestlog"
)

// Login limits, as auth/login_limits.go designs them: one address is held
// tightly on one account, every address together is held by a slower
// ceiling, and the ceiling never shuts the owner out of an address they
// have signed in from. These tests come through a trusted proxy so that
// X-Forwarded-For gives each request the address a test wants.

// behindProxy makes the test's loopback connections a trusted proxy.
var behindProxy = withEnv("KEYCARD_TRUSTED_PROXIES", "127.0.0.1/32")

// from sends one GraphQL operation as the client at ip.
func (s *server) from(t testing.TB, ip, query string, vars map[string]any) *response {
	t.Helper()
	return s.do(t, request{Query: query, Variables: vars, header: http.Header{"X-Forwarded-For": {ip}}})
}

func loginVars(username, password string) map[string]any {
	return map[string]any{"input": map[string]any{"username": username, "password": password}}
}

// registerFrom signs a user up from ip, which becomes an address the user
// has a session from.
func (s *server) registerFrom(t testing.TB, ip, username, password string) {
	t.Helper()
	expectOK(t, s.from(t, ip, registerMutation, loginVars(username, password)))
}

// guessFrom sends n aliased wrong logins for username from ip and counts
// the answers by code.
func (s *server) guessFrom(t testing.TB, ip, username string, n int, codes map[string]int) {
	t.Helper()
	resp := s.from(t, ip, aliasedLogins(n, username, "wrong-guess-1"), nil)
	got := codesByPath(resp)
	if len(got) != n {
		t.Fatalf("%d answers to %d guesses: %s", len(got), n, resp.Body)
	}
	for _, code := range got {
		codes[code]++
	}
}

func TestOwnerSignsInWhileManyAddressesGuess(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		owner := unique("owner")
		const home = "198.51.100.7"
		s.registerFrom(t, home, owner, "open-sesame-42")
		hashes := s.app.Service().Stats().PasswordHashes

		// 1,000 wrong guesses, 10 from each of 100 addresses: within what
		// one address may try, so only the ceiling (50 an hour) holds them.
		codes := map[string]int{}
		for i := range 100 {
			s.guessFrom(t, fmt.Sprintf("203.0.%d.%d", i/50, i%50+1), owner, 10, codes)
		}
		if codes["UNAUTHENTICATED"] != 50 || codes["RATE_LIMITED"] != 950 {
			t.Fatalf("answers to 1,000 distributed guesses: %v, want 50 checked and 950 refused by the ceiling", codes)
		}
		if got := s.app.Service().Stats().PasswordHashes - hashes; got != 50 {
			t.Fatalf("%d passwords hashed for 50 admitted guesses", got)
		}

		// The owner, from home, still gets in; a wrong password there is
		// still just wrong.
		expectCode(t, s.from(t, home, loginMutation, loginVars(owner, "typo-sesame-42")), "UNAUTHENTICATED")
		expectOK(t, s.from(t, home, loginMutation, loginVars(owner, "open-sesame-42")))
		// From an address the account has no session from, even the right
		// password waits for the ceiling: that is where the guessers are.
		resp := s.from(t, "192.0.2.200", loginMutation, loginVars(owner, "open-sesame-42"))
		expectCode(t, resp, "RATE_LIMITED")
		if retry, _ := resp.Errors[0].Extensions["retryAfter"].(float64); retry < 1 {
			t.Fatalf("retryAfter = %v", resp.Errors[0].Extensions["retryAfter"])
		}
		// Other accounts are untouched.
		bystander := unique("bystander")
		s.registerFrom(t, "192.0.2.201", bystander, "open-sesame-42")
		expectOK(t, s.from(t, "192.0.2.202", loginMutation, loginVars(bystander, "open-sesame-42")))
	}, behindProxy)
}

func TestOneAddressIsLimitedOnOneAccount(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		owner, other := unique("target"), unique("other")
		s.registerFrom(t, "198.51.100.8", owner, "open-sesame-42")
		s.registerFrom(t, "198.51.100.9", other, "open-sesame-42")
		const attacker = "203.0.113.66"
		codes := map[string]int{}
		s.guessFrom(t, attacker, owner, 12, codes)
		if codes["UNAUTHENTICATED"] != 10 || codes["RATE_LIMITED"] != 2 {
			t.Fatalf("12 guesses from one address: %v, want 10 checked, 2 refused", codes)
		}
		// The guesser's bucket is its own: the owner signs in from home,
		// and even from a new address (the ceiling is far from reached).
		expectOK(t, s.from(t, "198.51.100.8", loginMutation, loginVars(owner, "open-sesame-42")))
		expectOK(t, s.from(t, "192.0.2.44", loginMutation, loginVars(owner, "open-sesame-42")))
		// The same address may still try another account.
		expectCode(t, s.from(t, attacker, loginMutation, loginVars(other, "wrong-guess-1")), "UNAUTHENTICATED")
	}, behindProxy)
}

func TestDistributedGuesserHitsTheCeiling(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		owner := unique("ceiling")
		s.registerFrom(t, "198.51.100.10", owner, "open-sesame-42")
		nobody := unique("nobody") // a possible name no account has
		for _, name := range []string{owner, nobody} {
			codes := map[string]int{}
			for i := range 4 {
				s.guessFrom(t, fmt.Sprintf("203.0.113.%d", 100+i), name, 2, codes)
			}
			if codes["UNAUTHENTICATED"] != 5 || codes["RATE_LIMITED"] != 3 {
				t.Fatalf("%s: 8 guesses from 4 addresses under a ceiling of 5: %v", name, codes)
			}
		}
	}, behindProxy, withEnv("KEYCARD_RATE_LIMITS", "login.username=5/1h"))
}

// Past the ceiling, a refused login does the same work whether or not the
// account exists: the same statements, no password hash; so neither the
// answer nor its timing tells which names have accounts.
func TestLoginPastTheCeilingDoesNotRevealWhetherTheUserExists(t *testing.T) {
	storetestEach(t, func(t *testing.T, dbURL string) {
		var statements atomic.Int64
		var counting atomic.Bool
		// Statements of requests only: the revocation sync and the audit
		// writer run beside them on their own.
		s := startServerWith(t, dbURL, func(ctx context.Context, _ string) {
			if counting.Load() && requestlog.ID(ctx) != "" {
				statements.Add(1)
			}
		}, behindProxy, withEnv("KEYCARD_RATE_LIMITS", "login.username=1/1h"))
		owner, nobody := unique("exists"), unique("absent")
		s.registerFrom(t, "198.51.100.11", owner, "open-sesame-42")
		work := map[string][2]int64{}
		for _, name := range []string{owner, nobody} {
			expectCode(t, s.from(t, "203.0.113.1", loginMutation, loginVars(name, "wrong-guess-1")), "UNAUTHENTICATED")
			hashes := s.app.Service().Stats().PasswordHashes
			statements.Store(0)
			counting.Store(true)
			expectCode(t, s.from(t, "203.0.113.2", loginMutation, loginVars(name, "open-sesame-42")), "RATE_LIMITED")
			counting.Store(false)
			work[name] = [2]int64{statements.Load(), s.app.Service().Stats().PasswordHashes - hashes}
		}
		if work[owner] != work[nobody] || work[owner][0] == 0 || work[owner][1] != 0 {
			t.Fatalf("refused past the ceiling, [statements, hashes]: existing user %v, unknown user %v", work[owner], work[nobody])
		}
	})
}

// Per-address limits count an IPv6 client by its /64 (configurable), ignore
// zone ids, and count an IPv4-mapped address as the IPv4 address.
func TestPerAddressLimitsGroupIPv6ByPrefix(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		register := func(s *server, ip string) *response {
			t.Helper()
			return s.from(t, ip, registerMutation, loginVars(unique("v6"), "open-sesame-42"))
		}
		t.Run("default /64", func(t *testing.T) {
			s := startServer(t, dbURL, opts...)
			expectOK(t, register(s, "2001:db8:1:2::1"))
			expectCode(t, register(s, "2001:db8:1:2:ffff:ffff:ffff:fffe"), "RATE_LIMITED")
			expectOK(t, register(s, "2001:db8:1:3::1"))
		})
		t.Run("configured /128, zones ignored", func(t *testing.T) {
			s := startServer(t, dbURL, append(opts, withEnv("KEYCARD_RATE_LIMIT_IPV6_PREFIX", "128"))...)
			expectOK(t, register(s, "2001:db8:4:2::1"))
			expectOK(t, register(s, "2001:db8:4:2::2"))
			resp := register(s, "2001:db8:9::1%eth0")
			expectOK(t, resp)
			var p authPayload
			resp.into(t, "register", &p)
			if ip := s.sessions(t, p.AccessToken)[0].IP; ip != "2001:db8:9::1" {
				t.Fatalf("session ip = %q, want it without the zone", ip)
			}
			expectCode(t, register(s, "2001:db8:9::1%eth1"), "RATE_LIMITED")
		})
		t.Run("IPv4-mapped", func(t *testing.T) {
			s := startServer(t, dbURL, opts...)
			resp := register(s, "::ffff:198.51.100.20")
			expectOK(t, resp)
			var p authPayload
			resp.into(t, "register", &p)
			if ip := s.sessions(t, p.AccessToken)[0].IP; ip != "198.51.100.20" {
				t.Fatalf("session ip = %q, want the IPv4 address", ip)
			}
			expectCode(t, register(s, "198.51.100.20"), "RATE_LIMITED")
		})
	}, behindProxy, withEnv("KEYCARD_RATE_LIMITS", "register.ip=1/1m"))
}

// The owner's known address is matched by prefix too: a client whose
// privacy address changed within the /64 is still at home.
func TestKnownAddressesMatchByIPv6Prefix(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		owner := unique("v6owner")
		s.registerFrom(t, "2001:db8:77:1::a", owner, "open-sesame-42")
		expectCode(t, s.from(t, "203.0.113.9", loginMutation, loginVars(owner, "wrong-guess-1")), "UNAUTHENTICATED")
		expectCode(t, s.from(t, "203.0.113.9", loginMutation, loginVars(owner, "wrong-guess-1")), "RATE_LIMITED")
		expectOK(t, s.from(t, "2001:db8:77:1:1234:5678:9abc:def0", loginMutation, loginVars(owner, "open-sesame-42")))
		expectCode(t, s.from(t, "2001:db8:77:2::a", loginMutation, loginVars(owner, "open-sesame-42")), "RATE_LIMITED")
	}, behindProxy, withEnv("KEYCARD_RATE_LIMITS", "login.username=1/1h"))
}
