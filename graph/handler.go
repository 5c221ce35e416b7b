package graph

import (
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

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

// tokensPerSelection caps the tokens of a document at this many per
// selection it may hold: a field with its arguments, directives and braces
// takes a few, so real documents stay far below it, while one made of
// nothing but arguments or directives stops the parser early (its work,
// like validation's, grows with the tokens).
const tokensPerSelection = 20

// rulesWithoutSuggestions are the standard validation rules with the
// variants that suggest nothing. gqlgen's own switch covers unknown fields
// and scalar leaves; these are argument names, type names and enum values.
func rulesWithoutSuggestions() *rules.Rules {
	r := rules.NewDefaultRules()
	for _, swap := range []struct{ with, without core.Rule }{
		{rules.KnownArgumentNamesRule, rules.KnownArgumentNamesRuleWithoutSuggestions},
		{rules.KnownTypeNamesRule, rules.KnownTypeNamesRuleWithoutSuggestions},
		{rules.ValuesOfCorrectTypeRule, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
	} {
		r.RemoveRule(swap.with.Name)
		r.AddRule(swap.without.Name, swap.without.RuleFunc)
	}
	return r
}

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
	queryCache := lru.New[*ast.QueryDocument](queryCacheSize)
	srv.SetQueryCache(queryCache)
	srv.SetErrorPresenter(errorPresenter(log))
	srv.SetRecoverFunc(recoverFunc)
	tokenLimit := tokensPerSelection * opts.QueryLimits.MaxSelections
	srv.SetParserTokenLimit(tokenLimit)
	if !opts.Introspection {
		// "Did you mean …" would name the schema's fields, arguments,
		// types and enum values to anyone who guesses near them.
		srv.SetDisableSuggestion(true)
		srv.SetValidationRulesFn(rulesWithoutSuggestions)
	}
	// First of the extensions: what runs after it sees the document a
	// persisted-query hash stands for, never an empty query.
	srv.Use(newPersistedQueries())
	// The query limits count a document's selections before validation
	// (after any extension that resolves the query text) and check its
	// shape after validation, before the CSRF check and any resolver: an
	// over-limit document is refused before its CSRF proof is looked at.
	srv.Use(&queryLimitsExtension{limits: opts.QueryLimits, introspection: opts.Introspection, queryCache: queryCache, tokenLimit: tokenLimit})
	srv.Use(&csrfExtension{cookies: opts.Cookies})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(withHTTP(r.Context(), w, r)))
	})
}
