package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keycard/keycard/requestlog"
	"github.com/keycard/keycard/store/storetest"
)

// freshRedis empties the test Redis database (storetest.RedisEnv) so
// buckets from earlier tests do not count, and returns its URL. It skips t
// under -short or without the variable (and fails it under CI). Tests that
// use it share that one database: they must not run in parallel.
func freshRedis(t testing.TB) string {
	t.Helper()
	url := storetest.RedisURL(t)
	flushRedis(t, url)
	return url
}

func flushRedis(t testing.TB, url string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", storetest.RedisEnv, err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	if err := client.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush test Redis: %v", err)
	}
}

// envOf is the environment opts give a server.
func envOf(opts []serverOption) map[string]string {
	s := &server{env: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	return s.env
}

// eachLimiter runs fn once per rate-limit backend: in memory, and Redis
// (skipped under -short). Limits are decided before storage, so one
// database, SQLite, is enough. opts apply to every server started. Not in
// parallel: the Redis subtests share the test Redis database.
func eachLimiter(t *testing.T, fn func(t *testing.T, dbURL string, opts []serverOption), opts ...serverOption) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		fn(t, storetest.SQLiteURL(t), opts)
	})
	t.Run("redis", func(t *testing.T) {
		url := freshRedis(t)
		fn(t, storetest.SQLiteURL(t), append(append([]serverOption{}, opts...), withEnv("KEYCARD_REDIS_URL", url)))
	})
}

// unique makes a username no other test (or earlier run sharing Redis)
// has used.
func unique(prefix string) string {
	return prefix + "_" + strings.ReplaceAll(requestlog.NewID()[:10], "-", "")
}

// aliasedLogins is one document with n aliased login mutations.
func aliasedLogins(n int, username, password string) string {
	var b strings.Builder
	b.WriteString("mutation {")
	for i := range n {
		fmt.Fprintf(&b, " a%d: login(input: {username: %q, password: %q}) { accessToken }", i, username, password)
	}
	b.WriteString(" }")
	return b.String()
}

// codesByPath maps each error's first path element to its code.
func codesByPath(resp *response) map[string]string {
	codes := map[string]string{}
	for _, e := range resp.Errors {
		if len(e.Path) > 0 {
			code, _ := e.Extensions["code"].(string)
			codes[fmt.Sprint(e.Path[0])] = code
		}
	}
	return codes
}

func TestAliasedLoginsAreSeparateAttempts(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		name := unique("victim")
		s.register(t, name, "open-sesame-42")
		hashesBefore := s.app.Service().Stats().PasswordHashes

		resp := s.gql(t, "", aliasedLogins(50, name, "wrong-guess-1"), nil)
		codes := codesByPath(resp)
		if len(codes) != 50 {
			t.Fatalf("want 50 errors, got %d: %s", len(codes), resp.Body)
		}
		// The default limit of one address on one account: 10.
		limited := 0
		for i := range 50 {
			code := codes[fmt.Sprintf("a%d", i)]
			switch {
			case i < 10 && code != "UNAUTHENTICATED":
				t.Fatalf("attempt %d: %s", i, code)
			case i >= 10 && code != "RATE_LIMITED":
				t.Fatalf("attempt %d: %s, want RATE_LIMITED", i, code)
			case code == "RATE_LIMITED":
				limited++
			}
		}
		for _, e := range resp.Errors {
			if e.Extensions["code"] == "RATE_LIMITED" {
				retry, ok := e.Extensions["retryAfter"].(float64)
				if !ok || retry < 1 || retry != float64(int(retry)) {
					t.Fatalf("retryAfter = %v: want whole seconds ≥ 1", e.Extensions["retryAfter"])
				}
			}
		}
		// Over the limit no password hash is computed.
		if got := s.app.Service().Stats().PasswordHashes - hashesBefore; got != 10 {
			t.Fatalf("%d hashes computed for 10 admitted attempts", got)
		}
		// The right password from that address does not get through its
		// exhausted bucket.
		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": name, "password": "open-sesame-42"}}), "RATE_LIMITED")
		// Another user is not affected.
		other := unique("bystander")
		s.register(t, other, "open-sesame-42")
		s.login(t, other, "open-sesame-42")
	})
}

