package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/config"
)

// command is one entry of keycard's command table (commands, in
// server.go): either a group of subcommands or a leaf with an action.
// Adding a command is adding an entry: parsing, --help, argument counts
// and exit statuses are handled here for all of them.
type command struct {
	name string
	// args names the positional arguments, all required; a last one
	// ending in "..." takes any number.
	args    []string
	summary string // one line, for the list of the parent's commands
	help    string // more, for the command's own --help
	// setup declares the command's flags on fs and returns its action.
	// For a group it may be nil; a group's action, if any, runs when no
	// subcommand is named (keycard alone serves).
	setup       func(fs *flag.FlagSet) action
	subcommands []*command
	// variables adds the environment variables to the command's --help.
	variables bool
}

// action runs a command with its positional arguments.
type action func(ctx context.Context, inv *invocation, args []string) error

// invocation is what a command runs with: the environment keycard was
// started with and its output. main passes the process's; tests pass their
// own.
type invocation struct {
	lookupEnv func(string) (string, bool)
	environ   func() []string
	stdout    io.Writer
	stderr    io.Writer
}

// usageError is a command line that names no runnable command or breaks
// one's syntax: exit status 2, with that command's usage on stderr.
type usageError struct {
	msg  string
	cmd  *command // filled in by dispatch when an action returns one
	path string
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// configError is an invalid configuration: exit status 2, every problem
// listed, nothing opened.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }

// exitStatus reports err the way a shell script or an orchestrator reads
// it: 0 done, 1 failed while running, 2 bad command line or configuration.
func (inv *invocation) exitStatus(err error) int {
	var usage *usageError
	var invalid *configError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(inv.stderr, "keycard: %s\n\n", usage.msg)
		printUsage(inv.stderr, usage.cmd, usage.path)
		return 2
	case errors.As(err, &invalid):
		fmt.Fprintf(inv.stderr, "keycard: invalid configuration:\n  %s\n", strings.ReplaceAll(invalid.err.Error(), "\n", "\n  "))
		return 2
	default:
		fmt.Fprintf(inv.stderr, "keycard: %v\n", err)
		return 1
	}
}

// dispatch parses args for cmd (whose full name is path) and runs it or
// the subcommand they name. -h and --help print the usage on stdout and
// run nothing.
func (inv *invocation) dispatch(ctx context.Context, cmd *command, path string, args []string) error {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package's own messages: see flagError
	var act action
	if cmd.setup != nil {
		act = cmd.setup(fs)
	}
	if len(cmd.subcommands) > 0 {
		if err := fs.Parse(args); err != nil {
			return inv.flagError(cmd, path, err)
		}
		rest := fs.Args()
		if act != nil && (len(rest) == 0 || fs.NFlag() > 0) {
			return inv.runAction(ctx, cmd, path, act, rest)
		}
		if len(rest) == 0 {
			return &usageError{msg: path + " needs a command", cmd: cmd, path: path}
		}
		sub := cmd.find(rest[0])
		if sub == nil {
			return &usageError{msg: fmt.Sprintf("unknown command %q for %s", rest[0], path), cmd: cmd, path: path}
		}
		return inv.dispatch(ctx, sub, path+" "+sub.name, rest[1:])
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return inv.flagError(cmd, path, err)
	}
	if err := cmd.checkArgs(positional); err != nil {
		return &usageError{msg: err.Error(), cmd: cmd, path: path}
	}
	return inv.runAction(ctx, cmd, path, act, positional)
}

func (inv *invocation) runAction(ctx context.Context, cmd *command, path string, act action, args []string) error {
	err := act(ctx, inv, args)
	var usage *usageError
	if errors.As(err, &usage) && usage.cmd == nil {
		usage.cmd, usage.path = cmd, path
	}
	return err
}

func (inv *invocation) flagError(cmd *command, path string, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(inv.stdout, cmd, path)
		return nil
	}
	return &usageError{msg: err.Error(), cmd: cmd, path: path}
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments (keys generate ES256 --alg ES256 is not "ES256 --alg ES256" as
// three arguments); after "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional, tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(positional, tail...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func (cmd *command) find(name string) *command {
	for _, sub := range cmd.subcommands {
		if sub.name == name {
			return sub
		}
	}
	return nil
}

