package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
)

// runCommand runs keycard's command line with env as the whole process
// environment.
func runCommand(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	environ := func() []string {
		var kv []string
		for k, v := range env {
			kv = append(kv, k+"="+v)
		}
		return kv
	}
	code := run(args, func(name string) (string, bool) { v, ok := env[name]; return v, ok }, environ, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelpListsCommandsAndEveryVariable(t *testing.T) {
	code, out, _ := runCommand(t, nil, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"migrate status", "migrate up", "migrate down", "users grant-role USERNAME ROLE",
		"users revoke-role USERNAME ROLE", "healthcheck [--timeout duration] [--url URL]", "version", "help [COMMAND...]"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %s:\n%s", want, out)
		}
	}
	for _, v := range config.Vars() {
		if !strings.Contains(out, v.Name) {
			t.Errorf("help does not list %s", v.Name)
		}
	}
}

func TestProductionWithoutSecretRefusesToStart(t *testing.T) {
	code, _, errOut := runCommand(t, map[string]string{"KEYCARD_ENV": "production", "KEYCARD_DATABASE_URL": "sqlite::memory:"})
	if code == 0 || !strings.Contains(errOut, "KEYCARD_JWT_SECRET is required in production") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

// A mistyped rate-limit override stops the start with a message naming
// what is known, rather than leaving the intended limit unset.
func TestUnknownRateLimitRefusesToStart(t *testing.T) {
	for _, tt := range []struct{ override, want string }{
		{"logon.ip=5/1m", `unknown operation "logon" (login, register, refresh, changePassword, revoke, passkeyLogin, passkeyRegistration)`},
		{"login.email=5/1m", `unknown dimension "email" (ip, username, username_ip, user)`},
	} {
		dbFile := filepath.Join(t.TempDir(), "k.db")
		env := map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + dbFile, "KEYCARD_RATE_LIMITS": tt.override}
		code, _, errOut := runCommand(t, env, "serve")
		if code != 2 || !strings.Contains(errOut, "invalid configuration") || !strings.Contains(errOut, "KEYCARD_RATE_LIMITS") || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr: %s", tt.override, code, errOut)
		}
		if _, err := os.Stat(dbFile); err == nil {
			t.Errorf("%s: the database was opened (%s exists)", tt.override, dbFile)
		}
	}
}

func TestMigrateCommands(t *testing.T) {
	env := map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db")}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "up"}, "applied 8"},
		{[]string{"migrate", "up"}, "no pending migrations"},
		{[]string{"migrate", "status"}, "applied  "},
		{[]string{"migrate", "down"}, "reverted 8"},
		{[]string{"migrate", "status"}, "pending"},
		{[]string{"migrate", "up"}, "applied 8"},
	}
	for _, step := range steps {
		code, out, errOut := runCommand(t, env, step.args...)
		if code != 0 || !strings.Contains(out, step.want) {
			t.Fatalf("%v: exit %d, want %q in output:\n%s%s", step.args, code, step.want, out, errOut)
		}
	}
	if code, _, _ := runCommand(t, env, "migrate", "sideways"); code != 2 {
		t.Fatalf("unknown migrate command: exit %d, want 2", code)
	}
}

func TestKeysGeneratePrintsAKeyTheServerAccepts(t *testing.T) {
	for _, alg := range []string{auth.AlgEdDSA, auth.AlgES256, auth.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			code, out, errOut := runCommand(t, nil, "keys", "generate", "--alg", alg)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			key, err := auth.ParseSigningKey(alg, []byte(out))
			if err != nil {
				t.Fatalf("ParseSigningKey(output): %v\n%s", err, out)
			}
			if block, rest := pem.Decode([]byte(out)); block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
				t.Errorf("output is not exactly one PKCS #8 PEM block:\n%s", out)
			}
			_, again, _ := runCommand(t, nil, "keys", "generate", "--alg="+alg)
			if other, err := auth.ParseSigningKey(alg, []byte(again)); err != nil || other.ID == key.ID {
				t.Errorf("second key: kid %s (%v), want a new key", other.ID, err)
			}
		})
	}
}

func TestKeysGenerateDefaultsToEdDSA(t *testing.T) {
	code, out, errOut := runCommand(t, nil, "keys", "generate")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := auth.ParseSigningKey(auth.AlgEdDSA, []byte(out)); err != nil {
		t.Errorf("default key is not EdDSA: %v", err)
	}
}

