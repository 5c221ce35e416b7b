package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/keycard/keycard/config"
)

// commandPaths lists every command of the table, groups included, as the
// arguments that name it.
func commandPaths(cmd *command, path []string) [][]string {
	paths := [][]string{path}
	for _, sub := range cmd.subcommands {
		paths = append(paths, commandPaths(sub, append(append([]string(nil), path...), sub.name))...)
	}
	return paths
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, path := range commandPaths(root(), nil) {
		name := "keycard " + strings.Join(path, " ")
		for _, flag := range []string{"--help", "-h", "-help"} {
			t.Run(strings.TrimSpace(name)+" "+flag, func(t *testing.T) {
				// A database that must not be touched: --help runs nothing.
				dbFile := filepath.Join(t.TempDir(), "k.db")
				code, out, errOut := runCommand(t, map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + dbFile}, append(path, flag)...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				if !strings.HasPrefix(out, "Usage: "+strings.TrimSpace(name)) || !strings.Contains(out, "-h, --help") {
					t.Errorf("usage:\n%s", out)
				}
				if _, err := os.Stat(dbFile); err == nil {
					t.Errorf("%s created the database", flag)
				}
			})
		}
		t.Run("keycard help "+strings.Join(path, " "), func(t *testing.T) {
			code, out, _ := runCommand(t, nil, append([]string{"help"}, path...)...)
			if code != 0 || !strings.HasPrefix(out, "Usage: "+strings.TrimSpace(name)) {
				t.Errorf("exit %d:\n%s", code, out)
			}
		})
	}
}

// --help must answer even where the command would block (serve) or the
// configuration is unusable.
func TestServeHelpDoesNotStartTheServer(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	env := map[string]string{"KEYCARD_ADDR": held.Addr().String(), "KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db")}
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"--help"}} {
		code, out, errOut := runCommand(t, env, args...)
		if code != 0 || !strings.HasPrefix(out, "Usage: keycard") || !strings.Contains(out, "KEYCARD_DATABASE_URL") || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q\n%s", args, code, errOut, out)
		}
	}
}

func TestBadCommandLinesExit2WithUsage(t *testing.T) {
	tests := []struct {
		args  []string
		usage string // the usage line printed
		msg   string
	}{
		{[]string{"frobnicate"}, "Usage: keycard [-v]", `unknown command "frobnicate" for keycard`},
		{[]string{"--frob"}, "Usage: keycard [-v]", "flag provided but not defined: -frob"},
		{[]string{"serve", "--addr", ":9"}, "Usage: keycard serve", "-addr"},
		{[]string{"serve", "extra"}, "Usage: keycard serve", `unexpected argument "extra"`},
		{[]string{"migrate"}, "Usage: keycard migrate COMMAND", "keycard migrate needs a command"},
		{[]string{"migrate", "sideways"}, "Usage: keycard migrate COMMAND", `unknown command "sideways" for keycard migrate`},
		{[]string{"migrate", "status", "extra"}, "Usage: keycard migrate status", `unexpected argument "extra"`},
		{[]string{"migrate", "up", "--force"}, "Usage: keycard migrate up", "-force"},
		{[]string{"users"}, "Usage: keycard users COMMAND", "needs a command"},
		{[]string{"users", "grant-role", "alice"}, "Usage: keycard users grant-role USERNAME ROLE", "missing ROLE"},
		{[]string{"users", "revoke-role", "a", "b", "c"}, "Usage: keycard users revoke-role USERNAME ROLE", `unexpected argument "c" after USERNAME ROLE`},
		{[]string{"keys", "generate", "--bits", "4096"}, "Usage: keycard keys generate", "-bits"},
		{[]string{"healthcheck", "--url"}, "Usage: keycard healthcheck", "flag needs an argument: -url"},
		{[]string{"version", "extra"}, "Usage: keycard version", `unexpected argument "extra"`},
		{[]string{"help", "nope"}, "Usage: keycard help", `unknown command "nope" for keycard`},
		{[]string{"-v", "serve"}, "Usage: keycard [-v]", "--version takes no command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCommand(t, nil, tt.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			if !strings.HasPrefix(errOut, "keycard: ") || !strings.Contains(errOut, tt.msg) || !strings.Contains(errOut, tt.usage) {
				t.Errorf("stderr lacks %q or %q:\n%s", tt.msg, tt.usage, errOut)
			}
		})
	}
}

