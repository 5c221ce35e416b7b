package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/keycard/keycard/auth"
)

func keysCommand() *command {
	return &command{
		name:    "keys",
		summary: "make signing keys",
		subcommands: []*command{
			{
				name:    "generate",
				summary: "print a new private signing key (PEM) for KEYCARD_JWT_KEY_FILE",
				help: `Needs no configuration and touches no database:
  keycard keys generate --alg EdDSA --out key.pem
  keycard keys generate --alg EdDSA > key.pem
The key never lands in a file others can read: --out creates FILE
owner-only (0600) and never overwrites one, and a file stdout was
redirected to is narrowed to 0600.
HS256 takes a secret instead (KEYCARD_JWT_SECRET): openssl rand -base64 48`,
				setup: func(fs *flag.FlagSet) action {
					alg := fs.String("alg", auth.AlgEdDSA, "signing algorithm: `EdDSA|ES256|RS256`")
					out := fs.String("out", "", "write the key to this new `FILE`, readable by its owner only (default: stdout)")
					return func(ctx context.Context, inv *invocation, args []string) error {
						pem, err := auth.GenerateKey(*alg)
						if err != nil {
							// A bad --alg is a bad command line; nothing
							// reaches stdout, so no half-written key file.
							return usagef("--alg: %v", err)
						}
						if *out != "" {
							return writeKeyFile(*out, pem)
						}
						if f, ok := inv.stdout.(*os.File); ok {
							if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o077 != 0 {
								if err := f.Chmod(0o600); err != nil {
									return fmt.Errorf("the key would go to a file open to group or others (mode %04o) whose mode cannot be changed: %w; use --out FILE", info.Mode().Perm(), err)
								}
								fmt.Fprintf(inv.stderr, "keycard: the output file was open to group or others (mode %04o); it is now 0600\n", info.Mode().Perm())
							}
						}
						_, err = inv.stdout.Write(pem)
						return err
					}
				},
			},
		},
	}
}

// writeKeyFile creates path owner-only, whatever the umask, and writes a
// private key to it. An existing file is refused rather than overwritten:
// it may be the key in use.
func writeKeyFile(path string, pem []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(pem)
	}
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