func (cmd *command) checkArgs(args []string) error {
	if n := len(cmd.args); n > 0 && strings.HasSuffix(cmd.args[n-1], "...") {
		if len(args) < n-1 {
			return fmt.Errorf("missing %s", strings.Join(cmd.args[len(args):n-1], " "))
		}
		return nil
	}
	switch {
	case len(args) < len(cmd.args):
		return fmt.Errorf("missing %s", strings.Join(cmd.args[len(args):], " "))
	case len(args) > len(cmd.args) && len(cmd.args) == 0:
		return fmt.Errorf("unexpected argument %q: this command takes none", args[0])
	case len(args) > len(cmd.args):
		return fmt.Errorf("unexpected argument %q after %s", args[len(cmd.args)], strings.Join(cmd.args, " "))
	}
	return nil
}

// flags returns the command's flag set, declared but not parsed.
func (cmd *command) flags(path string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	if cmd.setup != nil {
		cmd.setup(fs)
	}
	return fs
}

// synopsis is the command line of cmd: its flags, subcommand and arguments.
func (cmd *command) synopsis(path string) string {
	parts := []string{path}
	cmd.flags(path).VisitAll(func(f *flag.Flag) {
		name, _ := flag.UnquoteUsage(f)
		parts = append(parts, "["+strings.TrimSpace(flagName(f)+" "+name)+"]")
	})
	switch {
	case len(cmd.subcommands) > 0 && cmd.setup != nil:
		parts = append(parts, "[COMMAND]")
	case len(cmd.subcommands) > 0:
		parts = append(parts, "COMMAND")
	}
	for _, arg := range cmd.args {
		if strings.HasSuffix(arg, "...") {
			arg = "[" + arg + "]" // any number, none included
		}
		parts = append(parts, arg)
	}
	return strings.Join(parts, " ")
}

// flagName is how a flag is written: -v, --version (the flag package
// takes either number of dashes; this is the usual spelling).
func flagName(f *flag.Flag) string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// leaves calls fn with every runnable command under cmd and its path.
func (cmd *command) leaves(path string, fn func(c *command, path string)) {
	if len(cmd.subcommands) == 0 {
		fn(cmd, path)
		return
	}
	for _, sub := range cmd.subcommands {
		sub.leaves(path+" "+sub.name, fn)
	}
}

// printUsage writes cmd's --help: its synopsis and description, then its
// commands (a group; the root lists every runnable one) and its flags.
func printUsage(w io.Writer, cmd *command, path string) {
	fmt.Fprintf(w, "Usage: %s\n", cmd.synopsis(path))
	if cmd.summary != "" {
		fmt.Fprintf(w, "\n%s.\n", upperFirst(cmd.summary))
	}
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.help))
	}
	tw := tabwriter.NewWriter(w, 2, 8, 3, ' ', 0)
	if len(cmd.subcommands) > 0 {
		fmt.Fprintln(tw, "\nCommands:")
		for _, sub := range cmd.subcommands {
			sub.leaves(path+" "+sub.name, func(c *command, p string) {
				fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimPrefix(c.synopsis(p), path+" "), c.summary)
			})
		}
	}
	fmt.Fprintln(tw, "\nFlags:")
	fmt.Fprintln(tw, "  -h, --help\tshow this help")
	cmd.flags(path).VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", strings.TrimSpace(flagName(f)+" "+name), usage, def)
	})
	tw.Flush()
	if cmd.variables {
		printVariables(w)
	}
	if len(cmd.subcommands) > 0 {
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for more about a command.\n", path)
	}
}

// printVariables writes the table of environment variables.
func printVariables(w io.Writer) {
	fmt.Fprintln(w, "\nConfiguration is read from the environment (durations take s, m, h and d):")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, v := range config.Vars() {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Help)
	}
	tw.Flush()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// config loads and checks the configuration, every problem at once and
// before anything is opened, and makes the logger it asks for. Unknown
// KEYCARD_ variables (development: production has refused them) are
// warned about.
func (inv *invocation) config() (config.Config, *slog.Logger, error) {
	cfg, err := config.LoadEnv(inv.lookupEnv, inv.environ)
	if err = errors.Join(err, app.CheckConfig(cfg)); err != nil {
		return cfg, nil, &configError{err}
	}
	log := newLogger(cfg, inv.stderr)
	for _, u := range cfg.Unknown {
		log.Warn("unknown variable ignored: "+u.String(), "name", u.Name, "did_you_mean", u.Suggestion)
	}
	return cfg, log, nil
}

// newLogger writes cfg's level and format to w. In JSON, durations are
// seconds as numbers ("timeout_s":15): slog would write nanoseconds, which
// log pipelines take for a count.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				return slog.Float64(a.Key+"_s", a.Value.Duration().Seconds())
			}
			return a
		}
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
