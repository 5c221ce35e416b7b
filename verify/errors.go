package verify

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// The kinds of error Verify returns. Test for them with errors.Is; the
// error text adds the reason for logs. Middleware answers each kind with
// its own status, shown beside it.
var (
	// ErrInvalidToken: the token is malformed, forged, expired, not yet
	// valid, or minted for another issuer, audience or purpose (401
	// invalid_token). The client needs a new token. Where golang-jwt
	// names the reason, the error wraps it too, so
	// errors.Is(err, jwt.ErrTokenExpired) tells an expired token apart.
	ErrInvalidToken = errors.New("verify: invalid access token")
	// ErrRevoked: the token is genuine, but keycard revoked it: a logout,
	// a password change, a disabled account (401 invalid_token).
	ErrRevoked = errors.New("verify: access token revoked")
	// ErrFeedStale: the revocation feed has not answered for longer than
	// Options.MaxStaleness, so a revocation may have been missed; rather
	// than trust a token keycard may have revoked, Verify refuses it (503,
	// retry later). It clears by itself when the feed answers again.
	ErrFeedStale = errors.New("verify: revocation feed is stale; cannot tell whether the token is revoked")
	// ErrUnavailable: the token names a signing key this verifier does not
	// hold and keycard's key set could not be fetched to look for it (503).
	ErrUnavailable = errors.New("verify: signing keys unavailable")
)

// invalid wraps reason as an ErrInvalidToken.
func invalid(reason error) error { return fmt.Errorf("%w: %w", ErrInvalidToken, reason) }

// Errors of the hot path, made once: a refused token costs no allocation.
var (
	errTokenSize       = invalid(fmt.Errorf("token is empty or longer than %d bytes", MaxTokenBytes))
	errTokenCharacters = invalid(errors.New("token is not a compact JWS (base64url and two dots)"))
	errExpired         = invalid(jwt.ErrTokenExpired)
	errNotYetValid     = invalid(jwt.ErrTokenNotValidYet)
	errIssuedInFuture  = invalid(jwt.ErrTokenUsedBeforeIssued)
	errSessionRevoked  = fmt.Errorf("%w: its session was revoked", ErrRevoked)
	errTokenRevoked    = fmt.Errorf("%w: the token was revoked", ErrRevoked)
	errUserRevoked     = fmt.Errorf("%w: its user's tokens issued before a cut-off were revoked", ErrRevoked)
)

// Reasons a header is refused before its signature is checked; golang-jwt
// wraps them, so they appear in the error text.
var (
	errType       = errors.New("token typ is not at+jwt (RFC 9068)")
	errCrit       = errors.New("token has a crit header; no extension is understood (RFC 7515 §4.1.11)")
	errNoKeyID    = errors.New("token has no kid")
	errUnknownKey = errors.New("token is signed with a key the issuer does not publish")
	errKeyAlg     = errors.New("token alg differs from its key's alg")
	errNoSecret   = errors.New("HS256 token, but no shared secret is configured")
)
