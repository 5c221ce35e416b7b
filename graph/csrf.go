package graph

import (
	"context"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// csrfExtension refuses, in cookie mode, a mutation that carries the
// refresh cookie but not the proof that a page of an allowed origin sent
// it. It runs after the document is validated and before any resolver, so
// a forged logout or refresh never reaches the service.
type csrfExtension struct {
	cookies CookieMode
}

var (
	_ graphql.HandlerExtension        = (*csrfExtension)(nil)
	_ graphql.OperationContextMutator = (*csrfExtension)(nil)
)

func (*csrfExtension) ExtensionName() string { return "KeycardCSRF" }

func (*csrfExtension) Validate(graphql.ExecutableSchema) error { return nil }

func (c *csrfExtension) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	// Queries change nothing, so a forged one gains the attacker nothing:
	// the browser does not let the forging page read the answer.
	if !c.cookies.Enabled || opCtx.Operation == nil || opCtx.Operation.Operation != ast.Mutation {
		return nil
	}
	x := exchangeFrom(ctx)
	if x == nil || c.cookies.refreshCookie(ctx) == "" || c.cookies.csrfSafe(x.r) {
		return nil
	}
	return &gqlerror.Error{
		Message:    "a mutation sent with the refresh cookie needs the X-CSRF-Protection header and an allowed Origin",
		Extensions: map[string]any{"code": CodeForbidden},
	}
}

// csrfSafe reports whether a mutation that comes with the refresh cookie
// may run. The browser attaches the cookie to any request to this site, so
// a cross-site page could make it send one; it cannot, without CORS
// consent, add a non-simple header, and it cannot lie about Origin.
func (m CookieMode) csrfSafe(r *http.Request) bool {
	if r.Header.Get("X-CSRF-Protection") == "" && r.Header.Get("Apollo-Require-Preflight") == "" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser's cross-origin request: those carry Origin
	}
	for _, allowed := range m.AllowedOrigins {
		if origin == allowed {
			return true
		}
	}
	// The API's own origin is always allowed (a page served beside it).
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	return host == r.Host
}
