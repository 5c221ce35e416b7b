package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/keycard/keycard/store/storetest"
)

// These tests take the database away from a running keycard: on MySQL by
// cutting the network between them (a TCP proxy the test controls), on
// SQLite by another connection holding the write lock past busy_timeout.
// While it is gone, every answer is a success or UNAVAILABLE with HTTP 503;
// once it is back, keycard recovers without a restart and no register it
// acknowledged is lost.

// eachDBInTurn runs a fault test once per database, one database after the
// other and never in parallel with another test: the tests count the
// process's goroutines, hold answers to wall-clock bounds, and re-listen on
// a port they just closed. They take seconds each, so -short leaves them out.
func eachDBInTurn(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection does not run under -short")
	}
	storetest.EachInTurn(t, func(t *testing.T, db storetest.Database) { fn(t, db.URL(t)) })
}

// faultEnv keeps the test about the outage: revocation state syncs often
// (the injected clock never makes it stale by itself), rate limits, which
// random logins of earlier users could trip, are off, and a database call
// may take faultDatabaseTimeout at most.
var faultEnv = []serverOption{
	withEnv("KEYCARD_REVOCATION_SYNC_INTERVAL", "100ms"),
	withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "500ms"),
	withEnv("KEYCARD_RATE_LIMITS", "off"),
	withEnv("KEYCARD_DATABASE_TIMEOUT", faultDatabaseTimeout.String()),
}

// faultDatabaseTimeout is KEYCARD_DATABASE_TIMEOUT in the outage tests.
const faultDatabaseTimeout = 2 * time.Second

// outage takes keycard's database away (begin) and gives it back (end).
type outage struct {
	begin, end func()
	// unreachable: the database cannot be reached at all (MySQL), so
	// /readyz answers 503 and requests pour UNAVAILABLE. A held SQLite
	// write lock leaves reads and pings working, and the single writer
	// connection lets only one write at a time wait out busy_timeout.
	unreachable bool
	// stall and unstall make the database stop answering without
	// refusing anything, and end that; answerBound is how long a request
	// may then take to answer UNAVAILABLE.
	stall, unstall func()
	answerBound    time.Duration
}

// startServerWithOutage starts keycard (through startServer, so every
// response is leak-checked) on dbURL with a way to take its database away.
func startServerWithOutage(t *testing.T, dbURL string, opts ...serverOption) (*server, outage) {
	t.Helper()
	opts = append(append([]serverOption{}, faultEnv...), opts...)
	switch storetest.Dialect(dbURL) {
	case "mysql":
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		target := u.Host
		if u.Port() == "" {
			target = net.JoinHostPort(u.Hostname(), "3306")
		}
		proxy := startTCPProxy(t, target)
		u.Host = proxy.Addr()
		s := startServer(t, u.String(), opts...)
		return s, outage{
			begin: proxy.Cut, end: proxy.Restore, unreachable: true,
			stall: proxy.Stall, unstall: func() { proxy.Cut(); proxy.Restore() },
			// KEYCARD_DATABASE_TIMEOUT bounds every database call; a
			// second covers the work around it.
			answerBound: faultDatabaseTimeout + time.Second,
		}
	default:
		path := strings.TrimPrefix(dbURL, "sqlite:")
		s := startServer(t, dbURL+"?busy_timeout="+strconv.Itoa(int(sqliteBusyTimeout/time.Millisecond)), opts...)
		return s, sqliteLockOutage(t, path)
	}
}

// sqliteBusyTimeout is the busy_timeout of the outage tests' SQLite URLs.
const sqliteBusyTimeout = 200 * time.Millisecond

