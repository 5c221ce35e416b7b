package app_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// warnings returns the WARN lines of logs that contain msg.
func warnings(logs *logBuffer, msg string) []string {
	var out []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

func jsonLogger(logs *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// A peer that is not a trusted proxy but sends forwarding headers is
// probably a proxy someone forgot to trust (all its clients would share its
// bucket), or a client lying: either way the headers are ignored and it is
// logged, once for that peer however often it sends them.
func TestForwardingHeadersFromUntrustedPeerAreIgnoredAndLoggedOnce(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	s := startSQLite(t, withLogger(jsonLogger(logs)), withEnv("KEYCARD_RATE_LIMITS", "register.ip=2/1m"))
	for i, header := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-For"} {
		value := "198.51.100.1"
		if header == "Forwarded" {
			value = "for=198.51.100.1"
		}
		resp := s.do(t, request{Query: registerMutation,
			Variables: loginVars(unique("fwd"), "open-sesame-42"),
			header:    http.Header{header: {value}}})
		if i < 2 {
			expectOK(t, resp)
			var p authPayload
			resp.into(t, "register", &p)
			if ip := s.sessions(t, p.AccessToken)[0].IP; ip != "127.0.0.1" {
				t.Fatalf("%s from an untrusted peer: session ip %q, want the peer's", header, ip)
			}
		} else {
			// The spoofed addresses never gave the peer a fresh bucket.
			expectCode(t, resp, "RATE_LIMITED")
		}
	}
	got := warnings(logs, "not a trusted proxy")
	if len(got) != 1 || !strings.Contains(got[0], `"peer":"127.0.0.1"`) || !strings.Contains(got[0], `"header":"X-Forwarded-For"`) {
		t.Fatalf("warnings about the untrusted peer: %q, want exactly one naming it", got)
	}
	if strings.Contains(logs.String(), "198.51.100.1") {
		t.Fatal("the forged address was logged")
	}
}

// A trusted proxy that forwards no client address, or an unparseable one,
// must neither make its clients unlimited nor put them in one bucket
// silently: they count as the nearest trusted hop, and that is logged once
// per proxy.
func TestTrustedProxyWithoutAUsableHopCountsAsOneClientAndIsLogged(t *testing.T) {
	eachLimiter(t, func(t *testing.T, dbURL string, opts []serverOption) {
		for name, header := range map[string]http.Header{
			"missing":     nil,
			"unparseable": {"X-Forwarded-For": {"unknown"}},
			"empty":       {"X-Forwarded-For": {""}},
		} {
			t.Run(name, func(t *testing.T) {
				if url := envOf(opts)["KEYCARD_REDIS_URL"]; url != "" {
					flushRedis(t, url)
				}
				logs := &logBuffer{}
				s := startServer(t, dbURL, append(opts, withLogger(jsonLogger(logs)))...)
				var first *response
				for range 3 {
					resp := s.do(t, request{Query: registerMutation, Variables: loginVars(unique("hop"), "open-sesame-42"), header: header})
					if first == nil {
						first = resp
					}
				}
				expectOK(t, first)
				var p authPayload
				first.into(t, "register", &p)
				if ip := s.sessions(t, p.AccessToken)[0].IP; ip != "127.0.0.1" {
					t.Fatalf("session ip = %q, want the proxy's", ip)
				}
				// The proxy's bucket holds: limited, not unlimited.
				expectCode(t, s.do(t, request{Query: registerMutation, Variables: loginVars(unique("hop"), "open-sesame-42"), header: header}), "RATE_LIMITED")
				if got := warnings(logs, "trusted proxy"); len(got) != 1 || !strings.Contains(got[0], `"peer":"127.0.0.1"`) {
					t.Fatalf("warnings: %q, want one naming the proxy", got)
				}
			})
		}
	}, behindProxy, withEnv("KEYCARD_RATE_LIMITS", "register.ip=2/1m"))
}
