// Package graph is keycard's GraphQL face: the schema, gqlgen's generated
// executor, thin resolvers that translate between GraphQL and the auth
// service, and the one place where domain errors become GraphQL error codes.
// It imports auth and requestid; nothing imports it but the HTTP assembly.
package graph

import (
	"context"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/graph/model"
)

//go:generate go run github.com/99designs/gqlgen generate

// Resolver holds what resolvers call.
type Resolver struct {
	Service *auth.Service
}

// tokenType is the OAuth 2.0 token type of every access token (RFC 6750).
const tokenType = "Bearer"

func authPayload(grant *auth.Grant) *model.AuthPayload {
	refresh := grant.RefreshToken
	return &model.AuthPayload{
		AccessToken:  grant.AccessToken,
		RefreshToken: &refresh,
		TokenType:    tokenType,
		ExpiresIn:    int(grant.ExpiresIn.Seconds()),
		User:         grant.User,
	}
}

// claims returns the caller's verified claims; @authenticated has already
// refused the request when there are none.
func claims(ctx context.Context) (*auth.Claims, error) {
	return auth.ForContext(ctx)
}
