package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file is the fake keycard the tests of this package and of
// verify_test run against (its names are exported for verify_test only;
// they exist in test builds alone). It serves RFC 8414 metadata, the JWKS
// and the revocation feed as keycard does, and signs tokens as keycard
// does.

// TestClock is a settable clock shared by the issuer and the verifier.
type TestClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewTestClock starts at a fixed moment.
func NewTestClock() *TestClock {
	return &TestClock{now: time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC)}
}

func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *TestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestIssuer is the fake keycard.
type TestIssuer struct {
	// URL is the issuer identifier (the iss of its tokens).
	URL   string
	Clock *TestClock

	server  *httptest.Server
	client  *http.Client
	closing chan struct{}

	mu               sync.Mutex
	credential       string
	keys             []*testKey // published, in order
	signer           *testKey
	nextKey          int
	jwksCacheControl string
	jwksStatus       int
	jwksRequests     int
	editMetadata     func(map[string]any)
	feed             []map[string]any
	feedStatus       int
	feedChanged      chan struct{}
	polls            []TestPoll
	pollArrived      chan struct{}
	failedPolls      int
}

// TestPoll is one request the feed received.
type TestPoll struct {
	After, Wait, Authorization string
	Status                     int
}

type testKey struct {
	kid     string
	method  jwt.SigningMethod
	private crypto.Signer
	jwk     map[string]any
}

// testCredential is the fake keycard's KEYCARD_INTROSPECTION_TOKEN.
const testCredential = "feed-credential-0123456789abcdef"

// NewTestIssuer starts a fake keycard whose issuer is its own URL, with
// one EdDSA key and the feed enabled.
func NewTestIssuer(t testing.TB) *TestIssuer { return newTestIssuer(t, "") }

