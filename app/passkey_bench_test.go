package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keycard/keycard/passkeytest"
	"github.com/keycard/keycard/store/storetest"
)

// BenchmarkFinishPasskeyLogin measures finishPasskeyLogin through the whole
// HTTP handler: taking the challenge, reading the passkey and its user,
// verifying the ES256 assertion, and the transaction that records the use
// and opens the session. Each op finishes a login begun (and answered by
// the software authenticator) before the timer started, spread over
// passkeyBenchUsers users so that the session cap stays out of it. The
// passkeys keep no counter (synced passkeys), so logins in parallel never
// race on one.
func BenchmarkFinishPasskeyLogin(b *testing.B) {
	for _, db := range storetest.Databases(b) {
		b.Run(db.Name, func(b *testing.B) {
			s := startServer(b, db.URL(b), withEnv("KEYCARD_RATE_LIMITS", "off"), withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "1h"))
			authenticators := make([]*passkeytest.Authenticator, passkeyBenchUsers)
			for i := range authenticators {
				reg := s.register(b, fmt.Sprintf("bench%d", i), "open-sesame-42")
				authenticators[i] = passkeytest.New(passkeyOrigin)
				authenticators[i].ZeroSignCount = true
				s.addPasskey(b, reg.AccessToken, authenticators[i], "bench")
			}
			bodies := make(chan string, b.N)
			for i := range b.N {
				c := s.beginPasskeyLogin(b, nil)
				credential, err := authenticators[i%passkeyBenchUsers].Get(c.Options)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := json.Marshal(request{Query: finishPasskeyLoginMutation, Variables: map[string]any{"challengeId": c.ChallengeID, "credential": credential}})
				bodies <- string(body)
			}
			close(bodies)
			h := s.app.Handler()
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(<-bodies))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
						b.Fatalf("%d: %s", rec.Code, rec.Body.String())
					}
				}
			})
		})
	}
}

// passkeyBenchUsers spreads the benchmark's logins: far fewer sessions per
// user than the cap for any b.N the benchmark reaches in seconds.
const passkeyBenchUsers = 50