func TestKeysGenerateRefusesWhatItCannotGenerate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // each in stderr
	}{
		{"HS256", []string{"keys", "generate", "--alg", "HS256"}, []string{"HS256", "secret", "EdDSA, ES256 or RS256"}},
		{"unknown algorithm", []string{"keys", "generate", "--alg", "HS512"}, []string{"HS512", "EdDSA, ES256 or RS256"}},
		{"alg none", []string{"keys", "generate", "--alg", "none"}, []string{"none", "EdDSA, ES256 or RS256"}},
		{"algorithm in lower case", []string{"keys", "generate", "--alg", "eddsa"}, []string{"eddsa", "EdDSA, ES256 or RS256"}},
		{"empty algorithm", []string{"keys", "generate", "--alg", ""}, []string{"EdDSA, ES256 or RS256"}},
		{"no subcommand", []string{"keys"}, []string{"Usage: keycard keys COMMAND", "generate [--alg EdDSA|ES256|RS256]"}},
		{"unknown subcommand", []string{"keys", "rotate"}, []string{`unknown command "rotate"`, "Usage: keycard keys COMMAND"}},
		{"unknown flag", []string{"keys", "generate", "--bits", "4096"}, []string{"bits", "Usage: keycard keys generate"}},
		// The algorithm given without --alg must not silently become an
		// EdDSA key that the server then refuses for ES256.
		{"algorithm without --alg", []string{"keys", "generate", "ES256"}, []string{"ES256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCommand(t, nil, tt.args...)
			if code != 2 {
				t.Fatalf("%v: exit %d, want 2; stdout:\n%s", tt.args, code, out)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing: a failed command must not leave a partial key file", out)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q does not mention %q", errOut, want)
				}
			}
		})
	}
}

func TestHelpDocumentsKeyConfiguration(t *testing.T) {
	_, out, _ := runCommand(t, nil, "--help")
	for _, want := range []string{"keys generate [--alg EdDSA|ES256|RS256]", "KEYCARD_JWT_ALG", "KEYCARD_JWT_KEY_FILE", "KEYCARD_JWT_VERIFY_KEY_FILES"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %s", want)
		}
	}
}

func TestProductionWithAsymmetricAlgorithmRequiresKeyFile(t *testing.T) {
	code, _, errOut := runCommand(t, map[string]string{"KEYCARD_ENV": "production", "KEYCARD_JWT_ALG": "EdDSA", "KEYCARD_DATABASE_URL": "sqlite::memory:"})
	if code == 0 || !strings.Contains(errOut, "KEYCARD_JWT_KEY_FILE") || !strings.Contains(errOut, "keycard keys generate --alg EdDSA") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

func TestUsersGrantAndRevokeRole(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	env := map[string]string{"KEYCARD_DATABASE_URL": dbURL, "KEYCARD_JWT_SECRET": strings.Repeat("s", 40)}
	code, out, errOut := runCommand(t, env, "migrate", "up")
	if code != 0 {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errOut)
	}
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cheap := auth.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	keycard, err := app.New(context.Background(), cfg, app.Options{PasswordParams: &cheap, NoBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keycard.Service().Register(context.Background(), auth.RegisterInput{Username: "Alice", Password: "open-sesame-42"}, auth.Client{}); err != nil {
		t.Fatal(err)
	}
	keycard.Close()

	code, out, errOut = runCommand(t, env, "users", "grant-role", "alice", "admin")
	if code != 0 || !strings.Contains(out, "Alice") || !strings.Contains(out, "roles: admin") {
		t.Fatalf("grant-role: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCommand(t, env, "users", "grant-role", "alice", "auditor")
	if code != 0 || !strings.Contains(out, "roles: admin auditor") {
		t.Fatalf("second grant: %s", out)
	}
	code, out, _ = runCommand(t, env, "users", "revoke-role", "ALICE", "admin")
	if code != 0 || !strings.Contains(out, "roles: auditor") {
		t.Fatalf("revoke-role: %s", out)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"users", "grant-role", "nobody", "admin"}, 1},
		{[]string{"users", "grant-role", "alice", "Not A Role"}, 1},
		{[]string{"users", "grant-role", "alice"}, 2},
		{[]string{"users", "promote", "alice", "admin"}, 2},
	} {
		if code, _, _ := runCommand(t, env, tt.args...); code != tt.code {
			t.Errorf("%v: exit %d, want %d", tt.args, code, tt.code)
		}
	}
}
