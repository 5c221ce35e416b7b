package auth

import (
	"context"
	"errors"
	"slices"
)

// HasRole reports whether the user holds role.
func (u *User) HasRole(role string) bool {
	return slices.Contains(u.Roles, role)
}

// RequireRole is authorization by role: the check behind the schema's
// @hasRole, and the domain's own check in every use case that needs a role,
// so a second face (or a forgotten directive) cannot skip it. It reads the
// user's current roles through the user cache, never the token's roles
// claim: a revoked role, or a deleted user, stops working within one
// revocation sync on every instance, not when the token expires. A warm
// check is a map lookup; only a cold one reads the user row.
func (s *Service) RequireRole(ctx context.Context, c *Claims, role string) error {
	if c == nil {
		return ErrNotAuthenticated
	}
	user, err := s.user(ctx, s.store, c.UserID())
	if errors.Is(err, ErrNotFound) {
		return ErrNotAuthenticated
	}
	if err != nil {
		return err
	}
	if !user.HasRole(role) {
		return ErrForbidden
	}
	return nil
}
