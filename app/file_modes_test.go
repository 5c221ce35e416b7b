//go:build unix

package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/store/storetest"
)

// startApp starts keycard from env and returns what app.New says.
func startApp(t *testing.T, env map[string]string, logs *logBuffer) error {
	t.Helper()
	cfg, err := config.LoadEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{NoBackground: true, PasswordParams: &cheapArgon2, Logger: jsonLogger(logs)})
	if err == nil {
		a.Close()
	}
	return err
}

// openFile writes content to a file others may read, as `keycard keys
// generate > key.pem` under the common umask 022 does.
func openFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := writeKeyFile(t, name, content)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A private key others on the host can read is refused in production and
// warned about in development; a public key may be readable by anyone.
func TestKeyFilesOpenToOthersAreRefusedInProduction(t *testing.T) {
	t.Parallel()
	private := keyPEM(t, auth.AlgEdDSA, 0)
	public := publicKeyPEM(t, signingKey(t, auth.AlgEdDSA, 1))
	for _, tt := range []struct {
		name, setting string
		env           func(t *testing.T) map[string]string
	}{
		{"signing key", "KEYCARD_JWT_KEY_FILE", func(t *testing.T) map[string]string {
			return map[string]string{"KEYCARD_JWT_ALG": auth.AlgEdDSA, "KEYCARD_JWT_KEY_FILE": openFile(t, "key.pem", private)}
		}},
		{"private verification key", "KEYCARD_JWT_VERIFY_KEY_FILES", func(t *testing.T) map[string]string {
			return map[string]string{"KEYCARD_JWT_ALG": auth.AlgEdDSA, "KEYCARD_JWT_KEY_FILE": writeKeyFile(t, "key.pem", private),
				"KEYCARD_JWT_VERIFY_KEY_FILES": openFile(t, "old.pem", keyPEM(t, auth.AlgEdDSA, 1))}
		}},
		{"TLS key", "KEYCARD_TLS_KEY", func(t *testing.T) map[string]string {
			return map[string]string{"KEYCARD_JWT_SECRET": testSecret, "KEYCARD_TLS_CERT": writeKeyFile(t, "cert.pem", []byte("cert")),
				"KEYCARD_TLS_KEY": openFile(t, "tls-key.pem", private)}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(t)
			env["KEYCARD_DATABASE_URL"] = storetest.SQLiteURL(t)
			env["KEYCARD_ENV"] = "production"
			env["KEYCARD_PUBLIC_URL"] = productionURL
			logs := &logBuffer{}
			err := startApp(t, env, logs)
			if err == nil || !strings.Contains(err.Error(), tt.setting) || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("production: %v, want a refusal naming %s and the fix", err, tt.setting)
			}
			env["KEYCARD_ENV"] = "development"
			if err := startApp(t, env, logs); err != nil {
				t.Fatalf("development: %v, want a start with a warning", err)
			}
			if got := warnings(logs, "private key file is open to group or others"); len(got) != 1 || !strings.Contains(got[0], tt.setting) {
				t.Fatalf("development warnings: %q", got)
			}
		})
	}
	t.Run("public verification key", func(t *testing.T) {
		logs := &logBuffer{}
		err := startApp(t, map[string]string{
			"KEYCARD_DATABASE_URL": storetest.SQLiteURL(t), "KEYCARD_ENV": "production", "KEYCARD_PUBLIC_URL": productionURL,
			"KEYCARD_JWT_ALG": auth.AlgEdDSA, "KEYCARD_JWT_KEY_FILE": writeKeyFile(t, "key.pem", private),
			"KEYCARD_JWT_VERIFY_KEY_FILES": openFile(t, "old.pub.pem", public),
		}, logs)
		if err != nil || len(warnings(logs, "open to group or others")) != 0 {
			t.Fatalf("a world-readable public key: %v, logs %s", err, logs)
		}
	})
}

// keycard creates its SQLite files owner-only; an existing database others
// can read keeps its mode and is warned about at every start.
func TestReadableSQLiteDatabaseIsWarnedAbout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keycard.db")
	env := map[string]string{"KEYCARD_DATABASE_URL": "sqlite:" + path, "KEYCARD_JWT_SECRET": testSecret}
	logs := &logBuffer{}
	if err := startApp(t, env, logs); err != nil {
		t.Fatal(err)
	}
	if got := warnings(logs, "SQLite database is open"); len(got) != 0 {
		t.Fatalf("a database keycard created is owner-only, yet: %q", got)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := startApp(t, env, logs); err != nil {
		t.Fatal(err)
	}
	if got := warnings(logs, "SQLite database is open"); len(got) != 1 || !strings.Contains(got[0], path+" (0644)") {
		t.Fatalf("warnings: %q, want one for the database file", got)
	}
}
