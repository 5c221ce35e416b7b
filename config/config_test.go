package config

import (
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := LoadEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.DatabaseURL != "sqlite:keycard.db" || cfg.Mode != Development ||
		cfg.AccessTTL != 15*time.Minute || cfg.RefreshTTL != 720*time.Hour ||
		cfg.Issuer != "keycard" || cfg.Audience != "keycard" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestProductionRequiresSecret(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production"}))
	if err == nil || !strings.Contains(err.Error(), "KEYCARD_JWT_SECRET is required") {
		t.Fatalf("want a clear refusal, got %v", err)
	}
	_, err = LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_JWT_SECRET": strings.Repeat("s", 32)}))
	if err != nil {
		t.Fatalf("a 32-byte secret must do: %v", err)
	}
}

func TestShortSecretIsRefusedInEveryMode(t *testing.T) {
	for _, mode := range []string{"development", "production"} {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": mode, "KEYCARD_JWT_SECRET": strings.Repeat("s", 31)}))
		if err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
			t.Fatalf("%s: want refusal of a 31-byte secret, got %v", mode, err)
		}
	}
}

func TestInvalidValuesAreReportedTogether(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{
		"KEYCARD_ENV":        "staging",
		"KEYCARD_ACCESS_TTL": "forever",
		"KEYCARD_LOG_LEVEL":  "loud",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"KEYCARD_ENV", "KEYCARD_ACCESS_TTL", "KEYCARD_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestRefreshMustOutliveAccess(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ACCESS_TTL": "2h", "KEYCARD_REFRESH_TTL": "1h"}))
	if err == nil {
		t.Fatal("refresh TTL shorter than access TTL accepted")
	}
}

// config reads the syntax of rate-limit overrides; which operations and
// dimensions exist is auth's to say, so config passes any name on.
func TestRateLimitsAreParsedForSyntaxOnly(t *testing.T) {
	cfg, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMITS": "login.username=3/1m, future.thing=0/10s"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []RateLimit{
		{Operation: "login", Dimension: "username", Events: 3, Per: time.Minute},
		{Operation: "future", Dimension: "thing", Events: 0, Per: 10 * time.Second},
	}
	if len(cfg.RateLimits) != len(want) || cfg.RateLimits[0] != want[0] || cfg.RateLimits[1] != want[1] {
		t.Fatalf("RateLimits = %+v, want %+v", cfg.RateLimits, want)
	}

	for _, bad := range []string{"login.username", "login=3/1m", ".ip=3/1m", "login.=3/1m", "login.ip=x/1m", "login.ip=-1/1m", "login.ip=3/soon", "login.ip=3/0s"} {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMITS": bad}))
		if err == nil || !strings.Contains(err.Error(), "KEYCARD_RATE_LIMITS") || !strings.Contains(err.Error(), bad) {
			t.Errorf("KEYCARD_RATE_LIMITS=%s: %v, want an error quoting it", bad, err)
		}
	}
}

func TestRateLimitsOff(t *testing.T) {
	cfg, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMITS": "OFF"}))
	if err != nil || !cfg.RateLimitsOff || len(cfg.RateLimits) != 0 {
		t.Fatalf("off: %+v, %v", cfg, err)
	}
}

func TestMaxSessionsPerUser(t *testing.T) {
	cfg, err := LoadEnv(env(nil))
	if err != nil || cfg.MaxSessionsPerUser != 100 {
		t.Fatalf("default KEYCARD_MAX_SESSIONS_PER_USER = %d, %v; want 100", cfg.MaxSessionsPerUser, err)
	}
	for _, bad := range []string{"0", "-1", "many"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_MAX_SESSIONS_PER_USER": bad})); err == nil || !strings.Contains(err.Error(), "KEYCARD_MAX_SESSIONS_PER_USER") {
			t.Errorf("KEYCARD_MAX_SESSIONS_PER_USER=%s: %v, want a refusal naming it", bad, err)
		}
	}
}

func TestHashConcurrency(t *testing.T) {
	cfg, err := LoadEnv(env(nil))
	if err != nil || cfg.HashConcurrency != 0 {
		t.Fatalf("default KEYCARD_HASH_CONCURRENCY = %d, %v; want 0 (auth's default, half the cores)", cfg.HashConcurrency, err)
	}
	cfg, err = LoadEnv(env(map[string]string{"KEYCARD_HASH_CONCURRENCY": "3"}))
	if err != nil || cfg.HashConcurrency != 3 {
		t.Fatalf("KEYCARD_HASH_CONCURRENCY=3: %d, %v", cfg.HashConcurrency, err)
	}
	for _, bad := range []string{"0", "-2", "half"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_HASH_CONCURRENCY": bad})); err == nil || !strings.Contains(err.Error(), "KEYCARD_HASH_CONCURRENCY") {
			t.Errorf("KEYCARD_HASH_CONCURRENCY=%s: %v, want a refusal naming it", bad, err)
		}
	}
}
