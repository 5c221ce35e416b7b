package verify

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Signing algorithms Options.Algorithms may list.
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
	HS256 = "HS256"
)

// MaxTokenBytes bounds what reaches the JWT parser: a larger token (or
// Authorization header) is refused unparsed, so a huge header costs neither
// decoding time nor memory. keycard's own limit is the same.
const MaxTokenBytes = 8 << 10

// DefaultAudience is keycard's default KEYCARD_AUDIENCE.
const DefaultAudience = "keycard"

const (
	defaultLeeway             = 5 * time.Second
	defaultMaxStaleness       = 10 * time.Second
	defaultMinRefetchInterval = 10 * time.Second
	// minMaxStaleness leaves room for a long poll of at least one second
	// to come back before the feed counts as stale.
	minMaxStaleness = 2 * time.Second
	// minSecretBytes is keycard's own floor for KEYCARD_JWT_SECRET.
	minSecretBytes = 32
)

// Options configure a Verifier. Only Issuer is required.
type Options struct {
	// Issuer is keycard's issuer identifier, a URL (KEYCARD_ISSUER, else
	// KEYCARD_PUBLIC_URL): metadata is read from
	// Issuer + "/.well-known/oauth-authorization-server" and every token's
	// iss must equal it exactly.
	Issuer string
	// Audience every token's aud must contain. Default "keycard"
	// (KEYCARD_AUDIENCE).
	Audience string
	// Algorithms pins the signing algorithms accepted; a token naming any
	// other is refused before its key is looked up. Default EdDSA, ES256
	// and RS256, with keys from the issuer's JWKS. HS256 is accepted only
	// when listed and Secret is set; Secret alone means HS256 only.
	Algorithms []string
	// Secret is keycard's HS256 secret (KEYCARD_JWT_SECRET, at least 32
	// bytes). Anyone holding it can mint tokens: prefer an asymmetric
	// key on keycard, which needs no secret here.
	Secret []byte
	// Leeway tolerates clock skew with keycard when checking exp, nbf and
	// iat. Zero means 5 s.
	Leeway time.Duration
	// HTTPClient fetches metadata, keys and the feed. Default: a client
	// of its own over http.DefaultTransport. A Timeout on it, if any,
	// must outlast a long poll of the feed (half of MaxStaleness).
	HTTPClient *http.Client
	// Credential is keycard's KEYCARD_INTROSPECTION_TOKEN. With it the
	// verifier follows keycard's revocation feed and refuses revoked
	// tokens within a second of their revocation; without it a revoked
	// token keeps verifying until it expires.
	Credential string
	// MaxStaleness bounds how long the feed may go unanswered before
	// Verify refuses every token with ErrFeedStale (fail closed). Zero
	// means 10 s; at least 2 s.
	MaxStaleness time.Duration
	// MinRefetchInterval is how often at most a token naming an unknown
	// kid makes the verifier fetch the JWKS again (keycard rotated its
	// key). Forged tokens with made-up kids cost keycard no more than one
	// fetch per interval. Zero means 10 s.
	MinRefetchInterval time.Duration
	// Now is the clock for token validity, key-cache expiry and feed
	// staleness; tests set it. Default time.Now. Waits between requests
	// always use real time.
	Now func() time.Time
	// Logger receives fetch failures and feed outages, never a token or
	// the credential. Default: discard.
	Logger *slog.Logger
}

// resolve checks o and fills in the defaults.
func (o Options) resolve() (Options, error) {
	if err := checkIssuer(o.Issuer); err != nil {
		return o, err
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	if len(o.Algorithms) == 0 {
		if len(o.Secret) > 0 {
			o.Algorithms = []string{HS256}
		} else {
			o.Algorithms = []string{EdDSA, ES256, RS256}
		}
	}
	o.Algorithms = slices.Clone(o.Algorithms)
	for _, alg := range o.Algorithms {
		switch alg {
		case EdDSA, ES256, RS256, HS256:
		default:
			return o, fmt.Errorf("verify: unsupported algorithm %q (use %s, %s, %s or %s)", alg, EdDSA, ES256, RS256, HS256)
		}
	}
	hmac := slices.Contains(o.Algorithms, HS256)
	switch {
	case hmac && len(o.Secret) == 0:
		return o, errors.New("verify: HS256 needs Options.Secret (keycard's KEYCARD_JWT_SECRET)")
	case !hmac && len(o.Secret) > 0:
		return o, errors.New("verify: Options.Secret is set but Options.Algorithms does not list HS256")
	case hmac && len(o.Secret) < minSecretBytes:
		return o, fmt.Errorf("verify: Options.Secret has %d bytes; keycard requires at least %d", len(o.Secret), minSecretBytes)
	}
	o.Secret = slices.Clone(o.Secret)
	if o.Leeway < 0 || o.MaxStaleness < 0 || o.MinRefetchInterval < 0 {
		return o, errors.New("verify: Leeway, MaxStaleness and MinRefetchInterval must not be negative")
	}
	if o.Leeway == 0 {
		o.Leeway = defaultLeeway
	}
	if o.MaxStaleness == 0 {
		o.MaxStaleness = defaultMaxStaleness
	}
	if o.MaxStaleness < minMaxStaleness {
		return o, fmt.Errorf("verify: MaxStaleness %v is below %v: no long poll could keep the feed fresh", o.MaxStaleness, minMaxStaleness)
	}
	if o.MinRefetchInterval == 0 {
		o.MinRefetchInterval = defaultMinRefetchInterval
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// asymmetric reports whether any pinned algorithm takes its key from the
// JWKS.
func (o Options) asymmetric() bool {
	return slices.ContainsFunc(o.Algorithms, func(alg string) bool { return alg != HS256 })
}

// checkIssuer accepts what RFC 8414 §2 allows as an issuer identifier: an
// absolute http(s) URL without query or fragment.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("verify: Options.Issuer is required (keycard's KEYCARD_ISSUER or KEYCARD_PUBLIC_URL)")
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("verify: Options.Issuer %q is not an http(s) URL without query or fragment", issuer)
	}
	return nil
}