// Flags may come after positional arguments, and "--" ends the flags.
func TestFlagsMayFollowArguments(t *testing.T) {
	code, out, errOut := runCommand(t, nil, "keys", "generate", "--alg", "ES256")
	if code != 0 || !strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, _, errOut = runCommand(t, nil, "help", "--", "-h")
	if code != 2 || !strings.Contains(errOut, `unknown command "-h"`) {
		t.Fatalf("help -- -h: exit %d: %s", code, errOut)
	}
}

func TestVersionPrintsVersionCommitAndGoVersion(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "1.2.3", "0123abc"
	for _, args := range [][]string{{"version"}, {"-v"}, {"--version"}, {"-version"}} {
		code, out, _ := runCommand(t, nil, args...)
		want := "keycard 1.2.3 (commit 0123abc, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
		if code != 0 || out != want {
			t.Errorf("%v: exit %d, %q; want %q", args, code, out, want)
		}
	}
	version, commit = "", ""
	if _, out, _ := runCommand(t, nil, "version"); !regexp.MustCompile(`^keycard \S+ \(commit \S+, go`).MatchString(out) {
		t.Errorf("without -ldflags: %q", out)
	}
}

// One-shot commands neither create a database nor warn about the
// development signing key: they sign nothing.
func TestCommandsCreateNoDatabaseAndSayWhatIsMissing(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "missing.db")
	env := map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + dbFile}
	for _, args := range [][]string{{"migrate", "status"}, {"migrate", "down"}, {"users", "grant-role", "alice", "admin"}} {
		code, out, errOut := runCommand(t, env, args...)
		if code != 1 || !strings.Contains(errOut, dbFile) || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%v: exit %d, stderr %q; want 1 naming %s", args, code, errOut, dbFile)
		}
		if out != "" {
			t.Errorf("%v: stdout %q", args, out)
		}
		if _, err := os.Stat(dbFile); err == nil {
			t.Fatalf("%v created %s", args, dbFile)
		}
	}
	if code, out, errOut := runCommand(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %s%s", code, out, errOut)
	}
	code, _, errOut := runCommand(t, env, "users", "grant-role", "nobody", "admin")
	if code != 1 || strings.Contains(errOut, "development mode") || strings.Contains(strings.ToLower(errOut), "warn") {
		t.Errorf("users on a migrated database: exit %d, stderr:\n%s", code, errOut)
	}
}

func TestSQLitePathInADirectoryThatDoesNotExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")
	code, _, errOut := runCommand(t, map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + missing}, "migrate", "up")
	if code != 1 || !strings.Contains(errOut, missing) || !strings.Contains(errOut, filepath.Dir(missing)+" does not exist") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestUnknownVariables(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	t.Run("development warns with the nearest name", func(t *testing.T) {
		env := map[string]string{"KEYCARD_DATABASE_URL": dbURL, "KEYCARD_JWT_SECERT": strings.Repeat("s", 40)}
		code, _, errOut := runCommand(t, env, "migrate", "up")
		if code != 0 || !strings.Contains(errOut, "WARN") || !strings.Contains(errOut, "KEYCARD_JWT_SECERT is not a keycard variable; did you mean KEYCARD_JWT_SECRET?") {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("production refuses to start", func(t *testing.T) {
		env := map[string]string{"KEYCARD_ENV": "production", "KEYCARD_JWT_SECRET": strings.Repeat("s", 40),
			"KEYCARD_DB_URL": "mysql://keycard@db/keycard", "KEYCARD_CORS_ORIGIN": "https://app.example.com", "KEYCARD_DATABASE_URL": dbURL}
		code, _, errOut := runCommand(t, env, "serve")
		for _, want := range []string{"invalid configuration", "KEYCARD_DB_URL is not a keycard variable; did you mean KEYCARD_DATABASE_URL?",
			"KEYCARD_CORS_ORIGIN is not a keycard variable; did you mean KEYCARD_CORS_ORIGINS?"} {
			if code != 2 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, errOut)
			}
		}
	})
}

// Every problem of the configuration is reported in one go, and before
// anything is opened: no database file appears, no migration runs.
func TestConfigurationErrorsAreReportedTogetherBeforeAnythingOpens(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "k.db")
	env := map[string]string{
		"KEYCARD_DATABASE_URL": "sqlite:" + dbFile,
		"KEYCARD_ADDR":         "8080",
		"KEYCARD_ACCESS_TTL":   "soon",
		"KEYCARD_RATE_LIMITS":  "logon.ip=5/1m",
		"KEYCARD_MIGRATE":      "sometimes",
	}
	code, out, errOut := runCommand(t, env, "serve")
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		"keycard: invalid configuration:",
		`KEYCARD_ADDR: "8080" is not HOST:PORT; to listen on port 8080 of every interface write :8080`,
		`KEYCARD_ACCESS_TTL: "soon" is not a positive duration such as 15m`,
		`KEYCARD_RATE_LIMITS: logon.ip: unknown operation "logon"`,
		`KEYCARD_MIGRATE: "sometimes" is not auto, off or check`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(dbFile); err == nil {
		t.Error("the database was opened")
	}
	// A database URL is checked with the rest, not when connecting.
	code, _, errOut = runCommand(t, map[string]string{"KEYCARD_DATABASE_URL": "keycard@tcp(127.0.0.1:3306)/keycard", "KEYCARD_ADDR": "8080"}, "serve")
	if code != 2 || !strings.Contains(errOut, "mysql://keycard:PASSWORD@127.0.0.1:3306/keycard") || !strings.Contains(errOut, "KEYCARD_ADDR") {
		t.Errorf("DSN: exit %d, stderr:\n%s", code, errOut)
	}
}

