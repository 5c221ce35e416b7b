package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/requestlog"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A resolver that panics (here: `me` with no service behind it, a nil
// dereference) must not take the process down or show the client anything
// but a request id to quote.
func TestPanicInResolverIsInternalErrorWithRequestID(t *testing.T) {
	logs := &syncBuffer{}
	claims := &auth.Claims{SessionID: "0196a7e0-0000-7000-8000-000000000001"}
	claims.Subject = "0196a7e0-0000-7000-8000-000000000002"
	// The middleware as app mounts it, with a verifier that accepts the
	// test's token: the resolver then runs as a signed-in user.
	verified := func(context.Context, string) (*auth.Claims, error) { return claims, nil }
	handler := auth.Middleware(verified)(NewHandler(nil, Options{
		QueryLimits: QueryLimits{MaxDepth: 10, MaxIntrospectionDepth: 20, MaxComplexity: 100, MaxAliases: 10, MaxSelections: 40, MaxDocumentBytes: 4096, MaxBatch: 2},
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
	}))

	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer test-token")
	req = req.WithContext(requestlog.WithID(req.Context(), "req-42"))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)

	var resp struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response %d is not JSON: %s", rec.Code, rec.Body)
	}
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != CodeInternal || resp.Errors[0].Extensions["requestId"] != "req-42" {
		t.Fatalf("response: %s", rec.Body)
	}
	if resp.Errors[0].Message != "internal server error" {
		t.Fatalf("message shows internals: %q", resp.Errors[0].Message)
	}
	for _, leak := range []string{"panic", "goroutine", ".go:", "nil pointer"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Fatalf("response leaks %q: %s", leak, rec.Body)
		}
	}
	log := logs.String()
	for _, want := range []string{"req-42", "panic", "goroutine", "nil pointer"} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %q: %s", want, log)
		}
	}
}
