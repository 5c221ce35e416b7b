package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMiddlewarePutsOutcomeInContext(t *testing.T) {
	verified := &Claims{SessionID: testSession}
	verified.Subject = testUserID
	authenticate := func(header string) (*Claims, error) {
		if header == "Bearer good" {
			return verified, nil
		}
		return nil, ErrInvalidToken
	}
	tests := []struct {
		name       string
		headers    []string
		wantClaims *Claims
		wantErr    error
		wantCalls  int
	}{
		{"no header is anonymous", nil, nil, ErrNotAuthenticated, 0},
		{"good token", []string{"Bearer good"}, verified, nil, 1},
		{"bad token is not anonymous", []string{"Bearer bad"}, nil, ErrInvalidToken, 1},
		// Proxies may forward either of two credentials; accept neither.
		{"two headers", []string{"Bearer good", "Bearer good"}, nil, ErrInvalidToken, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			counting := func(_ context.Context, header string) (*Claims, error) {
				calls++
				return authenticate(header)
			}
			var gotClaims *Claims
			var gotErr error
			handler := Middleware(counting)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotClaims, gotErr = ForContext(r.Context())
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			handler.ServeHTTP(httptest.NewRecorder(), req)

			if gotClaims != tt.wantClaims {
				t.Errorf("ForContext claims = %v, want %v", gotClaims, tt.wantClaims)
			}
			if !errors.Is(gotErr, tt.wantErr) || (tt.wantErr == nil) != (gotErr == nil) {
				t.Errorf("ForContext error = %v, want %v", gotErr, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("authenticate called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestClientFromContext(t *testing.T) {
	if got := ClientFrom(context.Background()); got != (Client{}) {
		t.Errorf("ClientFrom(empty context) = %+v, want zero", got)
	}
	want := Client{IP: "192.0.2.1", UserAgent: "test"}
	if got := ClientFrom(WithClient(context.Background(), want)); got != want {
		t.Errorf("ClientFrom = %+v, want %+v", got, want)
	}
}
