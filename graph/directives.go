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
