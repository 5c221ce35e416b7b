package app_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keycard/keycard/metrics"
)

func (s *server) scrape(t testing.TB) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.app.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestMetricsCountWhatHappens(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_RATE_LIMITS", "login.username_ip=3/1m"))
	reg := s.register(t, "metered", "open-sesame-42")
	login := s.login(t, "metered", "open-sesame-42")
	for range 3 {
		expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "metered", "password": "wrong-guess-1"}}), "UNAUTHENTICATED")
	}
	expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "metered", "password": "wrong-guess-1"}}), "RATE_LIMITED")
	expectOK(t, s.refresh(t, login.refresh()))
	expectCode(t, s.refresh(t, login.refresh()), "UNAUTHENTICATED") // reuse
	expectOK(t, s.me(t, reg.AccessToken))
	expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))

	out := s.scrape(t)
	for _, want := range []string{
		`keycard_requests_total{code="OK",operation="register"} 1`,
		`keycard_requests_total{code="UNAUTHENTICATED",operation="login"} 3`,
		`keycard_requests_total{code="RATE_LIMITED",operation="login"} 1`,
		`keycard_requests_total{code="OK",operation="me"} 1`,
		`keycard_request_duration_seconds_bucket{operation="me",le="+Inf"} 1`,
		`keycard_logins_total{method="password",result="success"} 1`,
		`keycard_logins_total{method="password",result="failure"} 3`,
		`keycard_logins_total{method="password",result="rate_limited"} 1`,
		`keycard_refresh_token_reuse_total 1`,
		`keycard_revocations_total{kind="session"} 2`,
		`keycard_rate_limited_total{operation="login"} 1`,
		`keycard_password_hash_queue 0`,
		`keycard_password_hashes_total`,
		`keycard_revocation_list_entries 2`,
		`go_sql_max_open_connections{db_name="keycard"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestOneLogLinePerRequest(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	s := startSQLite(t, withLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	resp := s.do(t, request{Query: meQuery, header: http.Header{"X-Request-Id": {"log-line-1"}}})
	expectCode(t, resp, "UNAUTHENTICATED")
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(l), &entry) == nil && entry["msg"] == "request" && entry["request_id"] == "log-line-1" {
			if line != nil {
				t.Fatalf("two lines for one request:\n%s", logs.String())
			}
			line = entry
		}
	}
	if line == nil || line["operation"] != "me" || line["code"] != "UNAUTHENTICATED" || line["level"] != "INFO" ||
		line["method"] != "POST" || line["path"] != "/graphql" {
		t.Fatalf("request log line: %v\n%s", line, logs.String())
	}
	// Seconds, as a JSON number: what log pipelines sum and compare.
	if d, ok := line["duration_s"].(float64); !ok || d <= 0 || d > 10 || line["duration"] != nil {
		t.Errorf("duration_s %v (%T), want seconds as a number", line["duration_s"], line["duration_s"])
	}
}

func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withBuild(metrics.BuildInfo{Version: "1.2.3", Commit: "0123abc", GoVersion: runtime.Version()}))
	want := `keycard_build_info{commit="0123abc",goversion="` + runtime.Version() + `",version="1.2.3"} 1`
	if out := s.scrape(t); !strings.Contains(out, want) {
		t.Errorf("metrics lack %s", want)
	}
}

// The fail-closed gate of the revocation sync, visible before it trips:
// the copy's age against the bound at which token checks refuse.
func TestRevocationSyncGauges(t *testing.T) {
	t.Parallel()
	// Syncs far apart, so that only the test's clock ages the copy.
	s := startSQLite(t, withEnv("KEYCARD_REVOCATION_SYNC_INTERVAL", "1h"), withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "2h"))
	reg := s.register(t, "gauged", "open-sesame-42")
	expectOK(t, s.gql(t, reg.AccessToken, logoutMutation, nil))
	s.clock.Advance(90 * time.Second)
	out := s.scrape(t)
	for _, want := range []string{
		"keycard_revocation_sync_age_seconds 90\n",
		"keycard_revocation_max_staleness_seconds 7200\n",
		"keycard_revocation_list_entries 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
