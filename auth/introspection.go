package auth

import (
	"context"
	"errors"
)

// Introspect reports on an access token for a resource server (RFC 7662):
// its claims and user if it is valid and not revoked. The user is read
// through the user cache, so its roles are the current ones, which the
// answer reports instead of the token's claim. Any other token gives
// ErrInvalidToken, which the caller reports as inactive.
func (s *Service) Introspect(ctx context.Context, token string) (*Claims, *User, error) {
	claims, err := s.tokens.Verify(token)
	if err != nil {
		return nil, nil, ErrInvalidToken
	}
	if err := s.revocations.Check(claims); err != nil {
		if KindOf(err) == KindUnavailable {
			return nil, nil, err
		}
		return nil, nil, ErrInvalidToken
	}
	user, err := s.user(ctx, s.store, claims.UserID())
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	return claims, user, nil
}