// newTestIssuer serves issuer (any URL: every connection of Client goes to
// the fake) or, if empty, the server's own URL.
func newTestIssuer(t testing.TB, issuer string) *TestIssuer {
	t.Helper()
	iss := &TestIssuer{
		Clock:            NewTestClock(),
		closing:          make(chan struct{}),
		credential:       testCredential,
		jwksCacheControl: "public, max-age=300",
		feedChanged:      make(chan struct{}),
		pollArrived:      make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", iss.serveMetadata)
	mux.HandleFunc("GET /.well-known/jwks.json", iss.serveJWKS)
	mux.HandleFunc("GET /oauth/revocations", iss.serveFeed)
	iss.server = httptest.NewServer(mux)
	iss.URL = iss.server.URL
	if issuer != "" {
		iss.URL = issuer
	}
	addr := iss.server.Listener.Addr().String()
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	iss.client = &http.Client{Transport: transport}
	// Cleanups run last-in first-out: verifiers made later stop first,
	// so no poll is left for Close to wait on.
	t.Cleanup(func() {
		close(iss.closing)
		transport.CloseIdleConnections()
		iss.server.Close()
	})
	iss.UseKey(iss.AddKey(t, EdDSA))
	return iss
}

// Options are verifier options that reach this issuer, follow its feed
// and use its clock.
func (iss *TestIssuer) Options() Options {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return Options{Issuer: iss.URL, HTTPClient: iss.client, Credential: iss.credential, Now: iss.Clock.Now}
}

// Verifier makes a verifier from Options after edit, closed when t ends.
func (iss *TestIssuer) Verifier(t testing.TB, edit func(*Options)) *Verifier {
	t.Helper()
	opts := iss.Options()
	if edit != nil {
		edit(&opts)
	}
	v, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// SetCredential changes the feed's credential; empty turns the feed off
// (404, not advertised), as on keycard.
func (iss *TestIssuer) SetCredential(credential string) {
	iss.mu.Lock()
	iss.credential = credential
	iss.mu.Unlock()
}

// EditMetadata changes the metadata document served from now on.
func (iss *TestIssuer) EditMetadata(edit func(doc map[string]any)) {
	iss.mu.Lock()
	iss.editMetadata = edit
	iss.mu.Unlock()
}

func (iss *TestIssuer) serveMetadata(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	doc := map[string]any{
		"issuer":         iss.URL,
		"token_endpoint": iss.URL + "/oauth/token",
		"jwks_uri":       iss.URL + "/.well-known/jwks.json",
	}
	if iss.credential != "" {
		doc["introspection_endpoint"] = iss.URL + "/oauth/introspect"
		doc["revocation_feed_endpoint"] = iss.URL + "/oauth/revocations"
	}
	if iss.editMetadata != nil {
		iss.editMetadata(doc)
	}
	iss.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeTestJSON(w, http.StatusOK, doc)
}

// --- keys ---

// AddKey generates and publishes a key for alg; it signs only after
// UseKey, as keycard publishes a key before signing with it.
func (iss *TestIssuer) AddKey(t testing.TB, alg string) string {
	t.Helper()
	var private crypto.Signer
	var err error
	switch alg {
	case EdDSA:
		_, private, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		private, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		private, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("AddKey: no keys for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	iss.nextKey++
	kid := fmt.Sprintf("%s-%d", strings.ToLower(alg), iss.nextKey)
	iss.mu.Unlock()
	iss.AddSigner(t, kid, alg, private)
	return kid
}

// AddSigner publishes private's public key under kid for alg.
func (iss *TestIssuer) AddSigner(t testing.TB, kid, alg string, private crypto.Signer) {
	t.Helper()
	key := &testKey{kid: kid, method: jwt.GetSigningMethod(alg), private: private, jwk: publicTestJWK(t, private.Public())}
	key.jwk["kid"], key.jwk["alg"], key.jwk["use"] = kid, alg, "sig"
	iss.mu.Lock()
	iss.keys = append(iss.keys, key)
	iss.mu.Unlock()
}

// UseKey makes kid the signing key.
func (iss *TestIssuer) UseKey(kid string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.signer = iss.keyLocked(kid)
}

// RemoveKey stops publishing kid (it can still sign, as a leaked key can).
func (iss *TestIssuer) RemoveKey(kid string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	for i, k := range iss.keys {
		if k.kid == kid {
			iss.keys = append(iss.keys[:i:i], iss.keys[i+1:]...)
			return
		}
	}
}

// EditJWK changes what the JWKS publishes for kid.
func (iss *TestIssuer) EditJWK(kid string, edit func(jwk map[string]any)) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	edit(iss.keyLocked(kid).jwk)
}

// PublicKey returns kid's public key.
func (iss *TestIssuer) PublicKey(kid string) crypto.PublicKey {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.keyLocked(kid).private.Public()
}

// SigningKID is the kid tokens are signed with.
func (iss *TestIssuer) SigningKID() string {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.signer.kid
}

func (iss *TestIssuer) keyLocked(kid string) *testKey {
	for _, k := range iss.keys {
		if k.kid == kid {
			return k
		}
	}
	if iss.signer != nil && iss.signer.kid == kid {
		return iss.signer
	}
	panic("TestIssuer: no key " + kid)
}

func (iss *TestIssuer) SetJWKSCacheControl(value string) {
	iss.mu.Lock()
	iss.jwksCacheControl = value
	iss.mu.Unlock()
}

// SetJWKSStatus makes the JWKS fail with status (0: serve it).
func (iss *TestIssuer) SetJWKSStatus(status int) {
	iss.mu.Lock()
	iss.jwksStatus = status
	iss.mu.Unlock()
}

// JWKSRequests counts JWKS requests so far.
func (iss *TestIssuer) JWKSRequests() int {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.jwksRequests
}

func (iss *TestIssuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	iss.jwksRequests++
	status := iss.jwksStatus
	keys := []map[string]any{}
	for _, k := range iss.keys {
		keys = append(keys, k.jwk)
	}
	body, err := json.Marshal(map[string]any{"keys": keys})
	cacheControl := iss.jwksCacheControl
	iss.mu.Unlock()
	if err != nil {
		panic(err)
	}
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	if cacheControl != "" {
		w.Header().Set("Cache-Control", cacheControl)
	}
	_, _ = w.Write(body)
}

func publicTestJWK(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	}
	t.Fatalf("no JWK for %T", pub)
	return nil
}

// --- tokens ---

// TestUser is the default subject of Claims.
const TestUser = "7d3c54e0-1f0a-4a57-9a44-2b1d8f0c6e11"

// Claims are keycard's claims for a fresh token of TestUser in a new
// session, at the issuer's clock.
func (iss *TestIssuer) Claims() jwt.MapClaims {
	now := iss.Clock.Now()
	return jwt.MapClaims{
		"iss":       iss.URL,
		"aud":       []string{DefaultAudience},
		"sub":       TestUser,
		"exp":       now.Add(15 * time.Minute).Unix(),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"jti":       NewTestID(),
		"sid":       NewTestID(),
		"roles":     []string{"editor"},
		"client_id": "keycard",
		"auth_time": now.Unix(),
		"amr":       []string{"pwd", "otp", "mfa"},
		"scope":     "openid role:editor",
	}
}

// Token signs fresh default claims.
func (iss *TestIssuer) Token(t testing.TB) string { return iss.Sign(t, iss.Claims()) }

// Sign signs claims with the signing key, with keycard's header.
func (iss *TestIssuer) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return iss.SignWith(t, iss.SigningKID(), nil, claims)
}

// SignWith signs claims with kid's key; header entries replace keycard's
// (a nil value removes one).
func (iss *TestIssuer) SignWith(t testing.TB, kid string, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	iss.mu.Lock()
	key := iss.keyLocked(kid)
	iss.mu.Unlock()
	h := map[string]any{"typ": AccessTokenType, "kid": kid}
	for name, value := range header {
		h[name] = value
	}
	return SignTestToken(t, key.method, key.private, h, claims)
}

// SignTestToken signs with any method and key; header entries replace
// golang-jwt's (a nil value removes one).
func SignTestToken(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	token := jwt.NewWithClaims(method, claims)
	for name, value := range header {
		if value == nil {
			delete(token.Header, name)
		} else {
			token.Header[name] = value
		}
	}
	raw, err := token.SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return raw
}

// NewTestID returns a random UUID, as keycard's ids are.
func NewTestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// --- the revocation feed ---

// Publish appends entries to the feed and returns the cursor after them.
func (iss *TestIssuer) Publish(entries ...map[string]any) string {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.feed = append(iss.feed, entries...)
	iss.changedLocked()
	return strconv.Itoa(len(iss.feed))
}

// RevokeSession publishes a session entry as keycard's logout does.
func (iss *TestIssuer) RevokeSession(sid, sub string, exp time.Time) string {
	return iss.Publish(map[string]any{"type": "session", "sid": sid, "sub": sub, "exp": exp.Unix()})
}

// RevokeToken publishes a token entry.
func (iss *TestIssuer) RevokeToken(jti, sub string, exp time.Time) string {
	return iss.Publish(map[string]any{"type": "token", "jti": jti, "sub": sub, "exp": exp.Unix()})
}

// RevokeUser publishes a user cut-off.
func (iss *TestIssuer) RevokeUser(sub string, iatBefore, exp time.Time) string {
	return iss.Publish(map[string]any{"type": "user", "sub": sub, "iat_before": iatBefore.Unix(), "exp": exp.Unix()})
}

// ResetFeed empties the feed's log, as a keycard on a new database has:
// earlier cursors are refused.
func (iss *TestIssuer) ResetFeed() {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.feed = nil
	iss.changedLocked()
}

// SetFeedStatus makes the feed fail with status from now on, held polls
// included (0: healthy again).
func (iss *TestIssuer) SetFeedStatus(status int) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.feedStatus = status
	iss.failedPolls = 0
	iss.changedLocked()
}

