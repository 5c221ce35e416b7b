package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects log output from every goroutine of a server.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsNeverContainSecrets(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		logs := &logBuffer{}
		logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := startServer(t, dbURL, withLogger(logger))

		const (
			password    = "first-secret-passphrase"
			newPassword = "second-secret-passphrase"
			wrong       = "wrong-secret-guess"
		)
		var secrets []string
		keep := func(p authPayload) authPayload {
			secrets = append(secrets, p.AccessToken, p.refresh(), strings.Split(p.AccessToken, ".")[2])
			return p
		}
		name := unique("logged")
		reg := keep(s.register(t, name, password))
		for range 5 {
			expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": name, "password": wrong}}), "UNAUTHENTICATED")
		}
		login := keep(s.login(t, name, password))
		expectOK(t, s.me(t, login.AccessToken))
		var rotated authPayload
		resp := s.refresh(t, login.refresh())
		resp.into(t, "refresh", &rotated)
		keep(rotated)
		expectCode(t, s.refresh(t, login.refresh()), "UNAUTHENTICATED") // reuse
		expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))
		expectCode(t, s.me(t, reg.AccessToken), "UNAUTHENTICATED") // revoked token
		fresh := s.login(t, name, password)
		keep(fresh)
		resp = s.gql(t, fresh.AccessToken, changePasswordMutation, map[string]any{"current": password, "next": newPassword})
		expectOK(t, resp)
		var changed authPayload
		resp.into(t, "changePassword", &changed)
		keep(changed)
		if _, err := s.app.Service().GrantRole(context.Background(), name, "admin"); err != nil {
			t.Fatal(err)
		}
		expectCode(t, s.gql(t, "Bearer-garbage."+reg.AccessToken, meQuery, nil), "UNAUTHENTICATED")

		var hash string
		if err := s.rawDB(t).SQL.QueryRow("SELECT password_hash FROM users WHERE username = ?", name).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		s.stop() // flush background writers before reading the logs
		out := logs.String()
		secrets = append(secrets, password, newPassword, wrong, testSecret, hash, "$argon2id$")
		for _, secret := range secrets {
			if secret != "" && strings.Contains(out, secret) {
				t.Fatalf("logs contain a secret (%.12s…)", secret)
			}
		}
		// The logs did record what happened, so the check above means
		// something.
		for _, want := range []string{"repeated login failures", "refresh token reuse detected", "revoked access token used", `"msg":"request"`} {
			if !strings.Contains(out, want) {
				t.Errorf("logs lack %q", want)
			}
		}
	})
}

// requestLines are the access-log lines of logs (JSON), by request id.
func requestLines(t *testing.T, logs string) map[string]map[string]any {
	t.Helper()
	lines := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if entry["msg"] == "request" {
			lines[entry["request_id"].(string)] = entry
		}
	}
	return lines
}

// Log lines say whose request it was (ids, never tokens) and which trace
// it belongs to; a caller's W3C traceparent is continued, and the answer
// names this server's span so the caller's trace links to it.
func TestLogsCarryTraceUserAndSession(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	s := startSQLite(t, withLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	reg := s.register(t, "traced", "open-sesame-42")
	claims := claimsOf(t, reg.AccessToken)

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceparent := "00-" + callerTrace + "-00f067aa0ba902b7-01"
	resp := s.do(t, request{Query: meQuery, token: reg.AccessToken, header: http.Header{
		"X-Request-Id": {"traced-me"}, "Traceparent": {traceparent},
	}})
	expectOK(t, resp)
	answered := regexp.MustCompile(`^00-` + callerTrace + `-([0-9a-f]{16})-01$`).FindStringSubmatch(resp.Header.Get("Traceparent"))
	if answered == nil || answered[1] == "00f067aa0ba902b7" {
		t.Errorf("traceparent answered %q, want the caller's trace with a span of ours", resp.Header.Get("Traceparent"))
	}
	login := s.do(t, request{Query: loginMutation, Variables: map[string]any{"input": map[string]any{"username": "traced", "password": "open-sesame-42"}},
		header: http.Header{"X-Request-Id": {"traced-login"}}})
	expectOK(t, login)
	var signedIn authPayload
	login.into(t, "login", &signedIn)
	// Malformed trace contexts are not copied into logs: a new trace.
	for i, bad := range []string{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-" + callerTrace + "-00f067aa0ba902b7-01", "00-" + callerTrace + "-00f067aa0ba902b7-01-forged"} {
		resp := s.do(t, request{Query: `{ __typename }`, header: http.Header{"X-Request-Id": {fmt.Sprintf("bad-trace-%d", i)}, "Traceparent": {bad}}})
		if tp := resp.Header.Get("Traceparent"); strings.Contains(strings.ToLower(tp), callerTrace) || strings.Contains(tp, "0000000000000000") || len(tp) != 55 {
			t.Errorf("traceparent %q answered %q, want a new trace", bad, tp)
		}
	}
	s.stop()

	lines := requestLines(t, logs.String())
	me := lines["traced-me"]
	if me["trace_id"] != callerTrace || me["user_id"] != reg.User.ID || me["session_id"] != claims["sid"] {
		t.Errorf("me's log line: %v, want trace %s, user %s, session %v", me, callerTrace, reg.User.ID, claims["sid"])
	}
	signedInClaims := claimsOf(t, signedIn.AccessToken)
	if l := lines["traced-login"]; l["user_id"] != reg.User.ID || l["session_id"] != signedInClaims["sid"] || l["trace_id"] == "" || l["trace_id"] == nil {
		t.Errorf("login's log line: %v, want the signed-in user and new session", l)
	}
	for i := range 4 {
		if l := lines[fmt.Sprintf("bad-trace-%d", i)]; l == nil || l["trace_id"] == callerTrace || l["user_id"] != nil {
			t.Errorf("bad trace %d: %v", i, l)
		}
	}
	for _, secret := range []string{reg.AccessToken, reg.refresh(), signedIn.AccessToken, signedIn.refresh()} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("logs contain a token")
		}
	}
}

// Lines that the service logs during a request carry its ids too.
func TestServiceLogLinesCarryTheRequestsIDs(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	s := startSQLite(t, withLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	reg := s.register(t, "revoked", "open-sesame-42")
	expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))
	expectCode(t, s.do(t, request{Query: meQuery, token: reg.AccessToken, header: http.Header{"X-Request-Id": {"after-logout"}}}), "UNAUTHENTICATED")
	s.stop()
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "revoked access token used") {
			var entry map[string]any
			if err := json.Unmarshal([]byte(l), &entry); err != nil {
				t.Fatal(err)
			}
			if entry["request_id"] != "after-logout" || entry["trace_id"] == nil {
				t.Errorf("service line without the request's ids: %s", l)
			}
			return
		}
	}
	t.Fatalf("no warning logged:\n%s", logs.String())
}
