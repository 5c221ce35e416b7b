package verify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessTokenType is the JOSE "typ" of keycard access tokens (RFC 9068
// §2.1). Requiring it stops other JWTs signed with the same key (ID
// tokens, tokens of another product) from being replayed as access tokens.
const AccessTokenType = "at+jwt"

// Verifier verifies keycard access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer string
	leeway time.Duration
	now    func() time.Time
	parser *jwt.Parser
	secret []byte
	keys   *keyCache
	feed   *follower // nil without Options.Credential
	// retryAfter is what Middleware sends with a 503: about when the
	// follower next asks the feed, or the keys may next be fetched.
	retryAfter string

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// New discovers the issuer's metadata, fetches its signing keys and, with
// a Credential, reads the revocation feed once; it fails if any of them
// fails, so a misconfiguration shows at start-up rather than as refused
// tokens. With a Credential it then follows the feed until ctx ends or
// Close is called: pass a context that lives as long as the service (not a
// request's), since after it ends Verify refuses every token with
// ErrFeedStale.
func New(ctx context.Context, opts Options) (*Verifier, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	meta, err := discover(ctx, o.HTTPClient, o.Issuer)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		issuer:     o.Issuer,
		leeway:     o.Leeway,
		now:        o.Now,
		parser:     newParser(o),
		secret:     o.Secret,
		done:       make(chan struct{}),
		retryAfter: seconds(o.MinRefetchInterval),
	}
	jwksURI := ""
	if o.asymmetric() {
		if meta.JWKSURI == "" {
			return nil, errors.New("verify: the issuer's metadata has no jwks_uri")
		}
		jwksURI = meta.JWKSURI
	}
	v.keys = newKeyCache(jwksURI, o)
	if err := v.keys.load(ctx); err != nil {
		return nil, err
	}
	if o.Credential == "" {
		close(v.done)
		return v, nil
	}
	if meta.RevocationFeedEndpoint == "" {
		return nil, errors.New("verify: Options.Credential is set but the issuer's metadata has no revocation_feed_endpoint")
	}
	if v.feed, err = newFollower(meta.RevocationFeedEndpoint, o); err != nil {
		return nil, err
	}
	if _, err := v.feed.poll(ctx, 0); err != nil {
		return nil, fmt.Errorf("verify: revocation feed: %w", err)
	}
	v.retryAfter = seconds(v.feed.backoffMax)
	runCtx, stop := context.WithCancel(ctx)
	v.stop = stop
	go func() {
		defer close(v.done)
		v.feed.run(runCtx)
	}()
	return v, nil
}

// seconds renders d for Retry-After, rounded up.
func seconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// newParser holds the verification rules of RFC 8725 in one place; each
// option names the attack it stops.
func newParser(o Options) *jwt.Parser {
	return jwt.NewParser(
		// Pin the algorithms: refuses "none" and algorithm confusion
		// (an HS256 token "signed" with a public key, RFC 8725 §2.1,
		// §3.1) before any key is looked up.
		jwt.WithValidMethods(o.Algorithms),
		// A token without exp would be valid forever once leaked.
		jwt.WithExpirationRequired(),
		// A token of another issuer is not keycard's (RFC 8725 §3.8).
		jwt.WithIssuer(o.Issuer),
		// A token minted for another service must not open this one
		// (substitution, RFC 8725 §3.9).
		jwt.WithAudience(o.Audience),
		// An iat in the future marks a forged or badly skewed token.
		jwt.WithIssuedAt(),
		// Honest clock skew must not refuse fresh tokens.
		jwt.WithLeeway(o.Leeway),
		// One token, one spelling: no padding or stray bits that would
		// let altered bytes pass the signature check or the cache.
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(o.Now),
	)
}

