package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/keycard/keycard/migrations"
	"github.com/keycard/keycard/store"
)

func migrateCommand() *command {
	return &command{
		name:    "migrate",
		summary: "manage the database schema by hand",
		help: `With KEYCARD_MIGRATE=off or check the server leaves the schema alone; run
"keycard migrate up" as a separate job, with a KEYCARD_DATABASE_URL whose user
may change the schema, before starting the new version.`,
		subcommands: []*command{
			{
				name:    "status",
				summary: "list the migrations and whether each is applied (changes nothing)",
				setup:   migration(false, migrateStatus),
			},
			{
				name:    "up",
				summary: "apply every pending migration, creating the database if missing",
				setup:   migration(true, migrateUp),
			},
			{
				name:    "down",
				summary: "revert the most recent migration",
				setup:   migration(false, migrateDown),
			},
		},
	}
}

// migration is the setup of a migrate subcommand: step runs with the
// configured database, which is created first only if create is set (a
// status or down on a missing database says so instead).
func migration(create bool, step func(ctx context.Context, m *migrations.Migrator, stdout io.Writer) error) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action {
		return func(ctx context.Context, inv *invocation, args []string) error {
			cfg, _, err := inv.config()
			if err != nil {
				return err
			}
			open := store.OpenExisting
			if create {
				open = store.Open
			}
			db, err := open(ctx, cfg.DatabaseURL, time.Now)
			if err != nil {
				return err
			}
			defer db.Close()
			migrator, err := db.Migrator(nil)
			if err != nil {
				return err
			}
			return step(ctx, migrator, inv.stdout)
		}
	}
}

func migrateStatus(ctx context.Context, migrator *migrations.Migrator, stdout io.Writer) error {
	statuses, err := migrator.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, s := range statuses {
		applied := "-"
		if !s.AppliedAt.IsZero() {
			applied = s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
	}
	return tw.Flush()
}

func migrateUp(ctx context.Context, migrator *migrations.Migrator, stdout io.Writer) error {
	results, err := migrator.Up(ctx)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		fmt.Fprintln(stdout, "no pending migrations")
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "applied %d %s (%s)\n", r.Source.Version, r.Source.Path, r.Duration.Round(time.Millisecond))
	}
	return nil
}

func migrateDown(ctx context.Context, migrator *migrations.Migrator, stdout io.Writer) error {
	r, err := migrator.Down(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reverted %d %s (%s)\n", r.Source.Version, r.Source.Path, r.Duration.Round(time.Millisecond))
	return nil
}
