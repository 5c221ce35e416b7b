package app

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/keycard/keycard/config"
)

// File modes of what holds secrets. A private key that others on the host
// can read is a key anyone with a shell there can sign tokens with; the
// SQLite database holds password hashes (and, in development, the signing
// key). Unix permissions only: elsewhere there are no mode bits to check.

// openToOthers is the permission bits of group and others.
const openToOthers fs.FileMode = 0o077

// checkPrivateFile refuses (production) or warns about (development) a
// file holding a private key that group or others may access. setting
// names the variable that pointed at it. A file that cannot be read is
// left to the read that follows, which says why.
func (a *App) checkPrivateFile(setting, path string) error {
	if runtime.GOOS == "windows" || path == "" {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm()&openToOthers == 0 {
		return nil
	}
	mode := info.Mode().Perm()
	if a.cfg.Mode == config.Production {
		return fmt.Errorf("%s: %s holds a private key and is open to group or others (mode %04o); run chmod 600 %s (in Kubernetes, give the secret volume defaultMode 0400)", setting, path, mode, path)
	}
	a.log.Warn("a private key file is open to group or others; production refuses to start with it: chmod 600 it",
		"setting", setting, "file", path, "mode", fmt.Sprintf("%04o", mode))
	return nil
}

// checkVerifyKeyFile is checkPrivateFile for a KEYCARD_JWT_VERIFY_KEY_FILES
// entry, which may be a public key (no secret: any mode will do) or a
// private one.
func (a *App) checkVerifyKeyFile(path string, pem []byte) error {
	if !bytes.Contains(pem, []byte("PRIVATE KEY-----")) {
		return nil
	}
	return a.checkPrivateFile("KEYCARD_JWT_VERIFY_KEY_FILES", path)
}

// warnReadableDatabase warns when the SQLite database, or its -wal or -shm
// file, is open to group or others. keycard creates them owner-only; an
// existing file keeps the mode it was given (an operator may have chosen
// one, for a backup agent's group, say), so this is a warning, not a
// refusal.
func (a *App) warnReadableDatabase() {
	if runtime.GOOS == "windows" || a.db.File == "" {
		return
	}
	var open []string
	for _, path := range []string{a.db.File, a.db.File + "-wal", a.db.File + "-shm"} {
		if info, err := os.Stat(path); err == nil && info.Mode().Perm()&openToOthers != 0 {
			open = append(open, fmt.Sprintf("%s (%04o)", path, info.Mode().Perm()))
		}
	}
	if len(open) > 0 {
		// SQLite gives -wal and -shm the database file's mode: chmod all.
		a.log.Warn("the SQLite database is open to group or others; it holds password hashes: chmod 600 it and its -wal and -shm files",
			"files", strings.Join(open, ", "))
	}
}