func (iss *TestIssuer) changedLocked() {
	close(iss.feedChanged)
	iss.feedChanged = make(chan struct{})
}

// Polls returns the feed requests received so far.
func (iss *TestIssuer) Polls() []TestPoll {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return append([]TestPoll(nil), iss.polls...)
}

// WaitPoll waits until the feed was asked for what follows cursor: the
// follower sends that request only after applying everything before it.
func (iss *TestIssuer) WaitPoll(t testing.TB, cursor string, within time.Duration) {
	t.Helper()
	iss.waitFor(t, within, "a feed poll after "+cursor, func() bool {
		for _, p := range iss.polls {
			if p.After == cursor {
				return true
			}
		}
		return false
	})
}

// WaitFailedPolls waits until n polls failed since SetFeedStatus; the
// follower has then finished with every answer before them.
func (iss *TestIssuer) WaitFailedPolls(t testing.TB, n int, within time.Duration) {
	t.Helper()
	iss.waitFor(t, within, fmt.Sprintf("%d failed feed polls", n), func() bool { return iss.failedPolls >= n })
}

func (iss *TestIssuer) waitFor(t testing.TB, within time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		iss.mu.Lock()
		ok, arrived := done(), iss.pollArrived
		iss.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("no %s within %v; polls: %+v", what, within, iss.Polls())
		}
	}
}

