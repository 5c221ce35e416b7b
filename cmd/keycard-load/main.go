// Command keycard-load drives a running keycard over HTTP and reports
// throughput, latency percentiles and wrong answers. It starts nothing
// itself: point it at a server (only ever 127.0.0.1 or a server you own).
//
//	keycard-load -url http://127.0.0.1:8080 -scenario me -c 64 -d 10s
//	keycard-load -scenario me -c 16 -background login -background-c 64
//
// Scenarios: typename ({ __typename }, the GraphQL floor), me, login,
// refresh, register. With -background, the main scenario is measured alone
// first and then beside the background one (a login storm, say), and the
// report says what share of its idle throughput it kept. Answers refused
// with RATE_LIMITED are counted apart; the client then waits the
// retryAfter they carry, as Apollo and urql retry links do (-honour-retry-after).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "keycard-load:", err)
		os.Exit(1)
	}
}

type options struct {
	url         string
	scenario    string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	users       int
	background  string
	bgConc      int
	idle        bool
	rounds      int
	honourRetry bool
	jsonOut     bool
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keycard-load", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "keycard base URL")
	fs.StringVar(&o.scenario, "scenario", "me", "typename, me, login, refresh or register")
	fs.IntVar(&o.concurrency, "c", 32, "concurrent clients")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before measuring")
	fs.IntVar(&o.users, "users", 50, "users created for the run (each client uses one)")
	fs.StringVar(&o.background, "background", "", "a second scenario run at the same time (e.g. login), reported separately")
	fs.IntVar(&o.bgConc, "background-c", 64, "concurrent clients of the background scenario")
	fs.BoolVar(&o.idle, "idle", true, "with -background: measure the main scenario alone first and report the share of it kept during the background")
	fs.IntVar(&o.rounds, "rounds", 1, "with -background and -idle: alternate the idle and loaded phases this many times (each -d long), summing them")
	fs.BoolVar(&o.honourRetry, "honour-retry-after", true, "after a RATE_LIMITED answer, wait its retryAfter before the next request")
	fs.BoolVar(&o.jsonOut, "json", false, "print results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := newClient(o.url, o.concurrency+o.bgConc)
	ctx := context.Background()
	prefix := "load" + randomHex(4)

	users, err := client.setupUsers(ctx, prefix, o.users)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	main, err := newScenario(o.scenario, client, users)
	if err != nil {
		return err
	}
	scenarios := []*runner{{name: o.scenario, scenario: main, concurrency: o.concurrency, honourRetry: o.honourRetry}}
	var idle *runner
	if o.background != "" {
		// Users of their own: a storm of logins into the main scenario's
		// accounts would end their sessions (the per-user session cap)
		// and turn the main scenario's answers wrong.
		bgUsers, err := client.setupUsers(ctx, prefix+"bg", o.users)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		bg, err := newScenario(o.background, client, bgUsers)
		if err != nil {
			return err
		}
		scenarios[0].name = o.scenario + " (during " + o.background + ")"
		scenarios = append(scenarios, &runner{name: o.background + " (background)", scenario: bg, concurrency: o.bgConc, honourRetry: o.honourRetry})
		if o.idle {
			idle = &runner{name: o.scenario + " (idle)", scenario: main, concurrency: o.concurrency, honourRetry: o.honourRetry}
		}
	}
	// Idle and loaded phases alternate, so that on a shared machine a
	// change in what else runs weighs on both alike.
	for range max(1, o.rounds) {
		if idle != nil {
			drive(ctx, []*runner{idle}, o.warmup, o.duration)
		}
		drive(ctx, scenarios, o.warmup, o.duration)
	}
	var results []result
	if idle != nil {
		results = append(results, summarize(idle))
	}
	for _, r := range scenarios {
		results = append(results, summarize(r))
	}
	if idle != nil && results[0].RPS > 0 {
		results[1].OfIdle = results[1].RPS / results[0].RPS
	}

	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	for _, r := range results {
		fmt.Fprintf(out, "%-26s c=%-4d %8d req  %9.1f req/s  p50 %7.2fms  p90 %7.2fms  p99 %7.2fms  max %7.2fms  errors %d  wrong %d  refused %d\n",
			r.Scenario, r.Concurrency, r.Requests, r.RPS, r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.Errors, r.Wrong, r.Refused)
	}
	for _, r := range results {
		if r.OfIdle > 0 {
			fmt.Fprintf(out, "%s kept %.0f%% of its idle throughput\n", r.Scenario, 100*r.OfIdle)
		}
	}
	return nil
}

// result is one scenario's numbers.
type result struct {
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// Errors are transport failures and non-200 answers; Wrong are 200
	// answers with the wrong content (an error, another user, no token);
	// Refused are RATE_LIMITED answers (counted in the latencies too).
	Errors  int `json:"errors"`
	Wrong   int `json:"wrong"`
	Refused int `json:"refused"`
	// OfIdle is throughput as a share of the same scenario measured alone
	// (set on the main scenario of a run with -background).
	OfIdle float64 `json:"of_idle,omitempty"`
}

// refusal is a RATE_LIMITED answer: the server was asked too much and
// said when to come back.
type refusal struct{ retryAfter time.Duration }

func (r *refusal) Error() string { return fmt.Sprintf("RATE_LIMITED, retry after %s", r.retryAfter) }

// scenario makes one request for worker w and judges the answer.
type scenario func(ctx context.Context, w int) (ok bool, err error)

type runner struct {
	name        string
	scenario    scenario
	concurrency int
	honourRetry bool
	latencies   [][]time.Duration
	measured    time.Duration
	errors      atomic.Int64
	wrong       atomic.Int64
	refused     atomic.Int64
}

// drive runs runners together for warmup, then measures them for
// duration. Measurements add up over several calls (rounds).
func drive(ctx context.Context, runners []*runner, warmup, duration time.Duration) {
	var measuring atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range runners {
		if r.latencies == nil {
			r.latencies = make([][]time.Duration, r.concurrency)
		}
		for w := 0; w < r.concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					ok, err := r.scenario(ctx, w)
					elapsed := time.Since(start)
					var refused *refusal
					isRefusal := errors.As(err, &refused)
					if measuring.Load() {
						r.latencies[w] = append(r.latencies[w], elapsed)
						switch {
						case isRefusal:
							r.refused.Add(1)
						case err != nil:
							r.errors.Add(1)
						case !ok:
							r.wrong.Add(1)
						}
					}
					if isRefusal && r.honourRetry {
						select {
						case <-stop:
						case <-time.After(refused.retryAfter):
						}
					}
				}
			}()
		}
	}
	time.Sleep(warmup)
	measuring.Store(true)
	began := time.Now()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed := time.Since(began)
	close(stop)
	wg.Wait()
	for _, r := range runners {
		r.measured += elapsed
	}
}