func TestMigrateCheckAndOff(t *testing.T) {
	dbFile := filepath.Join(t.TempDir(), "k.db")
	env := map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + dbFile, "KEYCARD_ADDR": "127.0.0.1:0", "KEYCARD_METRICS_ADDR": ""}
	for _, mode := range []string{"check", "off"} {
		env["KEYCARD_MIGRATE"] = mode
		code, _, errOut := runCommand(t, env, "serve")
		if code != 1 || !strings.Contains(errOut, dbFile+" does not exist") {
			t.Errorf("%s on a missing database: exit %d, stderr %q", mode, code, errOut)
		}
	}
	env["KEYCARD_MIGRATE"] = "auto"
	for _, args := range [][]string{{"migrate", "up"}, {"migrate", "down"}} {
		if code, out, errOut := runCommand(t, env, args...); code != 0 {
			t.Fatalf("%v: %d %s%s", args, code, out, errOut)
		}
	}
	env["KEYCARD_MIGRATE"] = "check"
	code, _, errOut := runCommand(t, env, "serve")
	if code != 1 || !regexp.MustCompile(`KEYCARD_MIGRATE=check: 1 migration\(s\) pending \(\S+\.sql\); run keycard migrate up`).MatchString(errOut) {
		t.Errorf("check with a pending migration: exit %d, stderr %q", code, errOut)
	}
	// Once migrated, check starts (and off too); see serve_test.go for
	// serving with them.
	if code, out, errOut := runCommand(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %s%s", code, out, errOut)
	}
	for _, mode := range []string{"check", "off"} {
		env["KEYCARD_MIGRATE"] = mode
		addr, stop := startServe(t, env)
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: readyz %d", mode, resp.StatusCode)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	addr, stop := startServe(t, map[string]string{
		"KEYCARD_ADDR":         "127.0.0.1:0",
		"KEYCARD_METRICS_ADDR": "",
		"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db"),
	})
	defer stop()
	if code, _, errOut := runCommand(t, nil, "healthcheck", "--url", "http://"+addr+"/readyz"); code != 0 {
		t.Errorf("--url of a ready server: exit %d: %s", code, errOut)
	}
	// Without --url: this machine's KEYCARD_ADDR, as in a container.
	_, port, _ := net.SplitHostPort(addr)
	if code, _, errOut := runCommand(t, map[string]string{"KEYCARD_ADDR": ":" + port}, "healthcheck"); code != 0 {
		t.Errorf("from KEYCARD_ADDR: exit %d: %s", code, errOut)
	}

	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer unready.Close()
	if code, _, errOut := runCommand(t, nil, "healthcheck", "--url", unready.URL+"/readyz"); code != 1 || !strings.Contains(errOut, "503") {
		t.Errorf("503: exit %d: %s", code, errOut)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	if code, _, errOut := runCommand(t, nil, "healthcheck", "--url", "http://"+closedAddr+"/readyz", "--timeout", "2s"); code != 1 || !strings.Contains(errOut, "refused") {
		t.Errorf("nothing listening: exit %d: %s", code, errOut)
	}
}