func TestBatchedOperationsAreSeparateAttempts(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		name := unique("batched")
		s.register(t, name, "open-sesame-42")
		batch := make([]map[string]any, 10)
		for i := range batch {
			batch[i] = map[string]any{"query": loginMutation, "variables": map[string]any{"input": map[string]any{"username": name, "password": "wrong-guess-1"}}}
		}
		results := s.batch(t, batch)
		var codes []string
		for _, r := range results {
			codes = append(codes, r.code())
		}
		want := strings.Split(strings.Repeat("UNAUTHENTICATED,", 5)+strings.Repeat("RATE_LIMITED,", 5), ",")[:10]
		if strings.Join(codes, ",") != strings.Join(want, ",") {
			t.Fatalf("batch codes: %v", codes)
		}
	}, withEnv("KEYCARD_RATE_LIMITS", "login.username_ip=5/1m"))
}

// batch posts a JSON array of operations and decodes the array answer.
func (s *server) batch(t testing.TB, ops []map[string]any) []*response {
	t.Helper()
	body, _ := json.Marshal(ops)
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("batch answer is not an array (status %d): %v", resp.StatusCode, err)
	}
	out := make([]*response, len(raw))
	for i, item := range raw {
		out[i] = &response{Status: resp.StatusCode, Header: resp.Header, Body: string(item)}
		if err := json.Unmarshal(item, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// A RATE_LIMITED answer carries Retry-After beside extensions.retryAfter,
// for retry links and proxies that read the header; a batch says how long
// its slowest limit lasts. Limits are decided before storage: run once.
func TestRateLimitedAnswersCarryRetryAfter(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_RATE_LIMITS", "login.username=1/1m"))
	wrongLogin := func(name string) map[string]any {
		return map[string]any{"input": map[string]any{"username": name, "password": "wrong-guess-1"}}
	}
	retryAfter := func(r *response) int {
		t.Helper()
		if r.code() != "RATE_LIMITED" {
			t.Fatalf("want RATE_LIMITED: %s", r.Body)
		}
		seconds, ok := r.Errors[0].Extensions["retryAfter"].(float64)
		if !ok || seconds < 1 {
			t.Fatalf("extensions.retryAfter = %v", r.Errors[0].Extensions["retryAfter"])
		}
		return int(seconds)
	}
	early, late, unlimited := unique("early"), unique("late"), unique("unlimited")
	// One failed login uses up a name's bucket: early's now, late's 40 s on.
	expectCode(t, s.gql(t, "", loginMutation, wrongLogin(early)), "UNAUTHENTICATED")
	s.clock.Advance(40 * time.Second)
	failed := s.gql(t, "", loginMutation, wrongLogin(late))
	expectCode(t, failed, "UNAUTHENTICATED")
	if got := failed.Header.Values("Retry-After"); len(got) != 0 {
		t.Fatalf("Retry-After %q on an answer that is not rate-limited", got)
	}

	limited := s.gql(t, "", loginMutation, wrongLogin(early))
	seconds := retryAfter(limited)
	if got := limited.Header.Get("Retry-After"); got != strconv.Itoa(seconds) {
		t.Fatalf("Retry-After %q, extensions.retryAfter %d", got, seconds)
	}

	batch := s.batch(t, []map[string]any{
		{"query": loginMutation, "variables": wrongLogin(early)},
		{"query": loginMutation, "variables": wrongLogin(late)},
		{"query": loginMutation, "variables": wrongLogin(unlimited)},
	})
	earlyWait, lateWait := retryAfter(batch[0]), retryAfter(batch[1])
	expectCode(t, batch[2], "UNAUTHENTICATED")
	if earlyWait >= lateWait {
		t.Fatalf("early waits %d s, late %d s: the buckets were not used up 40 s apart", earlyWait, lateWait)
	}
	if got := batch[0].Header.Get("Retry-After"); got != strconv.Itoa(lateWait) {
		t.Fatalf("batch Retry-After %q, want the longest wait %d", got, lateWait)
	}
}

func TestSuccessfulAttemptsDoNotUseUpTheLimit(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		name := unique("regular")
		reg := s.register(t, name, "open-sesame-42")
		token := reg.refresh()
		for range 8 {
			s.login(t, name, "open-sesame-42")
			var next authPayload
			resp := s.refresh(t, token)
			expectOK(t, resp)
			resp.into(t, "refresh", &next)
			token = next.refresh()
		}
		// Failed refreshes do count.
		expectCode(t, s.refresh(t, "kcr_bogus"), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, "kcr_bogus"), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, "kcr_bogus"), "RATE_LIMITED")
	}, withEnv("KEYCARD_RATE_LIMITS", "login.username=3/1m,login.username_ip=3/1m,refresh.ip=2/1m"))
}