// summarize is a runner's numbers over every round it was driven.
func summarize(r *runner) result {
	var all []time.Duration
	for _, l := range r.latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := result{Scenario: r.name, Concurrency: r.concurrency, Requests: len(all),
		RPS: float64(len(all)) / r.measured.Seconds(), Errors: int(r.errors.Load()), Wrong: int(r.wrong.Load()), Refused: int(r.refused.Load())}
	if len(all) > 0 {
		res.P50ms = ms(percentile(all, 0.50))
		res.P90ms = ms(percentile(all, 0.90))
		res.P99ms = ms(percentile(all, 0.99))
		res.MaxMs = ms(all[len(all)-1])
	}
	return res
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// client is a minimal GraphQL-over-HTTP client.
type client struct {
	endpoint string
	http     *http.Client
}

func newClient(base string, conns int) *client {
	transport := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
	}
	return &client{endpoint: base + "/graphql", http: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

var errStatus = errors.New("non-200 status")

func (c *client) do(ctx context.Context, body []byte, token string) (*gqlResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w %d: %s", errStatus, resp.StatusCode, raw)
	}
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func request(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

type user struct {
	id, username, password string
	access, refresh        string
}

type grant struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

const (
	registerQuery = `mutation R($u: String!, $p: String!) { register(input: {username: $u, password: $p}) { accessToken refreshToken user { id } } }`
	loginQuery    = `mutation L($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken refreshToken user { id } } }`
	refreshQuery  = `mutation F($t: String!) { refresh(token: $t) { accessToken refreshToken user { id } } }`
	meQuery       = `query Me { me { id username } }`
	typenameQuery = `{ __typename }`
)

func (c *client) grant(ctx context.Context, query, field string, vars map[string]any) (*grant, error) {
	resp, err := c.do(ctx, request(query, vars), "")
	if err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		if resp.Errors[0].Extensions["code"] == "RATE_LIMITED" {
			seconds, _ := resp.Errors[0].Extensions["retryAfter"].(float64)
			return nil, &refusal{retryAfter: time.Duration(seconds * float64(time.Second))}
		}
		return nil, fmt.Errorf("%s: %s (%v)", field, resp.Errors[0].Message, resp.Errors[0].Extensions["code"])
	}
	var g grant
	if err := json.Unmarshal(resp.Data[field], &g); err != nil {
		return nil, err
	}
	return &g, nil
}

func (c *client) setupUsers(ctx context.Context, prefix string, n int) ([]*user, error) {
	users := make([]*user, n)
	for i := range users {
		u := &user{username: fmt.Sprintf("%s_%d", prefix, i), password: "load-test-password-" + prefix}
		g, err := c.grant(ctx, registerQuery, "register", map[string]any{"u": u.username, "p": u.password})
		if err != nil {
			return nil, err
		}
		u.id, u.access, u.refresh = g.User.ID, g.AccessToken, g.RefreshToken
		users[i] = u
	}
	return users, nil
}

func newScenario(name string, c *client, users []*user) (scenario, error) {
	pick := func(w int) *user { return users[w%len(users)] }
	switch name {
	case "typename":
		body := request(typenameQuery, nil)
		return func(ctx context.Context, w int) (bool, error) {
			resp, err := c.do(ctx, body, "")
			if err != nil {
				return false, err
			}
			return len(resp.Errors) == 0 && string(resp.Data["__typename"]) == `"Query"`, nil
		}, nil
	case "me":
		body := request(meQuery, nil)
		return func(ctx context.Context, w int) (bool, error) {
			u := pick(w)
			resp, err := c.do(ctx, body, u.access)
			if err != nil {
				return false, err
			}
			var me struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(resp.Data["me"], &me)
			return len(resp.Errors) == 0 && me.ID == u.id, nil
		}, nil
	case "login":
		return func(ctx context.Context, w int) (bool, error) {
			u := pick(w)
			g, err := c.grant(ctx, loginQuery, "login", map[string]any{"u": u.username, "p": u.password})
			var refused *refusal
			if errors.Is(err, errStatus) || errors.As(err, &refused) {
				return false, err
			}
			return err == nil && g.User.ID == u.id && g.AccessToken != "", nil
		}, nil
	case "refresh":
		// Each worker owns one session and follows its rotation chain, as
		// a real client does.
		var mu sync.Mutex
		chains := map[int]string{}
		return func(ctx context.Context, w int) (bool, error) {
			mu.Lock()
			token, ok := chains[w]
			mu.Unlock()
			u := pick(w)
			if !ok {
				g, err := c.grant(ctx, loginQuery, "login", map[string]any{"u": u.username, "p": u.password})
				if err != nil {
					return false, err
				}
				token = g.RefreshToken
			}
			g, err := c.grant(ctx, refreshQuery, "refresh", map[string]any{"t": token})
			if err != nil {
				mu.Lock()
				delete(chains, w)
				mu.Unlock()
				var refused *refusal
				if errors.Is(err, errStatus) || errors.As(err, &refused) {
					return false, err
				}
				return false, nil
			}
			mu.Lock()
			chains[w] = g.RefreshToken
			mu.Unlock()
			return g.User.ID == u.id && g.RefreshToken != token, nil
		}, nil
	case "register":
		var n atomic.Int64
		prefix := "reg" + randomHex(4)
		return func(ctx context.Context, w int) (bool, error) {
			name := fmt.Sprintf("%s_%d", prefix, n.Add(1))
			g, err := c.grant(ctx, registerQuery, "register", map[string]any{"u": name, "p": "load-test-password"})
			var refused *refusal
			if errors.Is(err, errStatus) || errors.As(err, &refused) {
				return false, err
			}
			return err == nil && g.AccessToken != "", nil
		}, nil
	default:
		return nil, fmt.Errorf("unknown scenario %q", name)
	}
}
