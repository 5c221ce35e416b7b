package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/keycard/keycard/auth"
)

// authenticated implements @authenticated: the field resolves only for a
// caller with a valid, unrevoked access token.
func authenticated(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	if _, err := auth.ForContext(ctx); err != nil {
		return nil, err
	}
	return next(ctx)
}

// hasRole implements @hasRole(role): the caller must be signed in
// (UNAUTHENTICATED otherwise) and hold the role now (FORBIDDEN). The
// service decides by the user's current roles, not the token's claim, so
// revoking a role takes effect on outstanding tokens within one revocation
// sync.
func hasRole(svc *auth.Service) func(ctx context.Context, obj any, next graphql.Resolver, role string) (any, error) {
	return func(ctx context.Context, _ any, next graphql.Resolver, role string) (any, error) {
		c, err := auth.ForContext(ctx)
		if err != nil {
			return nil, err
		}
		if err := svc.RequireRole(ctx, c, role); err != nil {
			return nil, err
		}
		return next(ctx)
	}
}
