package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

func healthcheckCommand() *command {
	return &command{
		name:    "healthcheck",
		summary: "exit 0 when the server's /readyz answers 200, else 1",
		help: `For container health checks on images without curl (distroless):
  HEALTHCHECK CMD ["/keycard", "healthcheck"]
Without --url it asks this machine's KEYCARD_ADDR (https when KEYCARD_TLS_CERT
is set; the certificate is not checked against 127.0.0.1, which it does not
name).`,
		setup: func(fs *flag.FlagSet) action {
			url := fs.String("url", "", "the readiness `URL` (default: http://127.0.0.1:PORT/readyz from KEYCARD_ADDR)")
			timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
			return func(ctx context.Context, inv *invocation, args []string) error {
				client := &http.Client{Timeout: *timeout}
				target := *url
				if target == "" {
					cfg, _, err := inv.config()
					if err != nil {
						return err
					}
					_, port, _ := net.SplitHostPort(cfg.Addr) // the configuration checked the form
					scheme := "http"
					if cfg.TLSCert != "" {
						scheme = "https"
						// The certificate names the public host, not the
						// loopback address asked here; liveness of this
						// very process is all that is checked.
						client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
					}
					target = scheme + "://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
				}
				return healthcheck(ctx, client, target)
			}
		},
	}
}

func healthcheck(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %s", url, resp.Status)
	}
	return nil
}
