package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func runCommand(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, func(name string) string { return env[name] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelpListsCommandsAndEveryVariable(t *testing.T) {
	code, out, _ := runCommand(t, nil, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"migrate status|up|down", "KEYCARD_DATABASE_URL", "KEYCARD_JWT_SECRET", "KEYCARD_ENV", "KEYCARD_ACCESS_TTL", "KEYCARD_REFRESH_TTL", "KEYCARD_ISSUER", "KEYCARD_AUDIENCE"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %s", want)
		}
	}
}

func TestProductionWithoutSecretRefusesToStart(t *testing.T) {
	code, _, errOut := runCommand(t, map[string]string{"KEYCARD_ENV": "production", "KEYCARD_DATABASE_URL": "sqlite::memory:"})
	if code == 0 || !strings.Contains(errOut, "KEYCARD_JWT_SECRET is required in production") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

func TestMigrateCommands(t *testing.T) {
	env := map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "k.db")}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "status"}, "pending"},
		{[]string{"migrate", "up"}, "applied 2"},
		{[]string{"migrate", "up"}, "no pending migrations"},
		{[]string{"migrate", "status"}, "applied  "},
		{[]string{"migrate", "down"}, "reverted 2"},
		{[]string{"migrate", "status"}, "pending"},
	}
	for _, step := range steps {
		code, out, errOut := runCommand(t, env, step.args...)
		if code != 0 || !strings.Contains(out, step.want) {
			t.Fatalf("%v: exit %d, want %q in output:\n%s%s", step.args, code, step.want, out, errOut)
		}
	}
	if code, _, _ := runCommand(t, env, "migrate", "sideways"); code == 0 {
		t.Fatal("unknown migrate command accepted")
	}
}

func TestUnknownCommandFails(t *testing.T) {
	if code, _, _ := runCommand(t, nil, "frobnicate"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
