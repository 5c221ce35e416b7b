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
// (UNAUTHENTICATED otherwise) and carry the role in its token (FORBIDDEN).
func hasRole(ctx context.Context, _ any, next graphql.Resolver, role string) (any, error) {
	c, err := auth.ForContext(ctx)
	if err != nil {
		return nil, err
	}
	if !c.HasRole(role) {
		return nil, auth.ErrForbidden
	}
	return next(ctx)
}
