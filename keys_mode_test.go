//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keycard/keycard/auth"
)

// keys generate never leaves a private key where others can read it.
func TestKeysGenerateWritesOwnerOnlyFiles(t *testing.T) {
	t.Run("--out", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key.pem")
		code, out, errOut := runCommand(t, nil, "keys", "generate", "--out", path)
		if code != 0 || out != "" {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Fatalf("mode %04o, want 0600", mode)
		}
		written, _ := os.ReadFile(path)
		if _, err := auth.ParseSigningKey(auth.AlgEdDSA, written); err != nil {
			t.Fatalf("the file does not hold a usable key: %v", err)
		}
		// An existing file may be the key in use: refused, untouched.
		code, _, errOut = runCommand(t, nil, "keys", "generate", "--out", path)
		if again, _ := os.ReadFile(path); code == 0 || !bytes.Equal(again, written) || !strings.Contains(errOut, "exists") {
			t.Fatalf("over an existing file: exit %d, stderr %s", code, errOut)
		}
	})
	t.Run("stdout redirected to a readable file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key.pem")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Chmod(0o644); err != nil { // what `> key.pem` makes under umask 022
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		if code := run([]string{"keys", "generate"}, func(string) (string, bool) { return "", false }, nil, f, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 || !strings.Contains(stderr.String(), "now 0600") {
			t.Fatalf("mode %04o, stderr %q; want 0600 and a note", mode, stderr.String())
		}
	})
}
