package main

import (
	"context"
	"flag"

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
  keycard keys generate --alg EdDSA > key.pem
HS256 takes a secret instead (KEYCARD_JWT_SECRET): openssl rand -base64 48`,
				setup: func(fs *flag.FlagSet) action {
					alg := fs.String("alg", auth.AlgEdDSA, "signing algorithm: `EdDSA|ES256|RS256`")
					return func(ctx context.Context, inv *invocation, args []string) error {
						pem, err := auth.GenerateKey(*alg)
						if err != nil {
							// A bad --alg is a bad command line; nothing
							// reaches stdout, so no half-written key file.
							return usagef("--alg: %v", err)
						}
						_, err = inv.stdout.Write(pem)
						return err
					}
				},
			},
		},
	}
}
