//go:build unix

package store_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/keycard/keycard/store"
)

// The database file holds password hashes and, in development, the
// signing key: it and the -wal and -shm files beside it are created for
// the owner only, whatever the umask. Not parallel: the umask belongs to
// the whole process.
func TestSQLiteFilesAreCreatedOwnerOnly(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	path := filepath.Join(t.TempDir(), "keycard.db")
	db, err := store.Open(context.Background(), "sqlite:"+path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.File != path {
		t.Fatalf("DB.File = %q, want %q", db.File, path)
	}
	// A write, with a reader open, makes SQLite create -wal and -shm.
	if _, err := db.SQL.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if err := db.ReadSQL.QueryRow("SELECT COUNT(*) FROM t").Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(name), err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(name), mode)
		}
	}
}

// An existing database keeps the mode its operator gave it (the app warns
// when group or others can read it).
func TestSQLiteOpenKeepsTheModeOfAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keycard.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), "sqlite:"+path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != fs.FileMode(0o640) {
		t.Fatalf("mode %04o after open, want the existing 0640", mode)
	}
}
