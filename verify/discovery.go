package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// fetchTimeout bounds one metadata or JWKS request.
const fetchTimeout = 5 * time.Second

// maxDocumentBytes bounds a metadata or JWKS answer; keycard's are a few
// KiB, so more means something is wrong with the other end.
const maxDocumentBytes = 1 << 20

// metadata is what the verifier reads of keycard's RFC 8414 document.
type metadata struct {
	Issuer                 string `json:"issuer"`
	JWKSURI                string `json:"jwks_uri"`
	RevocationFeedEndpoint string `json:"revocation_feed_endpoint"`
}

// discover reads the issuer's authorization server metadata.
func discover(ctx context.Context, client *http.Client, issuer string) (metadata, error) {
	var m metadata
	where := strings.TrimSuffix(issuer, "/") + "/.well-known/oauth-authorization-server"
	if _, err := getJSON(ctx, client, where, "application/json", &m); err != nil {
		return m, fmt.Errorf("verify: discovery: %w", err)
	}
	// RFC 8414 §3.3: a document naming another issuer is a mix-up (or a
	// misconfigured KEYCARD_ISSUER); its keys must not be trusted for ours.
	if m.Issuer != issuer {
		return m, fmt.Errorf("verify: discovery: %s names issuer %q, not %q", where, m.Issuer, issuer)
	}
	for _, endpoint := range []*string{&m.JWKSURI, &m.RevocationFeedEndpoint} {
		if *endpoint == "" {
			continue
		}
		if err := checkEndpoint(issuer, *endpoint); err != nil {
			return m, fmt.Errorf("verify: discovery: %w", err)
		}
	}
	return m, nil
}

// checkEndpoint accepts an absolute http(s) URL; under an https issuer it
// must be https too, so the metadata cannot downgrade key or feed fetches
// to cleartext that anyone on the path could rewrite.
func checkEndpoint(issuer, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("endpoint %q is not an absolute http(s) URL", endpoint)
	}
	if strings.HasPrefix(issuer, "https:") && u.Scheme != "https" {
		return fmt.Errorf("endpoint %q is not https under an https issuer", endpoint)
	}
	return nil
}

// getJSON fetches where and decodes its JSON body into v. The request
// outlives a caller that hangs up (its answer may serve other callers)
// but not fetchTimeout.
func getJSON(ctx context.Context, client *http.Client, where, accept string, v any) (http.Header, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", where, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", where, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("GET %s: answer exceeds %d bytes", where, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("GET %s: %w", where, errors.Join(errors.New("answer is not the expected JSON"), err))
	}
	return resp.Header, nil
}
