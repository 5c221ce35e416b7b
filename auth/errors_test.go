package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestWrappedSentinelStillMatches(t *testing.T) {
	cause := errors.New("signature is invalid")
	tests := []struct {
		name     string
		err      error
		sentinel *Error
		cause    error
	}{
		{"wrapped invalid token", ErrInvalidToken.wrap(cause), ErrInvalidToken, cause},
		{"Unavailable", Unavailable(context.DeadlineExceeded), ErrUnavailable, context.DeadlineExceeded},
		{"Internal", Internal(cause), ErrInternal, cause},
		{"wrapped again by fmt", fmt.Errorf("login: %w", ErrInvalidToken.wrap(cause)), ErrInvalidToken, cause},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.sentinel)
			}
			if !errors.Is(tt.err, tt.cause) {
				t.Errorf("errors.Is(%v, cause) = false; the cause must stay reachable for logs", tt.err)
			}
		})
	}
}

func TestDistinctSentinelsDoNotMatch(t *testing.T) {
	pairs := [][2]*Error{
		{ErrInvalidToken, ErrTokenRevoked},
		{ErrInvalidToken, ErrInvalidRefresh},
		{ErrUsernameTaken, ErrEmailTaken},
		{Invalid("username", "bad"), Invalid("password", "bad")},
	}
	for _, p := range pairs {
		if errors.Is(p[0], p[1]) {
			t.Errorf("errors.Is(%q, %q) = true, want false", p[0], p[1])
		}
	}
}

func TestWrapKeepsCauseOutOfMessage(t *testing.T) {
	err := Internal(errors.New("dial tcp 10.0.0.5:3306: connection refused"))
	if err.Message != ErrInternal.Message {
		t.Errorf("Message = %q, want the generic %q", err.Message, ErrInternal.Message)
	}
	if ErrInternal.cause != nil {
		t.Error("wrap modified the shared sentinel")
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, KindInternal},
		{"plain error", errors.New("boom"), KindInternal},
		{"invalid token", ErrInvalidToken, KindUnauthenticated},
		{"forbidden", ErrForbidden, KindForbidden},
		{"invalid input", Invalid("email", "bad email"), KindInvalidInput},
		{"conflict", ErrUsernameTaken, KindConflict},
		{"rate limited", RateLimited(time.Minute), KindRateLimited},
		{"unavailable behind fmt", fmt.Errorf("sync: %w", Unavailable(errors.New("down"))), KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	err := RateLimited(90 * time.Second)
	if err.RetryAfter != 90*time.Second || err.Kind != KindRateLimited {
		t.Errorf("RateLimited(90s) = %+v", err)
	}
}
