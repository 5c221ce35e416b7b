package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// WebAuthn is the passkeys' relying party. RPID empty means passkeys are
// off: production without KEYCARD_WEBAUTHN_RP_ID and
// KEYCARD_WEBAUTHN_ORIGINS, where no default could be right.
type WebAuthn struct {
	// RPID is the domain passkeys are bound to: every origin's host is
	// it or a subdomain of it.
	RPID   string
	RPName string
	// Origins are the pages (scheme://host[:port]) that may run the
	// ceremonies: the frontends, and keycard's own playground.
	Origins []string
}

// Enabled reports whether passkeys are configured.
func (w WebAuthn) Enabled() bool { return w.RPID != "" }

// devRPID and devFrontend are development's defaults: a frontend served by
// Vite's dev server (examples/web) and keycard itself on localhost.
const (
	devRPID     = "localhost"
	devFrontend = "http://localhost:5173"
)

// webAuthn applies the relying-party rules. Development defaults the RP ID
// to localhost and the origins to http://localhost:5173 and keycard's own
// http://localhost:PORT; production has no defaults (a wrong RP ID binds
// every passkey registered to the wrong domain, for good): either both
// variables are set or passkeys are off, their operations answering
// UNAVAILABLE (and start-up refusing if passkeys are registered).
func webAuthn(cfg *Config, rpID, origins, name string) []error {
	var errs []error
	rpID = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(rpID), "."))
	list := splitList(origins)
	if cfg.Mode == Production {
		switch {
		case rpID == "" && len(list) == 0:
			cfg.WebAuthn = WebAuthn{}
			return nil
		case rpID == "":
			return []error{errors.New("KEYCARD_WEBAUTHN_RP_ID is required with KEYCARD_WEBAUTHN_ORIGINS: the domain passkeys are bound to, e.g. example.com")}
		case len(list) == 0:
			return []error{errors.New("KEYCARD_WEBAUTHN_ORIGINS is required with KEYCARD_WEBAUTHN_RP_ID: the origins of the pages that sign in with passkeys, e.g. https://app.example.com")}
		}
	}
	if rpID == "" {
		rpID = devRPID
	}
	if len(list) == 0 {
		list = []string{devFrontend}
		if _, port, err := net.SplitHostPort(cfg.Addr); err == nil && port != "" {
			list = append(list, "http://localhost:"+port)
		}
	}
	if err := checkRPID(rpID); err != nil {
		errs = append(errs, err)
	}
	w := WebAuthn{RPID: rpID, RPName: name}
	for _, origin := range list {
		origin = strings.TrimSuffix(origin, "/")
		if err := checkWebAuthnOrigin(cfg.Mode, rpID, origin); err != nil {
			errs = append(errs, err)
			continue
		}
		w.Origins = append(w.Origins, origin)
	}
	cfg.WebAuthn = w
	return errs
}

// checkRPID wants a domain: browsers refuse an IP address, a port or a
// scheme as the RP ID.
func checkRPID(rpID string) error {
	bad := fmt.Errorf("KEYCARD_WEBAUTHN_RP_ID: %q is not a domain such as example.com (no scheme, port or path; not an IP address)", rpID)
	if net.ParseIP(rpID) != nil || len(rpID) > 253 {
		return bad
	}
	for _, label := range strings.Split(rpID, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return bad
			}
		}
	}
	return nil
}

// checkWebAuthnOrigin wants scheme://host[:port] on the RP ID or a
// subdomain of it (browsers run a ceremony nowhere else), and HTTPS in
// production except on localhost, the one host browsers trust over HTTP.
func checkWebAuthnOrigin(mode Mode, rpID, origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(origin, "?") || strings.HasSuffix(origin, "#") {
		return fmt.Errorf("KEYCARD_WEBAUTHN_ORIGINS: %q is not an origin such as https://app.example.com", origin)
	}
	host := strings.ToLower(u.Hostname())
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("KEYCARD_WEBAUTHN_ORIGINS: %s is not on KEYCARD_WEBAUTHN_RP_ID %s or a subdomain of it; browsers would refuse its passkey ceremonies", origin, rpID)
	}
	if mode == Production && u.Scheme != "https" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("KEYCARD_WEBAUTHN_ORIGINS: %s must be https in production (browsers offer passkeys to secure pages only)", origin)
	}
	return nil
}
