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
		cfg.Issuer != "http://localhost:8080" || cfg.PublicURL != "http://localhost:8080" || cfg.Audience != "keycard" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

// productionSecret is a secret production accepts.
const productionSecret = "T9v4qLw2Zx8eR1mN6bY3cK7pH0sJ5dFg"

func TestProductionRequiresSecret(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com"}))
	if err == nil || !strings.Contains(err.Error(), "KEYCARD_JWT_SECRET is required") {
		t.Fatalf("want a clear refusal, got %v", err)
	}
	_, err = LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com", "KEYCARD_JWT_SECRET": productionSecret}))
	if err != nil {
		t.Fatalf("a 32-byte secret must do: %v", err)
	}
}

// The issuer rule: iss and the metadata's issuer are KEYCARD_ISSUER, else
// KEYCARD_PUBLIC_URL, else in development http://localhost:PORT; the
// metadata's URLs come from KEYCARD_PUBLIC_URL (the same default).
func TestIssuerAndPublicURL(t *testing.T) {
	for _, tt := range []struct {
		name                string
		vars                map[string]string
		wantIssuer, wantURL string
	}{
		{"development default", nil, "http://localhost:8080", "http://localhost:8080"},
		{"port from KEYCARD_ADDR", map[string]string{"KEYCARD_ADDR": "127.0.0.1:9000"}, "http://localhost:9000", "http://localhost:9000"},
		{"public URL", map[string]string{"KEYCARD_PUBLIC_URL": "https://auth.example.com/"}, "https://auth.example.com", "https://auth.example.com"},
		{"public URL with a path", map[string]string{"KEYCARD_PUBLIC_URL": "https://example.com/auth"}, "https://example.com/auth", "https://example.com/auth"},
		{"issuer set", map[string]string{"KEYCARD_PUBLIC_URL": "https://auth.example.com", "KEYCARD_ISSUER": "https://id.example.com"}, "https://id.example.com", "https://auth.example.com"},
		{"issuer set, development", map[string]string{"KEYCARD_ISSUER": "https://id.example.com"}, "https://id.example.com", "http://localhost:8080"},
		{"production", map[string]string{"KEYCARD_ENV": "production", "KEYCARD_JWT_SECRET": productionSecret, "KEYCARD_PUBLIC_URL": "https://auth.example.com"}, "https://auth.example.com", "https://auth.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadEnv(env(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Issuer != tt.wantIssuer || cfg.PublicURL != tt.wantURL {
				t.Fatalf("issuer %q, public URL %q; want %q, %q", cfg.Issuer, cfg.PublicURL, tt.wantIssuer, tt.wantURL)
			}
		})
	}
}

func TestProductionRequiresPublicURL(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_JWT_SECRET": productionSecret, "KEYCARD_ISSUER": "https://id.example.com"}))
	if err == nil || !strings.Contains(err.Error(), "KEYCARD_PUBLIC_URL is required in production") {
		t.Fatalf("want a refusal naming KEYCARD_PUBLIC_URL, got %v", err)
	}
	for _, bad := range []string{"auth.example.com", "ftp://auth.example.com", "https://", "https://auth.example.com?x=1", "https://user:pw@auth.example.com", "https://auth.example.com/#top"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_PUBLIC_URL": bad})); err == nil || !strings.Contains(err.Error(), "KEYCARD_PUBLIC_URL") {
			t.Errorf("KEYCARD_PUBLIC_URL=%s: %v, want a refusal", bad, err)
		}
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

func TestIPv6PrefixOfRateLimits(t *testing.T) {
	cfg, err := LoadEnv(env(nil))
	if err != nil || cfg.RateLimitIPv6Prefix != 64 {
		t.Fatalf("default: %d, %v; want 64", cfg.RateLimitIPv6Prefix, err)
	}
	cfg, err = LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMIT_IPV6_PREFIX": "56"}))
	if err != nil || cfg.RateLimitIPv6Prefix != 56 {
		t.Fatalf("56: %d, %v", cfg.RateLimitIPv6Prefix, err)
	}
	for _, bad := range []string{"0", "16", "129", "/64", "wide"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMIT_IPV6_PREFIX": bad})); err == nil || !strings.Contains(err.Error(), "KEYCARD_RATE_LIMIT_IPV6_PREFIX") {
			t.Errorf("%q: %v, want a refusal naming the variable", bad, err)
		}
	}
}

// The loopback exemption is gone; a deployment still setting the variable
// is told what to do instead rather than silently getting new behaviour.
func TestRemovedLoopbackExemptionIsRefusedWithAdvice(t *testing.T) {
	for _, value := range []string{"on", "off"} {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMIT_LOOPBACK": value}))
		if err == nil || !strings.Contains(err.Error(), "KEYCARD_TRUSTED_PROXIES") {
			t.Errorf("KEYCARD_RATE_LIMIT_LOOPBACK=%s: %v, want a refusal pointing at KEYCARD_TRUSTED_PROXIES", value, err)
		}
	}
}

// Production refuses a secret with too little entropy, judged on its bytes
// as given; development takes any secret of the right length.
func TestProductionRefusesLowEntropySecrets(t *testing.T) {
	prod := func(secret string) error {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com", "KEYCARD_JWT_SECRET": secret}))
		return err
	}
	for name, secret := range map[string]string{
		"one byte":               strings.Repeat("a", 32),
		"two bytes alternating":  strings.Repeat("ab", 16),
		"16 bytes, twice":        strings.Repeat("0123456789abcdef", 2),
		"a word, repeated":       strings.Repeat("password", 5),
		"a pattern, cut short":   strings.Repeat("k3y!Secr", 4) + "k3y",
		"one byte, a few others": strings.Repeat("a", 40) + "bcdefghij",
	} {
		if err := prod(secret); err == nil || !strings.Contains(err.Error(), "too little entropy") {
			t.Errorf("%s (%q): %v, want a refusal", name, secret, err)
		}
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_JWT_SECRET": secret})); err != nil {
			t.Errorf("%s in development: %v", name, err)
		}
	}
	for name, secret := range map[string]string{
		"openssl rand -base64 48": "q8Zf0b4m1tXkV9rH2sLw7cYp3nDe6gJa5uRiBo1vFzKxQy8TlMWhSe0dPjNU4CAr",
		"openssl rand -hex 32":    "3f9a1c7e5b2d8f4a6c0e9b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a",
		"openssl rand -hex 16":    "9f3b2a7c1e5d8b4f0a6c2e9d7b3f1a5c",
		"a passphrase":            "correct horse battery staple 1984",
		"the test secret":         productionSecret,
	} {
		if err := prod(secret); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRepeatedPeriod(t *testing.T) {
	for s, want := range map[string]int{"": 0, "a": 0, "aa": 1, "abab": 2, "abcabcab": 3, "abcab": 0, "abcd": 0, "aab": 0} {
		if got := repeatedPeriod(s); got != want {
			t.Errorf("repeatedPeriod(%q) = %d, want %d", s, got, want)
		}
	}
}
