package auth

import (
	"context"
	"net/http"
)

type identityKey struct{}

// identity is what the middleware learned about the caller: claims, or the
// reason the presented token was refused.
type identity struct {
	claims *Claims
	err    error
}

// Middleware verifies the bearer token of each request and stores the
// outcome in the request context for ForContext. A request without an
// Authorization header passes as anonymous; one with a bad header is not
// anonymous: operations that need a user get the token's error, so a client
// learns its token is bad rather than being silently treated as signed out.
func Middleware(authenticate func(ctx context.Context, header string) (*Claims, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header.Values("Authorization")
			if len(values) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			var id identity
			if len(values) > 1 {
				// Two credentials are ambiguous; proxies may pick either.
				id.err = ErrInvalidToken
			} else {
				id.claims, id.err = authenticate(r.Context(), values[0])
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, &id)))
		})
	}
}

// ForContext returns the verified claims of the request, or the error that
// an operation requiring a signed-in user must answer with.
func ForContext(ctx context.Context) (*Claims, error) {
	id, _ := ctx.Value(identityKey{}).(*identity)
	switch {
	case id == nil:
		return nil, ErrNotAuthenticated
	case id.err != nil:
		return nil, id.err
	default:
		return id.claims, nil
	}
}

type clientKey struct{}

// WithClient returns ctx carrying the caller's address and user agent.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns what WithClient stored, or a zero Client.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