func TestChangePasswordIsRateLimitedPerUser(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		reg := s.register(t, unique("changer"), "open-sesame-42")
		wrong := map[string]any{"current": "not-my-password", "next": "brand-new-passphrase"}
		expectCode(t, s.gql(t, reg.AccessToken, changePasswordMutation, wrong), "BAD_USER_INPUT")
		expectCode(t, s.gql(t, reg.AccessToken, changePasswordMutation, wrong), "BAD_USER_INPUT")
		expectCode(t, s.gql(t, reg.AccessToken, changePasswordMutation, wrong), "RATE_LIMITED")
		expectCode(t, s.gql(t, reg.AccessToken, changePasswordMutation, map[string]any{"current": "open-sesame-42", "next": "brand-new-passphrase"}), "RATE_LIMITED")
	}, withEnv("KEYCARD_RATE_LIMITS", "changePassword.user=2/1m"))
}

func TestPerIPLimitsUseForwardedForOnlyFromTrustedProxies(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		registerFrom := func(s *server, forwardedFor string) *response {
			return s.do(t, request{Query: registerMutation,
				Variables: map[string]any{"input": map[string]any{"username": unique("ip"), "password": "open-sesame-42"}},
				header:    http.Header{"X-Forwarded-For": {forwardedFor}}})
		}
		t.Run("trusted proxy", func(t *testing.T) {
			s := startServer(t, dbURL, append(opts, withEnv("KEYCARD_TRUSTED_PROXIES", "127.0.0.1/32"))...)
			first, second := "198.51.100.10", "203.0.113.10"
			resp := registerFrom(s, "10.9.8.7, "+first) // the left entry is the client's own claim: ignored
			expectOK(t, resp)
			var p authPayload
			resp.into(t, "register", &p)
			if list := s.sessions(t, p.AccessToken); list[0].IP != first {
				t.Fatalf("session ip = %q, want %q", list[0].IP, first)
			}
			expectOK(t, registerFrom(s, first))
			expectCode(t, registerFrom(s, first), "RATE_LIMITED")
			expectOK(t, registerFrom(s, second))
		})
		t.Run("untrusted peer", func(t *testing.T) {
			// Empty buckets, as a new server's memory backend has.
			if url := envOf(opts)["KEYCARD_REDIS_URL"]; url != "" {
				flushRedis(t, url)
			}
			s := startServer(t, dbURL, opts...)
			s.register(t, unique("peer"), "open-sesame-42")
			s.register(t, unique("peer"), "open-sesame-42")
			// Forged X-Forwarded-For from a peer that is no proxy changes nothing.
			expectCode(t, registerFrom(s, "192.0.2.1"), "RATE_LIMITED")
		})
	}, withEnv("KEYCARD_RATE_LIMITS", "register.ip=2/1m"))
}

// A loopback peer is limited like any other: behind a proxy on the same
// host, the proxy is trusted and its clients count on their own; nothing
// is exempt by default.
func TestLoopbackClientsAreLimitedPerIP(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		s := startServer(t, dbURL, opts...)
		s.register(t, unique("local"), "open-sesame-42")
		resp := s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": unique("local"), "password": "open-sesame-42"}})
		expectCode(t, resp, "RATE_LIMITED")
	}, withEnv("KEYCARD_RATE_LIMITS", "register.ip=1/1m"))
}

