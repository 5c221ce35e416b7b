// Command keycard is a GraphQL authentication API: register, login, refresh,
// logout and "who am I", with short-lived signed access tokens and rotating
// refresh tokens. Run it with no arguments to serve; see --help.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/store"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version or VCS revision is reported.
var version = ""

func main() {
	tuneGC(os.LookupEnv)
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// tuneGC trades a little memory for a lot of CPU, unless GOGC or GOMEMLIMIT
// say otherwise: keycard's live heap is small and nearly all its garbage is
// per request, so collecting at 4× the live heap instead of 2× cuts GC work
// (measured: +25–40% requests/s, see BENCHMARKS.md). The soft limit keeps
// the heap bounded all the same; the GC works harder only near it.
func tuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(768 << 20)
	}
}

func run(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return withConfig(lookupEnv, stderr, func(cfg config.Config, log *slog.Logger) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, log, nil)
		})
	case "migrate":
		return withConfig(lookupEnv, stderr, func(cfg config.Config, log *slog.Logger) error {
			return migrate(cfg, args, stdout)
		})
	case "users":
		return withConfig(lookupEnv, stderr, func(cfg config.Config, log *slog.Logger) error {
			return users(cfg, log, args, stdout)
		})
	case "keys":
		if err := keys(args, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "keycard: %v\n", err)
			return 2
		}
		return 0
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "keycard", buildVersion())
		return 0
	case "help", "--help", "-help", "-h":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "keycard: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `keycard: a GraphQL authentication API.

Usage:
  keycard [serve]                  start the server (the default)
  keycard migrate status|up|down   show, apply, or revert one database migration
  keycard users grant-role USERNAME ROLE
                                   give a user a role (e.g. the first admin)
  keycard users revoke-role USERNAME ROLE
                                   take a role away
  keycard keys generate --alg EdDSA|ES256|RS256 [--out FILE]
                                   a new private signing key (PEM), on stdout
                                   or in FILE, created owner-only (0600)
  keycard version                  print the version
  keycard help                     this text

Configuration is read from the environment:
`)
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

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return "devel-" + s.Value
		}
	}
	return "devel"
}

// withConfig loads the configuration and a logger, runs fn, and turns its
// error into an exit status with a message a person can act on.
func withConfig(lookupEnv func(string) (string, bool), stderr io.Writer, fn func(config.Config, *slog.Logger) error) int {
	cfg, err := config.LoadEnv(lookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "keycard: invalid configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	log := newLogger(cfg, stderr)
	if err := fn(cfg, log); err != nil {
		fmt.Fprintf(stderr, "keycard: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the HTTP server until ctx ends (SIGINT or SIGTERM), then lets
// in-flight requests finish before closing the database. ready, if set, is
// told the listening address once requests are served.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	keycard, err := app.New(startCtx, cfg, app.Options{Logger: log})
	cancel()
	if err != nil {
		return err
	}
	defer keycard.Close()

	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           keycard.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		// Loaded now so a bad pair fails the start, not the first handshake.
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("KEYCARD_TLS_CERT/KEYCARD_TLS_KEY: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		scheme = "https"
	}
	if cfg.MetricsAddr != "" {
		// Metrics are auxiliary: a taken port (a second instance on the
		// host, Prometheus itself on its default 9090) is reported, and
		// authentication is served all the same.
		if metricsListener, err := net.Listen("tcp", cfg.MetricsAddr); err != nil {
			log.Error("metrics not served: cannot listen on KEYCARD_METRICS_ADDR; set another address, or empty to disable",
				"addr", cfg.MetricsAddr, "err", err)
		} else {
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", keycard.MetricsHandler())
			metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = metricsSrv.Serve(metricsListener) }()
			defer metricsSrv.Close()
			log.Info("metrics listening", "addr", metricsListener.Addr().String(), "path", "/metrics")
		}
	}
	served := make(chan error, 1)
	go func() {
		if scheme == "https" {
			served <- srv.ServeTLS(listener, "", "")
			return
		}
		served <- srv.Serve(listener)
	}()
	log.Info("keycard listening", "addr", listener.Addr().String(), "scheme", scheme, "mode", cfg.Mode, "database", store.Redact(cfg.DatabaseURL), "version", buildVersion())
	if ready != nil {
		ready(listener.Addr().String())
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting for in-flight requests", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// migrate runs `keycard migrate status|up|down`.
func migrate(cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: keycard migrate status|up|down")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.DatabaseURL, time.Now)
	if err != nil {
		return err
	}
	defer db.Close()
	migrator, err := db.Migrator(nil)
	if err != nil {
		return err
	}
	switch args[0] {
	case "status":
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
	case "up":
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
	case "down":
		r, err := migrator.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reverted %d %s (%s)\n", r.Source.Version, r.Source.Path, r.Duration.Round(time.Millisecond))
		return nil
	default:
		return fmt.Errorf("unknown migrate command %q: use status, up or down", args[0])
	}
}

// users runs `keycard users grant-role|revoke-role USERNAME ROLE` against
// the configured database; a running server picks the change up within one
// revocation sync.
func users(cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) != 3 || (args[0] != "grant-role" && args[0] != "revoke-role") {
		return errors.New("usage: keycard users grant-role|revoke-role USERNAME ROLE")
	}
	ctx := context.Background()
	keycard, err := app.New(ctx, cfg, app.Options{Logger: log, NoBackground: true})
	if err != nil {
		return err
	}
	defer keycard.Close()
	change := keycard.Service().GrantRole
	if args[0] == "revoke-role" {
		change = keycard.Service().RevokeRole
	}
	user, err := change(ctx, args[1], args[2])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%s) now has roles: %s\n", user.Username, user.ID, strings.Join(user.Roles, " "))
	if args[0] == "grant-role" {
		fmt.Fprintln(stdout, "The role is in the user's access tokens from their next login or refresh.")
	}
	return nil
}

// keys runs `keycard keys generate --alg ALG [--out FILE]`: a new private
// key as PEM, for KEYCARD_JWT_KEY_FILE. It needs no configuration. The key
// never lands in a file others can read: --out creates FILE owner-only and
// never overwrites one, and a file stdout was redirected to (created with
// the umask's mode, often 0644) is narrowed to 0600.
func keys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		return errors.New("usage: keycard keys generate --alg EdDSA|ES256|RS256")
	}
	fs := flag.NewFlagSet("keycard keys generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", "EdDSA", "EdDSA, ES256 or RS256")
	out := fs.String("out", "", "write the key to this new file, readable by its owner only (default: stdout)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// "keys generate ES256" must not quietly print an EdDSA key.
		return fmt.Errorf("unexpected argument %q: use --alg %s", fs.Arg(0), fs.Arg(0))
	}
	pem, err := auth.GenerateKey(*alg)
	if err != nil {
		return err
	}
	if *out != "" {
		return writeKeyFile(*out, pem)
	}
	if f, ok := stdout.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o077 != 0 {
			if err := f.Chmod(0o600); err != nil {
				return fmt.Errorf("the key would go to a file open to group or others (mode %04o) whose mode cannot be changed: %w; use --out FILE", info.Mode().Perm(), err)
			}
			fmt.Fprintf(stderr, "keycard: the output file was open to group or others (mode %04o); it is now 0600\n", info.Mode().Perm())
		}
	}
	_, err = stdout.Write(pem)
	return err
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
