package auth

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the small set of error categories the API exposes. Adapters map a
// Kind to their own vocabulary (GraphQL extensions.code, OAuth error names,
// HTTP status) in exactly one place each.
type Kind int

const (
	KindInternal Kind = iota
	KindUnauthenticated
	KindForbidden
	KindInvalidInput
	KindConflict
	KindRateLimited
	KindUnavailable
)

func (k Kind) String() string {
	switch k {
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindInvalidInput:
		return "invalid input"
	case KindConflict:
		return "conflict"
	case KindRateLimited:
		return "rate limited"
	case KindUnavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is the domain error. Message is safe to show to a client; the wrapped
// cause is for logs only and never leaves the process.
type Error struct {
	Kind    Kind
	Message string
	// Field names the offending input field for KindInvalidInput and
	// KindConflict.
	Field string
	// RetryAfter is set for KindRateLimited.
	RetryAfter time.Duration
	cause      error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// Is lets errors.Is match two distinct *Error values that describe the same
// failure, so a sentinel still matches after Wrap added a cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Message == e.Message && t.Field == e.Field
}

// wrap returns a copy of a sentinel carrying an internal cause.
func (e *Error) wrap(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// Sentinels. Messages are deliberately generic where detail would help an
// attacker (which of username or password was wrong, why a token failed).
var (
	ErrInvalidCredentials = &Error{Kind: KindUnauthenticated, Message: "invalid username or password"}
	ErrNotAuthenticated   = &Error{Kind: KindUnauthenticated, Message: "authentication required"}
	ErrInvalidToken       = &Error{Kind: KindUnauthenticated, Message: "invalid or expired access token"}
	ErrTokenRevoked       = &Error{Kind: KindUnauthenticated, Message: "access token has been revoked"}
	ErrInvalidRefresh     = &Error{Kind: KindUnauthenticated, Message: "invalid or expired refresh token"}
	ErrForbidden          = &Error{Kind: KindForbidden, Message: "not allowed"}
	ErrNotFound           = &Error{Kind: KindInvalidInput, Message: "not found"}
	ErrUsernameTaken      = &Error{Kind: KindConflict, Field: "username", Message: "username is already taken"}
	ErrEmailTaken         = &Error{Kind: KindConflict, Field: "email", Message: "email is already in use"}
	ErrUnavailable        = &Error{Kind: KindUnavailable, Message: "service temporarily unavailable, retry later"}
	ErrInternal           = &Error{Kind: KindInternal, Message: "internal server error"}

	// ErrCredentialChanged is a credential that changed after it was
	// checked; the use case that checked it turns it into its own answer.
	ErrCredentialChanged = &Error{Kind: KindUnauthenticated, Message: "credentials changed, sign in again"}

	// Passkeys. A refused credential gets one message whatever the
	// relying party found (the reason goes to the log only), so an
	// attacker learns nothing about which check failed.
	ErrPasskeyRefused    = &Error{Kind: KindInvalidInput, Field: "credential", Message: "the passkey could not be verified"}
	ErrPasskeyRegistered = &Error{Kind: KindInvalidInput, Field: "credential", Message: "this passkey is already registered"}
	ErrPasskeyChallenge  = &Error{Kind: KindInvalidInput, Field: "challengeId", Message: "unknown, used or expired challenge; begin again"}
	ErrTooManyPasskeys   = &Error{Kind: KindInvalidInput, Message: fmt.Sprintf("an account can have at most %d passkeys; remove one first", MaxPasskeysPerUser)}
	ErrPasskeysOff       = &Error{Kind: KindUnavailable, Message: "passkeys are not configured on this server"}
)

// Invalid reports bad input on one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// RateLimited reports that a limit was hit and when to retry.
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Message: "too many attempts, retry later", RetryAfter: retryAfter}
}

// Unavailable marks a dependency failure (database down, revocation state
// stale) so that clients retry instead of treating it as a bug.
func Unavailable(cause error) *Error { return ErrUnavailable.wrap(cause) }

// Internal hides cause from the client while keeping it for the log.
func Internal(cause error) *Error { return ErrInternal.wrap(cause) }

// KindOf classifies any error; unknown errors are internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
