package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/metrics"
	"github.com/keycard/keycard/store/storetest"
)

// testSecret signs tokens in tests, so tests can forge tokens the way an
// attacker who knows the format (but not a real secret) would.
const testSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// devIssuer is the issuer of a development server on the default
// KEYCARD_ADDR: http://localhost:PORT.
const devIssuer = "http://localhost:8080"

// productionURL is the KEYCARD_PUBLIC_URL a production test server gets
// unless the test sets one: production refuses to start without it.
const productionURL = "https://auth.keycard.test"

// cheapArgon2 keeps tests fast; the parameters themselves are unit-tested.
var cheapArgon2 = auth.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// clock is a settable clock shared by a test and its server.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// server is keycard over a real database behind a real HTTP listener.
type server struct {
	t      testing.TB
	dbURL  string
	env    map[string]string
	clock  *clock
	app    *app.App
	http   *httptest.Server
	params auth.Argon2Params
	// observe, when set, sees every database statement.
	observe func(ctx context.Context, statement string)
	// logger receives keycard's logs (discarded when nil).
	logger *slog.Logger
	// build is the build the server reports.
	build metrics.BuildInfo
}

// serverOption adjusts how a test server starts.
type serverOption func(s *server)

// withEnv sets one environment variable of the server.
func withEnv(name, value string) serverOption {
	return func(s *server) { s.env[name] = value }
}

// withBuild sets the build the server reports in its metrics.
func withBuild(b metrics.BuildInfo) serverOption {
	return func(s *server) { s.build = b }
}

// withLogger sends the server's logs to logger.
func withLogger(logger *slog.Logger) serverOption {
	return func(s *server) { s.logger = logger }
}

// startServer starts keycard on dbURL. Every response it sends is checked
// at the end of the test for leaked internals (hashes, SQL, stacks).
func startServer(t testing.TB, dbURL string, opts ...serverOption) *server {
	t.Helper()
	return startServerWith(t, dbURL, nil, opts...)
}

// startServerWith is startServer with a database statement observer.
func startServerWith(t testing.TB, dbURL string, observe func(ctx context.Context, statement string), opts ...serverOption) *server {
	t.Helper()
	env := map[string]string{
		"KEYCARD_DATABASE_URL": dbURL,
		"KEYCARD_JWT_SECRET":   testSecret,
	}
	s := &server{t: t, dbURL: dbURL, env: env, clock: newClock(), params: cheapArgon2, observe: observe}
	for _, o := range opts {
		o(s)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	if _, set := s.env["KEYCARD_PUBLIC_URL"]; !set && s.env["KEYCARD_ENV"] == "production" {
		s.env["KEYCARD_PUBLIC_URL"] = productionURL
	}
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := s.env[name]; return v, ok }, nil)
	if err != nil {
		s.t.Fatalf("config: %v", err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Now: s.clock.Now, PasswordParams: &s.params, ObserveQueries: s.observe, Logger: s.logger, Build: s.build})
	if err != nil {
		s.t.Fatalf("start keycard: %v", err)
	}
	s.app = a
	s.http = httptest.NewServer(leakCheck(s.t, a.Handler()))
}

func (s *server) stop() {
	if s.http != nil {
		s.http.Close()
		s.http = nil
	}
	if s.app != nil {
		if err := s.app.Close(); err != nil {
			s.t.Errorf("close keycard: %v", err)
		}
		s.app = nil
	}
}

// restart stops keycard and starts a new process-equivalent on the same
// database: nothing in memory survives, only what was stored.
func (s *server) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// leaked matches what must never appear in a response: password hashes,
// SQL and driver errors, Go stack traces.
var leaked = regexp.MustCompile(`(?i)\$argon2id\$|password_hash|\bselect\b.+\bfrom\b|\binsert into\b|duplicate entry|unique constraint|sqlite|mysql|goroutine \d+|\.go:\d+|runtime/debug`)

// leakCheck records every response body and fails the test if one leaks.
func leakCheck(t testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bodyRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/playground/") {
			return // the playground: static files, GraphiQL's own code
		}
		if m := leaked.Find(rec.body.Bytes()); m != nil {
			t.Errorf("response to %s %s leaks %q: %s", r.Method, r.URL.Path, m, rec.body.String())
		}
	})
}

type bodyRecorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.body.Write(p)
	return b.ResponseWriter.Write(p)
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// response is a decoded GraphQL response.
type response struct {
	Status int
	Header http.Header
	Data   map[string]json.RawMessage
	Errors []gqlError
	Body   string
}

// code is the extensions.code of the first error, or "".
func (r *response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// field is the extensions.field of the first error, or "".
func (r *response) field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	field, _ := r.Errors[0].Extensions["field"].(string)
	return field
}

// into decodes data[name] into v.
func (r *response) into(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := r.Data[name]
	if !ok || string(raw) == "null" {
		t.Fatalf("no data.%s in response: %s", name, r.Body)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode data.%s: %v", name, err)
	}
}

// request is one GraphQL call.
type request struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
	token     string
	header    http.Header
}

// gql posts a GraphQL request with an optional bearer token.
func (s *server) gql(t testing.TB, token, query string, vars map[string]any) *response {
	t.Helper()
	return s.do(t, request{Query: query, Variables: vars, token: token})
}

