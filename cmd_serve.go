package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/store"
)

func serveCommand() *command {
	return &command{
		name:      "serve",
		summary:   "start the server (what keycard does without a command)",
		variables: true,
		help: `Serves GraphQL on KEYCARD_ADDR until SIGINT or SIGTERM, then lets requests
in flight finish (KEYCARD_SHUTDOWN_TIMEOUT). At start-up the database is
migrated as KEYCARD_MIGRATE says.`,
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, inv *invocation, args []string) error {
				return serve(ctx, inv)
			}
		},
	}
}

// serve runs the server until SIGINT or SIGTERM.
func serve(ctx context.Context, inv *invocation) error {
	cfg, log, err := inv.config()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return listenAndServe(ctx, cfg, log, nil)
}

// listenAndServe runs the HTTP server until ctx ends, then lets in-flight
// requests finish before closing the database. ready, if set, is told the
// listening address once requests are served.
func listenAndServe(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	keycard, err := app.New(startCtx, cfg, app.Options{Logger: log, Build: buildInfo()})
	cancel()
	if err != nil {
		return err
	}
	defer keycard.Close()

	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("KEYCARD_ADDR: %w", err)
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
	logStartup(log, cfg, keycard.Startup(), listener.Addr().String(), scheme)
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

// logStartup writes the one line that says how this keycard runs, so that
// a wrong setting shows in the first line of the log rather than in the
// first failed login: mode, database (password masked), signing key,
// cookie mode, CORS origins, where rate limits are counted, the playground.
// A development key is warned about here, by the server only: one-shot
// commands never sign anything.
func logStartup(log *slog.Logger, cfg config.Config, started app.Startup, addr, scheme string) {
	if started.GeneratedKey {
		log.Warn("development mode: signing with a key generated and kept in the database; configure KEYCARD_JWT_SECRET or KEYCARD_JWT_KEY_FILE, and KEYCARD_ENV=production, for real deployments",
			"alg", started.SigningAlg)
	}
	origins := strings.Join(cfg.CORSOrigins, ",")
	if origins == "" {
		origins = "none"
	}
	log.Info("keycard listening",
		"addr", addr,
		"scheme", scheme,
		"mode", cfg.Mode,
		"database", store.Redact(cfg.DatabaseURL),
		"migrate", cfg.Migrate,
		"alg", started.SigningAlg,
		"kid", started.KeyID,
		"cookie_mode", onOff(cfg.RefreshCookie),
		"cors_origins", origins,
		"rate_limits", started.RateLimits,
		"playground", onOff(cfg.Playground),
		"memory_limit_mib", debug.SetMemoryLimit(-1)>>20,
		"version", buildInfo().Version,
	)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
