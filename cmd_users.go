package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/config"
)

func usersCommand() *command {
	return &command{
		name:    "users",
		summary: "manage accounts from the shell",
		help: `Works on the configured database directly, whether or not a server runs;
running servers pick a change up within one revocation sync.`,
		subcommands: []*command{
			{
				name:    "grant-role",
				args:    []string{"USERNAME", "ROLE"},
				summary: "give a user a role (e.g. the first admin)",
				setup:   withApp(changeRole("grant-role")),
			},
			{
				name:    "revoke-role",
				args:    []string{"USERNAME", "ROLE"},
				summary: "take a role away from a user",
				setup:   withApp(changeRole("revoke-role")),
			},
		},
	}
}

// withApp is the setup of a command that works through the auth service:
// fn runs with keycard assembled on the configured database, which must
// exist and be migrated. A command creates nothing and changes no schema,
// and runs no background work.
func withApp(fn func(ctx context.Context, inv *invocation, keycard *app.App, args []string) error) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action {
		return func(ctx context.Context, inv *invocation, args []string) error {
			cfg, log, err := inv.config()
			if err != nil {
				return err
			}
			cfg.Migrate = config.MigrateCheck
			keycard, err := app.New(ctx, cfg, app.Options{Logger: log, NoBackground: true, Build: buildInfo()})
			if err != nil {
				return err
			}
			defer keycard.Close()
			return fn(ctx, inv, keycard, args)
		}
	}
}

func changeRole(which string) func(ctx context.Context, inv *invocation, keycard *app.App, args []string) error {
	return func(ctx context.Context, inv *invocation, keycard *app.App, args []string) error {
		change := keycard.Service().GrantRole
		if which == "revoke-role" {
			change = keycard.Service().RevokeRole
		}
		user, err := change(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(inv.stdout, "%s (%s) now has roles: %s\n", user.Username, user.ID, strings.Join(user.Roles, " "))
		if which == "grant-role" {
			fmt.Fprintln(inv.stdout, "The role is in the user's access tokens from their next login or refresh.")
		}
		return nil
	}
}