// sqliteLockOutage is the SQLite analogue of a database gone away: a second
// connection holds the write lock, so keycard's writes wait out busy_timeout
// and fail with SQLITE_BUSY.
func sqliteLockOutage(t *testing.T, path string) outage {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// One connection: BEGIN and ROLLBACK must run on the same one.
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	exec := func(statement string) {
		t.Helper()
		if _, err := conn.ExecContext(context.Background(), statement); err != nil {
			t.Fatalf("%s: %v", statement, err)
		}
	}
	lock, unlock := func() { exec("BEGIN EXCLUSIVE") }, func() { exec("ROLLBACK") }
	return outage{
		begin: lock, end: unlock,
		// A lock held by another process is how SQLite stops answering.
		stall: lock, unstall: unlock,
		// Writers queue for the one write connection, each waiting out
		// busy_timeout; KEYCARD_DATABASE_TIMEOUT bounds the wait of the
		// last in line, and a second covers the work around it.
		answerBound: faultDatabaseTimeout + time.Second,
	}
}

// faultClient is an HTTP client of its own, so the test can close its idle
// connections before counting goroutines.
func faultClient(t testing.TB) *http.Client {
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// callGraphQL is s.gql for goroutines: it reports failures instead of
// ending the test.
func callGraphQL(client *http.Client, s *server, token string, body any) (*response, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return roundTrip(client, req)
}

func roundTrip(client *http.Client, req *http.Request) (*response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &response{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") {
		return out, nil
	}
	if bytes.HasPrefix(raw, []byte("[")) {
		var batch []json.RawMessage
		if err := json.Unmarshal(raw, &batch); err != nil || len(batch) == 0 {
			return out, fmt.Errorf("batch response is not a JSON array (%d): %s", resp.StatusCode, raw)
		}
		raw = batch[0]
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return out, fmt.Errorf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return out, nil
}

// readyz answers GET /readyz's status and body.
func readyz(client *http.Client, s *server) (*response, error) {
	resp, err := client.Get(s.http.URL + "/readyz")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}, nil
}

// outcome is how a request fared while the database may be down.
type outcome int

const (
	succeeded outcome = iota
	unavailable
	broken
)

// judge classifies an answer: success, a proper UNAVAILABLE (every error
// UNAVAILABLE, status 503), or anything else, which is broken.
func judge(resp *response, err error) (outcome, string) {
	switch {
	case err != nil:
		return broken, fmt.Sprintf("no answer from keycard: %v", err)
	case resp.Status == http.StatusOK && len(resp.Errors) == 0:
		return succeeded, ""
	case len(resp.Errors) == 0:
		return broken, fmt.Sprintf("status %d without errors: %s", resp.Status, resp.Body)
	}
	for _, e := range resp.Errors {
		if e.Extensions["code"] != "UNAVAILABLE" {
			return broken, fmt.Sprintf("status %d, code %v (want success or UNAVAILABLE/503): %s", resp.Status, e.Extensions["code"], resp.Body)
		}
	}
	if resp.Status != http.StatusServiceUnavailable {
		return broken, fmt.Sprintf("UNAVAILABLE with status %d, want 503: %s", resp.Status, resp.Body)
	}
	return unavailable, ""
}

// phase is where in an outage cycle a request started.
type phase int32

const (
	phaseUp phase = iota
	phaseDown
	phaseRecovering
	phaseRecovered
	phaseCount
)

func (p phase) String() string {
	return [...]string{"before the outage", "during the outage", "while recovering", "after recovery"}[p]
}

// faultTraffic is concurrent clients registering fresh users, reading `me`
// with the new token, and logging in users registered earlier.
type faultTraffic struct {
	s      *server
	client *http.Client
	names  atomic.Int64
	phase  atomic.Int32

	mu sync.Mutex
	// acknowledged are the users whose register answered success: each
	// must be able to log in at the end, whatever happened in between.
	acknowledged []string
	problems     []string
	counts       [phaseCount][broken + 1]int

	// concurrency is how many clients run at once.
	concurrency int
	stop        chan struct{}
	running     sync.WaitGroup
}

const faultPassword = "open-sesame-42"

func newFaultTraffic(t testing.TB, s *server) *faultTraffic {
	return &faultTraffic{s: s, client: faultClient(t), concurrency: 8}
}

func (tr *faultTraffic) start() {
	tr.stop = make(chan struct{})
	for range tr.concurrency {
		tr.running.Add(1)
		go func() {
			defer tr.running.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				tr.round()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
}

// halt stops the clients and waits for them; it may be called again.
func (tr *faultTraffic) halt() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	tr.running.Wait()
}

func (tr *faultTraffic) setPhase(p phase) { tr.phase.Store(int32(p)) }

func (tr *faultTraffic) round() {
	started := phase(tr.phase.Load())
	name := fmt.Sprintf("fault_%d", tr.names.Add(1))
	resp, err := callGraphQL(tr.client, tr.s, "", request{Query: registerMutation,
		Variables: map[string]any{"input": map[string]any{"username": name, "password": faultPassword}}})
	if tr.record(started, "register "+name, resp, err) == succeeded {
		var grant authPayload
		if err := json.Unmarshal(resp.Data["register"], &grant); err != nil || grant.User.Username != name || grant.AccessToken == "" {
			tr.problem(started, "register %s answered success without its payload: %s", name, resp.Body)
		} else {
			tr.acknowledge(name)
			resp, err = callGraphQL(tr.client, tr.s, grant.AccessToken, request{Query: meQuery})
			if tr.record(started, "me of "+name, resp, err) == succeeded {
				var me user
				if err := json.Unmarshal(resp.Data["me"], &me); err != nil || me.Username != name {
					tr.problem(started, "me of %s: %s", name, resp.Body)
				}
			}
		}
	}
	if earlier := tr.anyAcknowledged(); earlier != "" {
		resp, err := callGraphQL(tr.client, tr.s, "", request{Query: loginMutation,
			Variables: map[string]any{"input": map[string]any{"username": earlier, "password": faultPassword}}})
		tr.record(started, "login "+earlier, resp, err)
	}
}

// record judges one answer and counts it under the phase the request
// started in. After recovery, UNAVAILABLE is a problem too: /readyz said
// the database answers and a register, login and me went through.
func (tr *faultTraffic) record(started phase, what string, resp *response, err error) outcome {
	o, why := judge(resp, err)
	if o == unavailable && started == phaseRecovered {
		o, why = broken, "UNAVAILABLE although the database is back: "+resp.Body
	}
	tr.mu.Lock()
	tr.counts[started][o]++
	tr.mu.Unlock()
	if o == broken {
		tr.problem(started, "%s: %s", what, why)
	}
	return o
}

func (tr *faultTraffic) problem(started phase, format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.problems = append(tr.problems, fmt.Sprintf("%s: %s", started, fmt.Sprintf(format, args...)))
}

func (tr *faultTraffic) acknowledge(name string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.acknowledged = append(tr.acknowledged, name)
}

func (tr *faultTraffic) anyAcknowledged() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.acknowledged) == 0 {
		return ""
	}
	return tr.acknowledged[rand.IntN(len(tr.acknowledged))]
}

