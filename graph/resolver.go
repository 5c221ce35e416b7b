// Package graph is keycard's GraphQL face, an adapter over the auth
// service. It holds:
//
//   - the schema (schema.graphqls), gqlgen's generated executor
//     (generated.go, graph/model) and thin resolvers (schema.resolvers.go,
//     resolver.go) that read input, call one auth.Service method and map
//     the result;
//   - the directives that declare authorization in the schema
//     (directives.go);
//   - GraphQL over HTTP itself (transport.go): POST, batches and GET,
//     status codes, content negotiation, and the request log's operation
//     name and outcome;
//   - what is checked before any resolver runs: the query limits and the
//     introspection switch (query_limits.go), the walk that measures an
//     operation once per fragment (query_shape.go) and, in browser cookie mode,
//     the CSRF check (csrf.go) beside the refresh cookie it guards
//     (cookies.go);
//   - the one place where domain errors become extensions.code
//     (errors.go), and the assembly of all of it (handler.go).
//
// It may import auth (the domain), requestlog (request ids and outcomes
// for logs) and graph/model, besides gqlgen and the standard library; never
// store, models, config or another face. Nothing imports it but app, which
// mounts NewHandler at /graphql behind auth.Middleware and the body limit.
package graph

import (
	"context"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/graph/model"
	"github.com/keycard/keycard/requestlog"
)

//go:generate go run github.com/99designs/gqlgen generate

// Resolver holds what resolvers call.
type Resolver struct {
	Service *auth.Service
	Cookies CookieMode
}

// tokenType is the OAuth 2.0 token type of every access token (RFC 6750).
const tokenType = "Bearer"

// authPayload maps a grant to the response; in cookie mode the refresh
// token goes into the cookie and the body carries null.
func (r *Resolver) authPayload(ctx context.Context, grant *auth.Grant) *model.AuthPayload {
	requestlog.NoteUser(ctx, grant.User.ID, grant.Session.ID)
	payload := &model.AuthPayload{
		AccessToken: grant.AccessToken,
		TokenType:   tokenType,
		ExpiresIn:   int(grant.ExpiresIn.Seconds()),
		User:        grant.User,
	}
	if r.Cookies.Enabled {
		r.Cookies.setRefreshCookie(ctx, grant.RefreshToken)
	} else {
		refresh := grant.RefreshToken
		payload.RefreshToken = &refresh
	}
	return payload
}

// claims returns the caller's verified claims; @authenticated has already
// refused the request when there are none.
func claims(ctx context.Context) (*auth.Claims, error) {
	return auth.ForContext(ctx)
}

func sessionModel(v auth.SessionView) model.Session {
	return model.Session{
		ID:         v.ID,
		CreatedAt:  v.CreatedAt,
		LastUsedAt: v.LastUsedAt,
		ExpiresAt:  v.ExpiresAt,
		UserAgent:  v.UserAgent,
		IP:         v.IP,
		Current:    v.Current,
	}
}
