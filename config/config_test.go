package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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
	cfg, err := LoadEnv(env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.DatabaseURL != "sqlite:keycard.db" || cfg.Mode != Development ||
		cfg.AccessTTL != 15*time.Minute || cfg.RefreshTTL != 720*time.Hour ||
		cfg.Issuer != "http://localhost:8080" || cfg.PublicURL != "http://localhost:8080" || cfg.Audience != "keycard" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestProductionRequiresSecret(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com"}), nil)
	if err == nil || !strings.Contains(err.Error(), "KEYCARD_JWT_SECRET is required") {
		t.Fatalf("want a clear refusal, got %v", err)
	}
	_, err = LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com", "KEYCARD_JWT_SECRET": productionSecret}), nil)
	if err != nil {
		t.Fatalf("a 32-byte secret must do: %v", err)
	}
}

func TestShortSecretIsRefusedInEveryMode(t *testing.T) {
	for _, mode := range []string{"development", "production"} {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": mode, "KEYCARD_JWT_SECRET": strings.Repeat("s", 31)}), nil)
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
	}), nil)
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
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ACCESS_TTL": "2h", "KEYCARD_REFRESH_TTL": "1h"}), nil)
	if err == nil {
		t.Fatal("refresh TTL shorter than access TTL accepted")
	}
}

func TestRateLimitsAreParsedForSyntaxOnly(t *testing.T) {
	cfg, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMITS": "login.username=3/1m, future.thing=0/10s"}), nil)
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
		_, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMITS": bad}), nil)
		if err == nil || !strings.Contains(err.Error(), "KEYCARD_RATE_LIMITS") || !strings.Contains(err.Error(), bad) {
			t.Errorf("KEYCARD_RATE_LIMITS=%s: %v, want an error quoting it", bad, err)
		}
	}
}

func TestRateLimitsOff(t *testing.T) {
	cfg, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMITS": "OFF"}), nil)
	if err != nil || !cfg.RateLimitsOff || len(cfg.RateLimits) != 0 {
		t.Fatalf("off: %+v, %v", cfg, err)
	}
}

func TestPlaygroundIsOnInDevelopmentAndOffInProductionUnlessSet(t *testing.T) {
	secret := "Zq8-vW1xL4mN7pR0tY3uB6cE9gH2jK5o"
	for _, tc := range []struct {
		mode, setting string
		want          bool
	}{
		{"development", "", true},
		{"development", "off", false},
		{"production", "", false},
		{"production", "on", true},
	} {
		vars := map[string]string{"KEYCARD_ENV": tc.mode, "KEYCARD_JWT_SECRET": secret, "KEYCARD_PUBLIC_URL": "https://auth.example.com"}
		if tc.setting != "" {
			vars["KEYCARD_PLAYGROUND"] = tc.setting
		}
		cfg, err := LoadEnv(env(vars), nil)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.mode, tc.setting, err)
		}
		if cfg.Playground != tc.want {
			t.Errorf("%s with KEYCARD_PLAYGROUND=%q: playground %v, want %v", tc.mode, tc.setting, cfg.Playground, tc.want)
		}
	}
	if _, err := LoadEnv(env(map[string]string{"KEYCARD_PLAYGROUND": "sometimes"}), nil); err == nil || !strings.Contains(err.Error(), "KEYCARD_PLAYGROUND") {
		t.Fatalf("want a refusal naming KEYCARD_PLAYGROUND, got %v", err)
	}
}

// environOf lists vars as os.Environ does.
func environOf(vars map[string]string) func() []string {
	return func() []string {
		var kv []string
		for k, v := range vars {
			kv = append(kv, k+"="+v)
		}
		return kv
	}
}

func TestUnknownVariablesNameTheNearestKnownOne(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"KEYCARD_JWT_SECERT", "KEYCARD_JWT_SECRET"},
		{"KEYCARD_DB_URL", "KEYCARD_DATABASE_URL"},
		{"KEYCARD_CORS_ORIGIN", "KEYCARD_CORS_ORIGINS"},
		{"KEYCARD_DATABASE", "KEYCARD_DATABASE_URL"},
		{"KEYCARD_LOGLEVEL", "KEYCARD_LOG_LEVEL"},
		{"KEYCARD_REDIS", "KEYCARD_REDIS_URL"},
		{"KEYCARD_ACCESS_TOKEN_TTL", "KEYCARD_ACCESS_TTL"},
		{"KEYCARD_jwt_secret", "KEYCARD_JWT_SECRET"},
		{"KEYCARD_FAVOURITE_COLOUR", ""}, // nothing is near: no guess
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			vars := map[string]string{tt.typed: "x"}
			cfg, err := LoadEnv(env(vars), environOf(vars))
			if err != nil {
				t.Fatalf("development: %v, want a warning only", err)
			}
			if len(cfg.Unknown) != 1 || cfg.Unknown[0] != (UnknownVar{Name: tt.typed, Suggestion: tt.want}) {
				t.Fatalf("Unknown = %+v, want %s → %q", cfg.Unknown, tt.typed, tt.want)
			}
			vars["KEYCARD_ENV"] = "production"
			vars["KEYCARD_JWT_SECRET"] = strings.Repeat("s", 32)
			_, err = LoadEnv(env(vars), environOf(vars))
			if err == nil || !strings.Contains(err.Error(), tt.typed) || (tt.want != "" && !strings.Contains(err.Error(), "did you mean "+tt.want+"?")) {
				t.Fatalf("production: %v, want a refusal naming %s and %q", err, tt.typed, tt.want)
			}
		})
	}
}