func (tr *faultTraffic) count(p phase, o outcome) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.counts[p][o]
}

// reportProblems fails the test with the first few problems seen.
func (tr *faultTraffic) reportProblems(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.problems) == 0 {
		return
	}
	shown := tr.problems[:min(len(tr.problems), 10)]
	t.Errorf("%d bad answers, first %d:\n  %s", len(tr.problems), len(shown), strings.Join(shown, "\n  "))
	tr.problems = nil
}

// cycle runs traffic through one outage: some successes, the database
// gone for down, then back, with keycard recovering by itself.
func (tr *faultTraffic) cycle(t *testing.T, out outage, down time.Duration) {
	t.Helper()
	s := tr.s
	tr.mu.Lock()
	tr.counts = [phaseCount][broken + 1]int{}
	tr.mu.Unlock()
	tr.setPhase(phaseUp)
	tr.start()
	defer tr.halt()
	waitFor(t, 10*time.Second, func() bool { return tr.count(phaseUp, succeeded) >= 20 })

	out.begin()
	tr.setPhase(phaseDown)
	cutAt := time.Now()
	// A register now cannot be written: it must say so with 503.
	resp, err := callGraphQL(tr.client, s, "", request{Query: registerMutation,
		Variables: map[string]any{"input": map[string]any{"username": fmt.Sprintf("fault_down_%d", tr.names.Add(1)), "password": faultPassword}}})
	if o, why := judge(resp, err); o != unavailable {
		t.Errorf("register during the outage: want UNAVAILABLE with 503; %s", or(why, "it succeeded"))
	}
	for time.Since(cutAt) < down {
		resp, err := readyz(tr.client, s)
		switch {
		case err != nil:
			t.Errorf("/readyz during the outage: %v", err)
		case out.unreachable && resp.Status != http.StatusServiceUnavailable:
			t.Errorf("/readyz during the outage: status %d, want 503: %s", resp.Status, resp.Body)
		case resp.Status != http.StatusOK && resp.Status != http.StatusServiceUnavailable:
			t.Errorf("/readyz during the outage: status %d, want 200 or 503: %s", resp.Status, resp.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	out.end()
	tr.setPhase(phaseRecovering)
	restoredAt := time.Now()
	waitFor(t, 5*time.Second, func() bool {
		resp, err := readyz(tr.client, s)
		return err == nil && resp.Status == http.StatusOK
	})
	// No restart: the same keycard serves again, at once.
	name := fmt.Sprintf("fault_back_%d", tr.names.Add(1))
	expectOK(t, s.me(t, s.register(t, name, faultPassword).AccessToken))
	tr.acknowledge(name)
	expectOK(t, s.me(t, s.login(t, name, faultPassword).AccessToken))
	t.Logf("outage of %s: keycard ready again %s after the database came back", down, time.Since(restoredAt).Round(time.Millisecond))

	tr.setPhase(phaseRecovered)
	time.Sleep(300 * time.Millisecond)
	tr.halt()

	t.Logf("answers (succeeded/unavailable/broken): up %v, down %v, recovering %v, recovered %v",
		tr.counts[phaseUp], tr.counts[phaseDown], tr.counts[phaseRecovering], tr.counts[phaseRecovered])
	if out.unreachable && tr.count(phaseUp, unavailable)+tr.count(phaseDown, unavailable) == 0 {
		t.Errorf("no request answered UNAVAILABLE during the outage: the outage did not happen")
	}
	if tr.count(phaseRecovered, succeeded) == 0 {
		t.Errorf("no request succeeded after recovery")
	}
	tr.reportProblems(t)
}

// verifyAcknowledged logs in every user whose register answered success.
func (tr *faultTraffic) verifyAcknowledged(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	names := append([]string(nil), tr.acknowledged...)
	tr.mu.Unlock()
	if len(names) == 0 {
		t.Fatal("no register succeeded")
	}
	next := make(chan string)
	var lost sync.Map
	var workers sync.WaitGroup
	for range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for name := range next {
				resp, err := callGraphQL(tr.client, tr.s, "", request{Query: loginMutation,
					Variables: map[string]any{"input": map[string]any{"username": name, "password": faultPassword}}})
				if o, why := judge(resp, err); o != succeeded {
					lost.Store(name, or(why, "UNAVAILABLE: "+resp.Body))
				}
			}
		}()
	}
	for _, name := range names {
		next <- name
	}
	close(next)
	workers.Wait()
	n := 0
	lost.Range(func(name, why any) bool {
		if n++; n <= 10 {
			t.Errorf("register of %s answered success, but login afterwards: %s", name, why)
		}
		return true
	})
	if n > 0 {
		t.Errorf("%d of %d acknowledged registers cannot log in", n, len(names))
	}
	t.Logf("%d acknowledged registers all log in", len(names)-n)
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// settledGoroutines closes the clients' idle connections and returns the
// goroutine count once it stops falling: finished connections and requests
// take a moment to unwind, so a count read at once would be noise.
func settledGoroutines(clients ...*http.Client) int {
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	deadline := time.Now().Add(3 * time.Second)
	lowest, lowestAt := runtime.NumGoroutine(), time.Now()
	for time.Since(lowestAt) < 300*time.Millisecond && time.Now().Before(deadline) {
		time.Sleep(25 * time.Millisecond)
		if n := runtime.NumGoroutine(); n < lowest {
			lowest, lowestAt = n, time.Now()
		}
	}
	return lowest
}

// goroutineSlack absorbs what legitimately varies between two counts: the
// number of pooled database connections (each with the driver's watcher
// and, on MySQL, two proxy goroutines) and HTTP connections still closing.
const goroutineSlack = 20

func goroutineDump(t *testing.T) {
	t.Helper()
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	dump := buf.String()
	if len(dump) > 20000 {
		dump = dump[:20000] + "\n…"
	}
	t.Logf("goroutines:\n%s", dump)
}

func TestDatabaseOutageAnswersUnavailableAndRecovers(t *testing.T) {
	eachDBInTurn(t, func(t *testing.T, dbURL string) {
		s, out := startServerWithOutage(t, dbURL)
		tr := newFaultTraffic(t, s)
		clients := []*http.Client{tr.client, s.http.Client()}

		// SQLite writes queue on one connection, each waiting out
		// busy_timeout three times while the lock is held: fewer clients
		// and a shorter outage keep the test's own waits short.
		down := 2 * time.Second
		if !out.unreachable {
			tr.concurrency, down = 4, time.Second
		}

		// The baseline is taken after the same traffic without an outage,
		// so the pools it grows are already in it.
		tr.setPhase(phaseUp)
		tr.start()
		waitFor(t, 10*time.Second, func() bool { return tr.count(phaseUp, succeeded) >= 20 })
		tr.halt()
		tr.reportProblems(t)
		baseline := settledGoroutines(clients...)

		var after [2]int
		for i := range after {
			tr.cycle(t, out, down)
			if t.Failed() {
				t.FailNow()
			}
			after[i] = settledGoroutines(clients...)
		}
		t.Logf("goroutines: %d before, %d after the first outage, %d after the second", baseline, after[0], after[1])
		if after[0] > baseline+goroutineSlack || after[1] > baseline+goroutineSlack {
			goroutineDump(t)
			t.Errorf("goroutines grow with outages: %d before, %d after the first, %d after the second (slack %d)",
				baseline, after[0], after[1], goroutineSlack)
		}

		// Nothing acknowledged was lost, before, during or after.
		tr.verifyAcknowledged(t)
		expectOK(t, s.me(t, s.register(t, "after_it_all", faultPassword).AccessToken))
	})
}

// internalsOfAnOutage is what a driver's error says about the outage; a
// client must see none of it (leakCheck covers SQL and driver names).
var internalsOfAnOutage = regexp.MustCompile(`(?i)dial tcp|connection refused|connection reset|broken pipe|invalid connection|bad connection|database is locked|busy|i/o timeout|EOF|127\.0\.0\.1|context deadline`)

func TestNoResponseLeaksInternalsDuringOutage(t *testing.T) {
	eachDBInTurn(t, func(t *testing.T, dbURL string) {
		s, out := startServerWithOutage(t, dbURL)
		alice := s.register(t, "alice", faultPassword)
		client := faultClient(t)

		out.begin()
		ended := false
		defer func() {
			if !ended {
				out.end()
			}
		}()
		login := func(username, password string) request {
			return request{Query: loginMutation, Variables: map[string]any{"input": map[string]any{"username": username, "password": password}}}
		}
		probes := []struct {
			name  string
			token string
			body  any
			// failedLogin: UNAUTHENTICATED is a right answer too, where
			// reads still work (SQLite) and the login truly fails.
			failedLogin bool
		}{
			{name: "register", body: request{Query: registerMutation, Variables: map[string]any{"input": map[string]any{"username": "bob", "password": faultPassword}}}},
			{name: "login", body: login("alice", faultPassword)},
			{name: "login unknown user", body: login("nobody_here", faultPassword), failedLogin: true},
			{name: "login wrong password", body: login("alice", "wrong-password-1"), failedLogin: true},
			{name: "me", token: alice.AccessToken, body: request{Query: meQuery}},
			{name: "sessions", token: alice.AccessToken, body: request{Query: sessionsQuery}},
			{name: "refresh", body: request{Query: refreshMutation, Variables: map[string]any{"token": alice.refresh()}}},
			{name: "logout", token: alice.AccessToken, body: request{Query: logoutMutation}},
			{name: "batch", body: []request{
				{Query: registerMutation, Variables: map[string]any{"input": map[string]any{"username": "carol", "password": faultPassword}}},
				login("alice", faultPassword),
			}},
		}
		for _, p := range probes {
			resp, err := callGraphQL(client, s, p.token, p.body)
			o, why := judge(resp, err)
			if o == broken && p.failedLogin && resp != nil && resp.Status == http.StatusOK && len(resp.Errors) == 1 && resp.code() == "UNAUTHENTICATED" {
				o = succeeded
			}
			if o == broken {
				t.Errorf("%s during the outage: %s", p.name, why)
				continue
			}
			if len(resp.Errors) > 0 {
				if m := internalsOfAnOutage.FindString(resp.Body); m != "" {
					t.Errorf("%s during the outage: answer tells %q: %s", p.name, m, resp.Body)
				}
				if m := leaked.FindString(resp.Body); m != "" {
					t.Errorf("%s during the outage: answer leaks %q: %s", p.name, m, resp.Body)
				}
			}
		}
		resp, err := readyz(client, s)
		switch {
		case err != nil:
			t.Errorf("/readyz during the outage: %v", err)
		case internalsOfAnOutage.MatchString(resp.Body) || leaked.MatchString(resp.Body):
			t.Errorf("/readyz during the outage tells internals: %s", resp.Body)
		}

		out.end()
		ended = true
		waitFor(t, 5*time.Second, func() bool {
			resp, err := readyz(client, s)
			return err == nil && resp.Status == http.StatusOK
		})
		s.login(t, "alice", faultPassword)
	})
}

// TestStalledDatabaseAnswersUnavailableInBoundedTime: a database that stops
// answering without refusing anything (a frozen MySQL host, a partition
// that drops packets; on SQLite, another process holding the lock) must
// not hold requests much longer than keycard's own waits for it, however
// many arrive at once.
func TestStalledDatabaseAnswersUnavailableInBoundedTime(t *testing.T) {
	eachDBInTurn(t, func(t *testing.T, dbURL string) {
		s, out := startServerWithOutage(t, dbURL)
		s.register(t, "alice", faultPassword)
		client := faultClient(t)
		// Past the bound the answer is late whatever it is; waiting on
		// would only make the test slow.
		client.Timeout = out.answerBound + 500*time.Millisecond

		out.stall()
		stalled := true
		defer func() {
			if stalled {
				out.unstall()
			}
		}()
		const writers = 8
		latencies := make([]time.Duration, writers)
		verdicts := make([]string, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				resp, err := callGraphQL(client, s, "", request{Query: registerMutation,
					Variables: map[string]any{"input": map[string]any{"username": fmt.Sprintf("stalled_%d", i), "password": faultPassword}}})
				latencies[i] = time.Since(start).Round(time.Millisecond)
				if o, why := judge(resp, err); o != unavailable {
					verdicts[i] = or(why, "succeeded while the database was not answering")
				}
			}()
		}
		wg.Wait()
		late := 0
		for i := range writers {
			if latencies[i] > out.answerBound {
				late++
			} else if verdicts[i] != "" {
				t.Errorf("register %d: %s", i, verdicts[i])
			}
		}
		t.Logf("%d concurrent registers while the database does not answer took %v", writers, latencies)
		if late > 0 {
			t.Errorf("%d of %d concurrent registers did not answer UNAVAILABLE within %s: %v", late, writers, out.answerBound, latencies)
		}

		out.unstall()
		stalled = false
		waitFor(t, 5*time.Second, func() bool {
			resp, err := readyz(client, s)
			return err == nil && resp.Status == http.StatusOK
		})
		s.login(t, "alice", faultPassword)
	})
}