func (s *server) do(t testing.TB, req request) *response {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	httpReq, err := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	for k, v := range req.header {
		httpReq.Header[k] = v
	}
	if req.token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+req.token)
	}
	return s.send(t, httpReq)
}

func (s *server) send(t testing.TB, httpReq *http.Request) *response {
	t.Helper()
	resp, err := s.http.Client().Do(httpReq)
	if err != nil {
		t.Fatalf("%s %s: %v", httpReq.Method, httpReq.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &response{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") {
		if bytes.HasPrefix(raw, []byte("[")) {
			// A batch answer: the first result stands for the response.
			var batch []json.RawMessage
			if err := json.Unmarshal(raw, &batch); err != nil || len(batch) == 0 {
				t.Fatalf("batch response is not a JSON array (%d): %s", resp.StatusCode, raw)
			}
			raw = batch[0]
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
		}
	}
	return out
}

// get sends a GraphQL query over GET.
func (s *server) get(t testing.TB, token, query string, vars map[string]any) *response {
	t.Helper()
	q := url.Values{"query": {query}}
	if vars != nil {
		b, _ := json.Marshal(vars)
		q.Set("variables", string(b))
	}
	httpReq, err := http.NewRequest(http.MethodGet, s.http.URL+"/graphql?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(t, httpReq)
}

// Operations used across tests.
const (
	registerMutation = `mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken tokenType expiresIn user { id username email roles createdAt } }
}`
	loginMutation = `mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken tokenType expiresIn user { id username email roles createdAt } }
}`
	refreshMutation = `mutation Refresh($token: String) {
  refresh(token: $token) { accessToken refreshToken tokenType expiresIn user { id username } }
}`
	logoutMutation = `mutation Logout($scope: LogoutScope) { logout(scope: $scope) }`
	meQuery        = `query Me { me { id username email roles createdAt } }`
)

type user struct {
	ID        string   `json:"id"`
	Username  string   `json:"username"`
	Email     *string  `json:"email"`
	Roles     []string `json:"roles"`
	CreatedAt string   `json:"createdAt"`
}

type authPayload struct {
	AccessToken  string  `json:"accessToken"`
	RefreshToken *string `json:"refreshToken"`
	TokenType    string  `json:"tokenType"`
	ExpiresIn    int     `json:"expiresIn"`
	User         user    `json:"user"`
}

func (p authPayload) refresh() string {
	if p.RefreshToken == nil {
		return ""
	}
	return *p.RefreshToken
}

// register signs a new user up and fails the test if that fails.
func (s *server) register(t testing.TB, username, password string) authPayload {
	t.Helper()
	resp := s.gql(t, "", registerMutation, map[string]any{"input": map[string]any{"username": username, "password": password}})
	if len(resp.Errors) > 0 {
		t.Fatalf("register %s: %s", username, resp.Body)
	}
	var p authPayload
	resp.into(t, "register", &p)
	return p
}

func (s *server) login(t testing.TB, username, password string) authPayload {
	t.Helper()
	resp := s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": username, "password": password}})
	if len(resp.Errors) > 0 {
		t.Fatalf("login %s: %s", username, resp.Body)
	}
	var p authPayload
	resp.into(t, "login", &p)
	return p
}

func (s *server) refresh(t testing.TB, refreshToken string) *response {
	t.Helper()
	return s.gql(t, "", refreshMutation, map[string]any{"token": refreshToken})
}

func (s *server) me(t testing.TB, token string) *response {
	t.Helper()
	return s.gql(t, token, meQuery, nil)
}

// expectCode fails unless resp carries exactly one error with code.
func expectCode(t testing.TB, resp *response, code string) {
	t.Helper()
	if len(resp.Errors) != 1 || resp.code() != code {
		t.Fatalf("want one %s error, got status %d: %s", code, resp.Status, resp.Body)
	}
}

// expectOK fails if resp carries errors.
func expectOK(t testing.TB, resp *response) {
	t.Helper()
	if resp.Status != http.StatusOK || len(resp.Errors) > 0 {
		t.Fatalf("want success, got status %d: %s", resp.Status, resp.Body)
	}
}

// How the tests are laid out: a test whose outcome the database can change
// (it stores, reads back, races or loses data) runs once per database, as
// subtests sqlite and mysql (eachDB, storetestEach); a test of what HTTP,
// GraphQL or token checks decide before storage has a say (headers, CORS,
// request ids, query limits, forged tokens, malformed requests, rate
// limits) runs once, on SQLite (startSQLite). Every server has its own
// database and clock, so tests run in parallel (t.Parallel) unless they
// share the test Redis database, hold a wall-clock bound, or count the
// process's goroutines. -short leaves out MySQL, Redis and fault injection.

// startSQLite starts keycard on a fresh SQLite database, for a test that no
// database can change the outcome of: it runs once, not once per database.
func startSQLite(t testing.TB, opts ...serverOption) *server {
	t.Helper()
	return startServer(t, storetest.SQLiteURL(t), opts...)
}

// eachDB runs fn once per database with a fresh server, the databases in
// parallel.
func eachDB(t *testing.T, fn func(t *testing.T, s *server), opts ...serverOption) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, db storetest.Database) {
		fn(t, startServer(t, db.URL(t), opts...))
	})
}

// storetestEach runs fn once per database with a fresh database URL, the
// databases in parallel, for tests that start servers themselves.
func storetestEach(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	storetest.Each(t, func(t *testing.T, db storetest.Database) { fn(t, db.URL(t)) })
}