// Verify checks raw (the compact JWS, without "Bearer ") and returns its
// claims, which are shared with every caller presenting the same token:
// never modify them. The error is one of ErrInvalidToken, ErrRevoked,
// ErrFeedStale or ErrUnavailable (test with errors.Is). ctx bounds nothing
// but is passed to the key fetch an unknown kid may start.
//
// The first Verify of a token runs every check; later ones of the same
// bytes repeat only the time checks and the revocation look-up.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) == 0 || len(raw) > MaxTokenBytes {
		return nil, errTokenSize
	}
	now := v.now()
	set := v.keys.set(ctx, now)
	token := set.verified.get(raw)
	if token == nil {
		var err error
		if token, set, err = v.parse(ctx, raw, set); err != nil {
			return nil, err
		}
		set.verified.put(raw, token)
	} else if err := token.checkTime(now); err != nil {
		return nil, err
	}
	if v.feed != nil {
		if err := v.feed.check(token, now); err != nil {
			return nil, err
		}
	}
	return token.claims, nil
}

// parse runs the full verification with golang-jwt. It returns the key set
// the signature was checked with (a newer one if the kid was unknown), so
// the token is cached with the keys that vouch for it.
func (v *Verifier) parse(ctx context.Context, raw string, set *keySet) (*verifiedToken, *keySet, error) {
	if !compactJWS(raw) {
		return nil, set, errTokenCharacters
	}
	var unavailable error
	keyFor := func(t *jwt.Token) (any, error) {
		key, used, err := v.keyFor(ctx, t, set)
		set = used
		if errors.Is(err, ErrUnavailable) {
			unavailable = err
		}
		return key, err
	}
	claims := &Claims{}
	if _, err := v.parser.ParseWithClaims(raw, claims, keyFor); err != nil {
		if unavailable != nil {
			return nil, set, unavailable
		}
		return nil, set, invalid(err)
	}
	// sub, jti and sid are what the revocation feed names, iat what a
	// user cut-off compares: a token without them could never be revoked,
	// and keycard always issues them.
	switch {
	case claims.Subject == "":
		return nil, set, invalid(errors.New("token has no sub"))
	case claims.ID == "":
		return nil, set, invalid(errors.New("token has no jti"))
	case claims.SessionID == "":
		return nil, set, invalid(errors.New("token has no sid"))
	case claims.IssuedAt == nil:
		return nil, set, invalid(errors.New("token has no iat"))
	}
	return newVerifiedToken(claims, v.leeway), set, nil
}

// keyFor picks the key from the header. It reads typ, crit and kid only:
// jku, x5u and jwk would let the token choose its own key, so they are
// ignored (RFC 8725 §3.10).
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token, set *keySet) (any, *keySet, error) {
	typ, _ := t.Header["typ"].(string)
	// RFC 7515 §4.1.9: typ is case-insensitive and may drop
	// "application/".
	if !strings.EqualFold(typ, AccessTokenType) && !strings.EqualFold(typ, "application/"+AccessTokenType) {
		return nil, set, errType
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, set, errCrit
	}
	alg := t.Method.Alg()
	if alg == HS256 {
		// Reached only when HS256 is pinned, which requires the secret.
		if len(v.secret) == 0 {
			return nil, set, errNoSecret
		}
		return v.secret, set, nil
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, set, errNoKeyID
	}
	return v.keys.lookup(ctx, set, kid, alg)
}

// compactJWS admits only the characters of a compact JWS: base64url and
// dots. Go's base64 decoder skips CR and LF even in strict mode, which
// would give one token many spellings.
func compactJWS(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// FeedStatus is the revocation follower's progress, for readiness probes
// and tests.
type FeedStatus struct {
	// Following is false without Options.Credential; the rest is then
	// zero.
	Following bool
	// Cursor is the feed position applied so far.
	Cursor string
	// LastSuccess is when (Options.Now) the feed last answered in full;
	// zero once the follower has stopped.
	LastSuccess time.Time
	// Stale is true while Verify refuses tokens with ErrFeedStale.
	Stale bool
	// Revocations counts the entries held (not yet past their exp).
	Revocations int
	// Err is the last poll's failure, nil after a success.
	Err error
}

// FeedStatus reports the revocation follower's progress.
func (v *Verifier) FeedStatus() FeedStatus {
	if v.feed == nil {
		return FeedStatus{}
	}
	return v.feed.status(v.now())
}

// Close stops following the feed and waits until the follower has
// stopped; from then on Verify refuses every token with ErrFeedStale. It
// is a no-op without a Credential and safe to call more than once.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		if v.stop != nil {
			v.stop()
		}
		<-v.done
	})
	return nil
}
