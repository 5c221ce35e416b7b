package requestlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddlewareKeepsASaneIDAndReplacesOthers(t *testing.T) {
	tests := []struct {
		name, incoming string
		kept           bool
	}{
		{"proxy's id", "req-7f3a", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", maxIncoming+1), false},
		{"line break", "a\nlevel=ERROR msg=forged", false},
		{"quote", `a"b`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			handler := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = ID(r.Context()) }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header.Set(IDHeader, tt.incoming)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if echoed := rec.Header().Get(IDHeader); echoed != seen || seen == "" {
				t.Fatalf("handler saw %q, response says %q", seen, echoed)
			}
			if (seen == tt.incoming) != tt.kept {
				t.Errorf("incoming %q, id %q; kept = %v, want %v", tt.incoming, seen, seen == tt.incoming, tt.kept)
			}
		})
	}
}

func TestNoteFillsTheOutcomeOfItsRequestOnly(t *testing.T) {
	Note(context.Background(), "login", "OK") // nobody listening: no effect, no panic
	ctx, outcome := WithOutcome(context.Background())
	Note(ctx, "oauth.token", "invalid_grant")
	if outcome.Operation != "oauth.token" || outcome.Code != "invalid_grant" {
		t.Errorf("outcome %+v", outcome)
	}
}

func TestTraceparentFollowsW3CTraceContext(t *testing.T) {
	const trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name, value string
		continued   bool
	}{
		{"sampled", "00-" + trace + "-" + parent + "-01", true},
		{"not sampled", "00-" + trace + "-" + parent + "-00", true},
		{"later version with more fields", "cc-" + trace + "-" + parent + "-01-what-comes-next", true},
		{"version 00 with more fields", "00-" + trace + "-" + parent + "-01-extra", false},
		{"version ff", "ff-" + trace + "-" + parent + "-01", false},
		{"upper case", "00-" + strings.ToUpper(trace) + "-" + parent + "-01", false},
		{"zero trace id", "00-00000000000000000000000000000000-" + parent + "-01", false},
		{"zero parent id", "00-" + trace + "-0000000000000000-01", false},
		{"short", "00-" + trace[:31] + "-" + parent + "-01", false},
		{"garbage", "hello", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			handler := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = TraceID(r.Context()) }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set(TraceparentHeader, tt.value)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if (seen == trace) != tt.continued {
				t.Errorf("trace id %q; continued = %v, want %v", seen, seen == trace, tt.continued)
			}
			answer := rec.Header().Get(TraceparentHeader)
			got, _, ok := parseTraceparent(answer)
			if !ok || got != seen || strings.Contains(answer, parent) {
				t.Errorf("answered traceparent %q for trace %q: want a valid one with our own span", answer, seen)
			}
		})
	}
	t.Run("two headers", func(t *testing.T) {
		var seen string
		handler := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = TraceID(r.Context()) }))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Add(TraceparentHeader, "00-"+trace+"-"+parent+"-01")
		req.Header.Add(TraceparentHeader, "00-"+trace+"-"+parent+"-01")
		handler.ServeHTTP(httptest.NewRecorder(), req)
		if seen == trace || len(seen) != 32 {
			t.Errorf("ambiguous trace context continued: %q", seen)
		}
	})
}

func TestHandlerAddsTheRequestsIDsOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil)))
	handler := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		NoteUser(r.Context(), "user-1", "session-1")
		log.InfoContext(r.Context(), "inside", "request_id", "explicit")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(IDHeader, "req-1")
	handler.ServeHTTP(httptest.NewRecorder(), req)
	log.Info("outside")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var inside, outside map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &inside) != nil || json.Unmarshal([]byte(lines[1]), &outside) != nil {
		t.Fatalf("log:\n%s", buf.String())
	}
	if strings.Count(lines[0], `"request_id"`) != 1 || inside["request_id"] != "explicit" ||
		inside["user_id"] != "user-1" || inside["session_id"] != "session-1" || len(inside["trace_id"].(string)) != 32 {
		t.Errorf("inside the request: %s", lines[0])
	}
	if outside["request_id"] != nil || outside["trace_id"] != nil {
		t.Errorf("outside any request: %s", lines[1])
	}
}
