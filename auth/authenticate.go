package auth

import (
	"context"
	"errors"
	"strings"
)

// Authenticate checks an Authorization header value: size, scheme,
// signature and claims, then revocation, all without database I/O.
func (s *Service) Authenticate(ctx context.Context, header string) (*Claims, error) {
	// Refused before any parsing, so an oversized header costs nothing.
	if len(header) > MaxTokenBytes {
		return nil, ErrInvalidToken
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, ErrInvalidToken
	}
	claims, err := s.tokens.Verify(strings.TrimLeft(token, " "))
	if err != nil {
		return nil, err
	}
	if err := s.revocations.Check(claims); err != nil {
		if errors.Is(err, ErrTokenRevoked) {
			s.revokedTokenUsed(ctx, claims)
		}
		return nil, err
	}
	return claims, nil
}

// revokedTokenUsed audits a revoked token presented again: once per token
// per minute, written in the background so that replaying a revoked token
// costs keycard no database write per request.
func (s *Service) revokedTokenUsed(ctx context.Context, c *Claims) {
	now := s.clock()
	if s.revokedUse.hit(c.ID, now) > 1 {
		return
	}
	client := ClientFrom(ctx)
	s.log.WarnContext(ctx, "revoked access token used", "user_id", c.UserID(), "session_id", c.SessionID, "ip", client.IP)
	s.background.push(newEvent(EventRevokedTokenUsed, c.UserID(), "", c.SessionID, client, now))
}

// Me returns the user the access token was issued to. The returned user is
// shared; callers must not modify it.
func (s *Service) Me(ctx context.Context, c *Claims) (*User, error) {
	user, err := s.user(ctx, s.store, c.UserID())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotAuthenticated
	}
	return user, err
}
