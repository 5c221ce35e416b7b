package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keycard/keycard/store/storetest"
)

// BenchmarkMe measures the hot path in process: a `me` request through the
// whole HTTP handler (middleware, token verification, revocation check,
// GraphQL execution, one user read), against each database.
func BenchmarkMe(b *testing.B) {
	for _, db := range storetest.Databases(b) {
		b.Run(db.Name, func(b *testing.B) {
			s := startServer(b, db.URL(b))
			token := s.register(b, "bench", "open-sesame-42").AccessToken
			benchGraphQL(b, s, `{"query":"query Me { me { id username } }"}`, token)
		})
	}
}

// BenchmarkTypename is the floor: the same handler answering { __typename }.
func BenchmarkTypename(b *testing.B) {
	for _, db := range storetest.Databases(b) {
		b.Run(db.Name, func(b *testing.B) {
			s := startServer(b, db.URL(b))
			benchGraphQL(b, s, `{"query":"{ __typename }"}`, "")
		})
	}
}

func benchGraphQL(b *testing.B, s *server, body, token string) {
	h := s.app.Handler()
	b.ReportAllocs()
	// Many requests in flight, as under real load: database waits overlap.
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
				b.Fatalf("%d: %s", rec.Code, rec.Body.String())
			}
		}
	})
}
