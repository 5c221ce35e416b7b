package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// publicURLs applies the issuer rule. PublicURL is KEYCARD_PUBLIC_URL,
// required in production; in development it defaults to
// http://localhost:PORT, PORT from KEYCARD_ADDR. Issuer (iss of tokens,
// issuer of the OAuth metadata) is KEYCARD_ISSUER, else PublicURL. No URL
// is ever taken from a request's Host header: the client chooses it, and a
// cache in front would hand one client's choice to everyone.
func publicURLs(cfg *Config, publicURL, issuer string) []error {
	var errs []error
	publicURL = strings.TrimSuffix(publicURL, "/")
	switch {
	case publicURL != "":
		if err := checkPublicURL(publicURL); err != nil {
			errs = append(errs, err)
		}
	case cfg.Mode == Production:
		errs = append(errs, errors.New("KEYCARD_PUBLIC_URL is required in production: the URL clients reach keycard at, e.g. https://auth.example.com (the token issuer and the OAuth metadata URLs are built from it)"))
	default:
		_, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil || port == "" {
			errs = append(errs, fmt.Errorf("KEYCARD_ADDR: %q is not HOST:PORT or :PORT", cfg.Addr))
			break
		}
		publicURL = "http://localhost:" + port
	}
	cfg.PublicURL = publicURL
	cfg.Issuer = issuer
	if cfg.Issuer == "" {
		cfg.Issuer = publicURL
	}
	return errs
}

// checkPublicURL accepts an absolute http(s) URL, with a path if keycard
// is served under one, and nothing a base URL cannot have.
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#") {
		return fmt.Errorf("KEYCARD_PUBLIC_URL: %q is not an http(s) base URL such as https://auth.example.com", raw)
	}
	return nil
}