func TestStartupLineSaysHowKeycardRuns(t *testing.T) {
	var logs bytes.Buffer
	env := map[string]string{
		"KEYCARD_ADDR":           "127.0.0.1:0",
		"KEYCARD_METRICS_ADDR":   "",
		"KEYCARD_DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "k.db"),
		"KEYCARD_CORS_ORIGINS":   "https://app.example.com,http://localhost:5173",
		"KEYCARD_REFRESH_COOKIE": "on",
		"KEYCARD_LOG_FORMAT":     "json",
	}
	_, stop := startServeLogging(t, env, &logs)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var startup map[string]any
	warnings := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		switch {
		case entry["msg"] == "keycard listening":
			startup = entry
		case entry["level"] == "WARN" && strings.HasPrefix(entry["msg"].(string), "development mode"):
			warnings++
		}
	}
	want := map[string]any{
		"mode": "development", "database": env["KEYCARD_DATABASE_URL"], "migrate": "auto", "alg": "HS256",
		"cookie_mode": "on", "cors_origins": "https://app.example.com,http://localhost:5173", "rate_limits": "memory", "playground": "on",
	}
	for key, value := range want {
		if startup[key] != value {
			t.Errorf("start-up line: %s = %v, want %v\n%s", key, startup[key], value, logs.String())
		}
	}
	if kid, _ := startup["kid"].(string); len(kid) < 20 {
		t.Errorf("start-up line: kid %q", kid)
	}
	if warnings != 1 {
		t.Errorf("%d development-key warnings, want 1:\n%s", warnings, logs.String())
	}
}

func TestJSONLogsWriteDurationsAsSeconds(t *testing.T) {
	var buf bytes.Buffer
	newLogger(config.Config{LogFormat: "json", LogLevel: "info"}, &buf).Info("shutting down", "timeout", 1500*time.Millisecond)
	var entry map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["timeout_s"] != 1.5 || entry["timeout"] != nil {
		t.Errorf("log line %s, want timeout_s 1.5", buf.String())
	}
}

func TestMemoryLimitFollowsTheCgroup(t *testing.T) {
	const fallback = 768 << 20
	tests := []struct {
		name  string
		files fstest.MapFS
		want  int64
	}{
		{"cgroup v2 limit", fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("536870912\n")}}, 536870912 / 10 * 8},
		{"cgroup v2 without limit", fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("max\n")}}, fallback},
		{"cgroup v1 limit", fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("2147483648\n")}}, 2147483648 / 10 * 8},
		{"cgroup v1 without limit", fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}, fallback},
		{"no cgroup", fstest.MapFS{}, fallback},
		{"garbage", fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("lots")}}, fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultMemoryLimit(tt.files); got != tt.want {
				t.Errorf("defaultMemoryLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

// The README's Go requirement and go.mod's go line say the same, and the
// go line names no patch release: "go 1.26.8" would make every older
// 1.26.x download a toolchain.
func TestGoVersionMatchesTheReadme(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (1\.\d+)(\.\d+)?$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if patch := string(m[2]); patch != "" && patch != ".0" {
		t.Errorf("go.mod says go %s%s; use go %s (or %s.0) unless a newer patch is needed", m[1], patch, m[1], m[1])
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Go " + string(m[1]) + " or newer"; !bytes.Contains(readme, []byte(want)) {
		t.Errorf("README does not say %q", want)
	}
}

// startServeLogging is startServe with the server's logs going to w, in
// the format env asks for.
func startServeLogging(t *testing.T, env map[string]string, w *bytes.Buffer) (string, func() error) {
	t.Helper()
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return startServeWith(t, cfg, newLogger(cfg, w))
}

// Local data and secrets stay out of commits and images.
func TestIgnoreFilesCoverDataKeysAndMail(t *testing.T) {
	for file, patterns := range map[string][]string{
		".gitignore":    {"*.db*", "*.pem", "keycard-mail/"},
		".dockerignore": {"**/*.db*", "**/*.pem", "**/keycard-mail/"},
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for _, p := range patterns {
			if !slices.Contains(lines, p) {
				t.Errorf("%s lacks %s", file, p)
			}
		}
	}
}