func TestKnownAndForeignVariablesAreNotReported(t *testing.T) {
	vars := map[string]string{
		"KEYCARD_ENV":            "production",
		"KEYCARD_JWT_SECRET":     productionSecret,
		"KEYCARD_PUBLIC_URL":     "https://auth.example.com",
		"KEYCARD_TEST_MYSQL_URL": "mysql://root@127.0.0.1:3306/test", // the tests' own switch
		"PATH":                   "/usr/bin",
		"GOMEMLIMIT":             "1GiB",
		"MY_KEYCARD_THING":       "x",
	}
	cfg, err := LoadEnv(env(vars), environOf(vars))
	if err != nil || len(cfg.Unknown) != 0 {
		t.Fatalf("LoadEnv = %v, Unknown %v; want neither", err, cfg.Unknown)
	}
}

// Every KEYCARD_ variable the code names must be in Vars: the unknown-name
// check and --help both read that list, so one missing from it would be
// refused in production although keycard reads it.
func TestEveryVariableInTheCodeIsListed(t *testing.T) {
	known := map[string]bool{}
	for _, v := range Vars() {
		known[v.Name] = true
	}
	name := regexp.MustCompile(`"(KEYCARD_[A-Z0-9_]+)"`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range name.FindAllStringSubmatch(string(src), -1) {
			if !known[m[1]] && !strings.HasPrefix(m[1], testPrefix) && removedVars[m[1]] == "" {
				t.Errorf("%s names %s, which config.Vars does not list", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDurationsTakeDays(t *testing.T) {
	cfg, err := LoadEnv(env(map[string]string{"KEYCARD_REFRESH_TTL": "30d", "KEYCARD_AUDIT_RETENTION": "1d12h", "KEYCARD_RATE_LIMITS": "register.ip=100/1d"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RefreshTTL != 720*time.Hour || cfg.AuditRetention != 36*time.Hour || cfg.RateLimits[0].Per != 24*time.Hour {
		t.Fatalf("RefreshTTL %v, AuditRetention %v, rate per %v", cfg.RefreshTTL, cfg.AuditRetention, cfg.RateLimits[0].Per)
	}
	for _, bad := range []string{"d", "1.5d", "-1d", "30days", "99999d", "1dd"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

// The example in a duration error is the variable's own default: the
// refresh lifetime is explained as 720h, not as an access-token-sized 15m.
func TestDurationErrorsGiveTheVariablesOwnExample(t *testing.T) {
	_, err := LoadEnv(env(map[string]string{"KEYCARD_REFRESH_TTL": "a month", "KEYCARD_ACCESS_TTL": "0"}), nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`KEYCARD_REFRESH_TTL: "a month" is not a positive duration such as 720h`, `KEYCARD_ACCESS_TTL: "0" is not a positive duration such as 15m`, "d)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestListenAddressesNeedHostAndPort(t *testing.T) {
	for _, good := range []string{":8080", "127.0.0.1:0", "[::1]:8080", "localhost:9000"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_ADDR": good, "KEYCARD_METRICS_ADDR": good}), nil); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	tests := []struct{ name, addr, want string }{
		{"KEYCARD_ADDR", "8080", "to listen on port 8080 of every interface write :8080"},
		{"KEYCARD_ADDR", "localhost", "is not HOST:PORT, e.g. :8080"},
		{"KEYCARD_ADDR", ":http", "is not HOST:PORT"},
		{"KEYCARD_ADDR", ":99999", "is not HOST:PORT"},
		{"KEYCARD_METRICS_ADDR", "9090", "write :9090"},
	}
	for _, tt := range tests {
		_, err := LoadEnv(env(map[string]string{tt.name: tt.addr}), nil)
		if err == nil || !strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%s: %v, want %q", tt.name, tt.addr, err, tt.want)
		}
	}
}

func TestMigrateMode(t *testing.T) {
	for value, want := range map[string]Migrate{"": MigrateAuto, "auto": MigrateAuto, "OFF": MigrateOff, "check": MigrateCheck} {
		cfg, err := LoadEnv(env(map[string]string{"KEYCARD_MIGRATE": value}), nil)
		if err != nil || cfg.Migrate != want {
			t.Errorf("KEYCARD_MIGRATE=%q: %v, %v; want %v", value, cfg.Migrate, err, want)
		}
	}
	if _, err := LoadEnv(env(map[string]string{"KEYCARD_MIGRATE": "yes"}), nil); err == nil || !strings.Contains(err.Error(), "auto, off or check") {
		t.Errorf("KEYCARD_MIGRATE=yes: %v", err)
	}
}

// productionSecret is a secret production accepts.
const productionSecret = "T9v4qLw2Zx8eR1mN6bY3cK7pH0sJ5dFg"

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
			cfg, err := LoadEnv(env(tt.vars), nil)
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
	_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_JWT_SECRET": productionSecret, "KEYCARD_ISSUER": "https://id.example.com"}), nil)
	if err == nil || !strings.Contains(err.Error(), "KEYCARD_PUBLIC_URL is required in production") {
		t.Fatalf("want a refusal naming KEYCARD_PUBLIC_URL, got %v", err)
	}
	for _, bad := range []string{"auth.example.com", "ftp://auth.example.com", "https://", "https://auth.example.com?x=1", "https://user:pw@auth.example.com", "https://auth.example.com/#top"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_PUBLIC_URL": bad}), nil); err == nil || !strings.Contains(err.Error(), "KEYCARD_PUBLIC_URL") {
			t.Errorf("KEYCARD_PUBLIC_URL=%s: %v, want a refusal", bad, err)
		}
	}
}

// config reads the syntax of rate-limit overrides; which operations and
// dimensions exist is auth's to say, so config passes any name on.
func TestIPv6PrefixOfRateLimits(t *testing.T) {
	cfg, err := LoadEnv(env(nil), nil)
	if err != nil || cfg.RateLimitIPv6Prefix != 64 {
		t.Fatalf("default: %d, %v; want 64", cfg.RateLimitIPv6Prefix, err)
	}
	cfg, err = LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMIT_IPV6_PREFIX": "56"}), nil)
	if err != nil || cfg.RateLimitIPv6Prefix != 56 {
		t.Fatalf("56: %d, %v", cfg.RateLimitIPv6Prefix, err)
	}
	for _, bad := range []string{"0", "16", "129", "/64", "wide"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMIT_IPV6_PREFIX": bad}), nil); err == nil || !strings.Contains(err.Error(), "KEYCARD_RATE_LIMIT_IPV6_PREFIX") {
			t.Errorf("%q: %v, want a refusal naming the variable", bad, err)
		}
	}
}

// The loopback exemption is gone; a deployment still setting the variable
// is told what to do instead rather than silently getting new behaviour.
func TestRemovedLoopbackExemptionIsRefusedWithAdvice(t *testing.T) {
	for _, value := range []string{"on", "off"} {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_RATE_LIMIT_LOOPBACK": value}), nil)
		if err == nil || !strings.Contains(err.Error(), "KEYCARD_TRUSTED_PROXIES") {
			t.Errorf("KEYCARD_RATE_LIMIT_LOOPBACK=%s: %v, want a refusal pointing at KEYCARD_TRUSTED_PROXIES", value, err)
		}
	}
}

// Production refuses a secret with too little entropy, judged on its bytes
// as given; development takes any secret of the right length.
func TestProductionRefusesLowEntropySecrets(t *testing.T) {
	prod := func(secret string) error {
		_, err := LoadEnv(env(map[string]string{"KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": "https://auth.example.com", "KEYCARD_JWT_SECRET": secret}), nil)
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
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_JWT_SECRET": secret}), nil); err != nil {
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

// config reads the syntax of rate-limit overrides; which operations and
// dimensions exist is auth's to say, so config passes any name on.
func TestMaxSessionsPerUser(t *testing.T) {
	cfg, err := LoadEnv(env(nil), nil)
	if err != nil || cfg.MaxSessionsPerUser != 100 {
		t.Fatalf("default KEYCARD_MAX_SESSIONS_PER_USER = %d, %v; want 100", cfg.MaxSessionsPerUser, err)
	}
	for _, bad := range []string{"0", "-1", "many"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_MAX_SESSIONS_PER_USER": bad}), nil); err == nil || !strings.Contains(err.Error(), "KEYCARD_MAX_SESSIONS_PER_USER") {
			t.Errorf("KEYCARD_MAX_SESSIONS_PER_USER=%s: %v, want a refusal naming it", bad, err)
		}
	}
}

func TestHashConcurrency(t *testing.T) {
	cfg, err := LoadEnv(env(nil), nil)
	if err != nil || cfg.HashConcurrency != 0 {
		t.Fatalf("default KEYCARD_HASH_CONCURRENCY = %d, %v; want 0 (auth's default, half the cores)", cfg.HashConcurrency, err)
	}
	cfg, err = LoadEnv(env(map[string]string{"KEYCARD_HASH_CONCURRENCY": "3"}), nil)
	if err != nil || cfg.HashConcurrency != 3 {
		t.Fatalf("KEYCARD_HASH_CONCURRENCY=3: %d, %v", cfg.HashConcurrency, err)
	}
	for _, bad := range []string{"0", "-2", "half"} {
		if _, err := LoadEnv(env(map[string]string{"KEYCARD_HASH_CONCURRENCY": bad}), nil); err == nil || !strings.Contains(err.Error(), "KEYCARD_HASH_CONCURRENCY") {
			t.Errorf("KEYCARD_HASH_CONCURRENCY=%s: %v, want a refusal naming it", bad, err)
		}
	}
}
