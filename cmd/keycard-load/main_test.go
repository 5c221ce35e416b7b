package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
)

// The load tool against a real keycard: every scenario runs, counts
// requests, and finds no wrong answers.
func TestScenariosAgainstKeycard(t *testing.T) {
	env := map[string]string{
		"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "load.db"),
		"KEYCARD_JWT_SECRET":   "load-test-secret-0123456789abcdefghijkl",
		// Every client of the tool is one address, and loopback peers are
		// limited like any other: the register scenario needs its cap
		// lifted, as bench/run.sh does.
		"KEYCARD_RATE_LIMITS": "register.ip=0/1m",
	}
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cheap := auth.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	keycard, err := app.New(context.Background(), cfg, app.Options{PasswordParams: &cheap})
	if err != nil {
		t.Fatal(err)
	}
	defer keycard.Close()
	srv := httptest.NewServer(keycard.Handler())
	defer srv.Close()

	for _, scenario := range []string{"typename", "me", "login", "refresh", "register"} {
		t.Run(scenario, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"-url", srv.URL, "-scenario", scenario, "-c", "4", "-d", "300ms", "-warmup", "50ms", "-users", "4", "-json"}
			if scenario == "me" {
				args = append(args, "-background", "login", "-background-c", "2")
			}
			if err := run(args, &out); err != nil {
				t.Fatal(err)
			}
			var results []result
			if err := json.Unmarshal(out.Bytes(), &results); err != nil {
				t.Fatalf("output: %v\n%s", err, out.String())
			}
			// A run with a background measures the main scenario alone
			// first and says what share of that it kept.
			if scenario == "me" && (len(results) != 3 || results[0].Scenario != "me (idle)" || results[1].OfIdle <= 0) {
				t.Fatalf("idle and storm results: %+v", results)
			}
			for _, r := range results {
				if r.Requests == 0 || r.RPS <= 0 || r.Errors != 0 || r.Wrong != 0 || r.P99ms < r.P50ms {
					t.Fatalf("%+v", r)
				}
			}
		})
	}
}