// serveFeed is keycard's GET /oauth/revocations?after=CURSOR&wait=SECONDS:
// authenticated by the introspection token (404 without one, 401 for a
// wrong one), wait 0..30 and a known cursor or 400, held while nothing is
// new, entries with exp, no cursor meaning everything still in force.
func (iss *TestIssuer) serveFeed(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	poll := TestPoll{After: r.URL.Query().Get("after"), Wait: r.URL.Query().Get("wait"), Authorization: r.Header.Get("Authorization")}
	credential := iss.credential
	status := iss.feedStatus
	after, afterErr := iss.parseCursorLocked(poll.After)
	wait, waitErr := strconv.Atoi(poll.Wait)
	if poll.Wait == "" {
		wait, waitErr = 0, nil
	}
	switch {
	case credential == "":
		poll.Status = http.StatusNotFound
	case poll.Authorization != "Bearer "+credential:
		poll.Status = http.StatusUnauthorized
	case waitErr != nil || wait < 0 || wait > 30 || afterErr != nil:
		poll.Status = http.StatusBadRequest
	case status != 0:
		poll.Status = status
		iss.failedPolls++
	}
	index := len(iss.polls)
	iss.polls = append(iss.polls, poll)
	close(iss.pollArrived)
	iss.pollArrived = make(chan struct{})
	iss.mu.Unlock()

	switch poll.Status {
	case 0:
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeTestJSON(w, poll.Status, map[string]string{"error": "invalid_token"})
		return
	case http.StatusBadRequest:
		writeTestJSON(w, poll.Status, map[string]string{"error": "invalid_request"})
		return
	default:
		http.Error(w, http.StatusText(poll.Status), poll.Status)
		return
	}

	hold := time.NewTimer(time.Duration(wait) * time.Second)
	defer hold.Stop()
	for {
		iss.mu.Lock()
		if iss.feedStatus != 0 {
			iss.failedPolls++
			status := iss.feedStatus
			iss.polls[index].Status = status
			iss.mu.Unlock()
			http.Error(w, http.StatusText(status), status)
			return
		}
		if _, err := iss.parseCursorLocked(poll.After); err != nil {
			iss.polls[index].Status = http.StatusBadRequest
			iss.mu.Unlock()
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
			return
		}
		entries, cursor := iss.entriesLocked(poll.After == "", after)
		changed := iss.feedChanged
		iss.mu.Unlock()
		if len(entries) > 0 || wait == 0 {
			writeTestJSON(w, http.StatusOK, map[string]any{"cursor": cursor, "revocations": entries})
			return
		}
		select {
		case <-changed:
		case <-hold.C:
			wait = 0
		case <-r.Context().Done():
			return
		case <-iss.closing:
			return
		}
	}
}

func (iss *TestIssuer) parseCursorLocked(after string) (int, error) {
	if after == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(after)
	if err != nil || n < 0 || n > len(iss.feed) {
		return 0, fmt.Errorf("bad cursor %q", after)
	}
	return n, nil
}

// entriesLocked: with no cursor, everything still in force; else all that
// came after it.
func (iss *TestIssuer) entriesLocked(snapshot bool, after int) ([]map[string]any, string) {
	entries := []map[string]any{}
	now := iss.Clock.Now().Unix()
	for i, e := range iss.feed {
		exp, _ := e["exp"].(int64)
		if snapshot && exp > now || !snapshot && i >= after {
			entries = append(entries, e)
		}
	}
	return entries, strconv.Itoa(len(iss.feed))
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