// Two instances on one database count against the same Redis buckets. Not
// in parallel: it shares the test Redis database.
func TestRateLimitsAreSharedThroughRedis(t *testing.T) {
	url := freshRedis(t)
	dbURL := storetest.SQLiteURL(t)
	opts := []serverOption{withEnv("KEYCARD_REDIS_URL", url), withEnv("KEYCARD_RATE_LIMITS", "login.username_ip=3/1m")}
	a := startServer(t, dbURL, opts...)
	b := startServer(t, dbURL, opts...)
	name := unique("shared")
	a.register(t, name, "open-sesame-42")
	bad := map[string]any{"input": map[string]any{"username": name, "password": "wrong-guess-1"}}
	expectCode(t, a.gql(t, "", loginMutation, bad), "UNAUTHENTICATED")
	expectCode(t, b.gql(t, "", loginMutation, bad), "UNAUTHENTICATED")
	expectCode(t, a.gql(t, "", loginMutation, bad), "UNAUTHENTICATED")
	expectCode(t, b.gql(t, "", loginMutation, bad), "RATE_LIMITED")
	expectCode(t, a.gql(t, "", loginMutation, bad), "RATE_LIMITED")
}

func TestRateLimitsCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_RATE_LIMITS", "off"))
	name := unique("unlimited")
	s.register(t, name, "open-sesame-42")
	resp := s.gql(t, "", aliasedLogins(25, name, "wrong-guess-1"), nil)
	for path, code := range codesByPath(resp) {
		if code != "UNAUTHENTICATED" {
			t.Fatalf("%s: %s", path, code)
		}
	}
}

// aliasedRefreshes is one document with n aliased refresh mutations that
// present no token.
func aliasedRefreshes(n int) string {
	var b strings.Builder
	b.WriteString("mutation {")
	for i := range n {
		fmt.Fprintf(&b, " r%d: refresh { accessToken }", i)
	}
	b.WriteString(" }")
	return b.String()
}

// Every signed-out page load of a cookie-mode frontend asks refresh whether
// it has a session, with no cookie to send. Such calls are answered at once
// and cost nothing: no rate-limit token, no database statement; so a crowd
// of signed-out visitors behind one address never limits that address's
// real refreshes.
func TestRefreshWithoutATokenCostsNothing(t *testing.T) {
	for _, mode := range []string{"bearer", "cookie"} {
		t.Run(mode, func(t *testing.T) {
			eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
				var statements atomic.Int64
				// Statements of requests only: the revocation sync and the
				// audit writer run beside them on their own.
				s := startServerWith(t, dbURL, func(ctx context.Context, _ string) {
					if requestlog.ID(ctx) != "" {
						statements.Add(1)
					}
				},
					append(opts, withEnv("KEYCARD_REFRESH_COOKIE", map[string]string{"bearer": "off", "cookie": "on"}[mode]))...)
				reg := s.register(t, unique("returning"), "open-sesame-42")
				before := statements.Load()
				for range 20 {
					resp := s.gql(t, "", aliasedRefreshes(50), nil)
					codes := codesByPath(resp)
					if len(codes) != 50 {
						t.Fatalf("%d answers to 50 refreshes: %s", len(codes), resp.Body)
					}
					for path, code := range codes {
						if code != "UNAUTHENTICATED" {
							t.Fatalf("%s: %s, want UNAUTHENTICATED", path, code)
						}
					}
					if cookies := resp.Header.Values("Set-Cookie"); len(cookies) > 0 {
						t.Fatalf("no cookie was sent, yet one is cleared: %q", cookies)
					}
				}
				if n := statements.Load() - before; n != 0 {
					t.Fatalf("1,000 refreshes without a token ran %d database statements", n)
				}
				// A real refresh from the same address still goes through.
				if mode == "bearer" {
					expectOK(t, s.refresh(t, reg.refresh()))
					return
				}
				tab := s.browser(t, "")
				expectOK(t, tab.post(registerMutation, map[string]any{"input": map[string]any{"username": unique("cookie"), "password": "open-sesame-42"}}, "", true))
				expectOK(t, tab.post(`mutation { refresh { accessToken } }`, nil, "", true))
			})
		})
	}
}
