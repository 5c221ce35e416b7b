package graph

import (
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/keycard/keycard/auth"
)

// Options configure the GraphQL endpoint.
type Options struct {
	Introspection bool
	QueryLimits   QueryLimits
	Cookies       CookieMode
	Logger        *slog.Logger
}

// queryCacheSize is how many parsed and validated documents are kept; a
// frontend sends a handful of distinct documents, so hits are the norm.
const queryCacheSize = 1000

// parserTokenLimit caps the tokens of one document: far above any real
// operation, far below what would make parsing expensive.
const parserTokenLimit = 15000

// NewHandler returns the GraphQL endpoint for svc.
func NewHandler(svc *auth.Service, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := handler.New(NewExecutableSchema(Config{
		Resolvers:  &Resolver{Service: svc, Cookies: opts.Cookies},
		Directives: DirectiveRoot{Authenticated: authenticated, HasRole: hasRole(svc)},
	}))
	srv.AddTransport(getTransport{limits: opts.QueryLimits})
	srv.AddTransport(postTransport{limits: opts.QueryLimits})
	srv.AddTransport(unsupportedTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	srv.SetErrorPresenter(errorPresenter(log))
	srv.SetRecoverFunc(recoverFunc)
	// Bounds the parser's work on a hostile document before validation.
	srv.SetParserTokenLimit(parserTokenLimit)
	// First of the extensions: what runs after it sees the document a
	// persisted-query hash stands for, never an empty query.
	srv.Use(newPersistedQueries())
	// Both run in this order after validation and before any resolver: an
	// over-limit document is refused before its CSRF proof is looked at.
	srv.Use(&queryLimitsExtension{limits: opts.QueryLimits, introspection: opts.Introspection})
	srv.Use(&csrfExtension{cookies: opts.Cookies})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(withHTTP(r.Context(), w, r)))
	})
}
