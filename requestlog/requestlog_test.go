package requestlog

import (
	"context"
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
