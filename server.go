// Command keycard is a GraphQL authentication API: register, login, refresh,
// logout and "who am I", with short-lived signed access tokens and rotating
// refresh tokens. Run it with no arguments to serve; see --help.
//
// server.go holds main and the command table; each command lives in the
// file named for it (cmd_serve.go, cmd_migrate.go, …), the table's
// machinery (parsing, --help, exit statuses) in cli.go.
package main

import (
	"context"
	"flag"
	"io"
	"os"
)

func main() {
	tuneGC(os.LookupEnv, os.DirFS("/"))
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Environ, os.Stdout, os.Stderr))
}

// run runs the command line args against the environment given by
// lookupEnv and environ (os.LookupEnv, os.Environ) and returns the exit
// status: 0 done, 1 failed, 2 bad command line or configuration.
func run(args []string, lookupEnv func(string) (string, bool), environ func() []string, stdout, stderr io.Writer) int {
	inv := &invocation{lookupEnv: lookupEnv, environ: environ, stdout: stdout, stderr: stderr}
	return inv.exitStatus(inv.dispatch(context.Background(), root(), "keycard", args))
}

// root is keycard's command table. Without a command, keycard serves.
func root() *command {
	return &command{
		name:      "keycard",
		summary:   "a GraphQL authentication API",
		variables: true,
		setup: func(fs *flag.FlagSet) action {
			var version bool
			fs.BoolVar(&version, "v", false, "print the version and exit")
			fs.BoolVar(&version, "version", false, "print the version and exit")
			return func(ctx context.Context, inv *invocation, args []string) error {
				if version {
					if len(args) > 0 {
						return usagef("--version takes no command")
					}
					printVersion(inv.stdout)
					return nil
				}
				return serve(ctx, inv)
			}
		},
		subcommands: []*command{
			serveCommand(),
			migrateCommand(),
			usersCommand(),
			keysCommand(),
			healthcheckCommand(),
			versionCommand(),
			helpCommand(),
		},
	}
}

// helpCommand prints the usage of keycard or of the command named.
func helpCommand() *command {
	return &command{
		name:    "help",
		args:    []string{"COMMAND..."},
		summary: "show the help of keycard or of a command",
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, inv *invocation, args []string) error {
				cmd, path := root(), "keycard"
				for _, name := range args {
					sub := cmd.find(name)
					if sub == nil {
						return usagef("unknown command %q for %s", name, path)
					}
					cmd, path = sub, path+" "+name
				}
				printUsage(inv.stdout, cmd, path)
				return nil
			}
		},
	}
}
