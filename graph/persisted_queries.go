package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// persistedQueryCacheSize is how many documents automatic persisted queries
// remember. A frontend sends a few dozen distinct documents; each entry is
// at most QueryLimits.MaxDocumentBytes (the transports refuse longer ones
// before a document can be stored), so the cache is bounded in bytes too.
const persistedQueryCacheSize = 1000

// persistedQueries is Apollo's automatic persisted queries protocol (APQ),
// as Apollo Client's PersistedQueryLink and urql's persistedExchange speak
// it: a request may carry extensions.persistedQuery.sha256Hash instead of
// the query; an unknown hash is answered PERSISTED_QUERY_NOT_FOUND (HTTP 200,
// message PersistedQueryNotFound, which is what those clients look for) and
// the client sends the query with its hash, which registers it.
//
// gqlgen's extension does the work. It stores a document only under the
// SHA-256 of its own text, so nobody can plant a document under the hash of
// another: a client that asks by hash gets the document that hashes to it.
// What this wrapper adds is the contract's code for the extension's other
// refusals (a hash that does not match, an unknown protocol version, a
// malformed extension), which gqlgen leaves without one.
type persistedQueries struct {
	apq extension.AutomaticPersistedQuery
}

var (
	_ graphql.HandlerExtension          = persistedQueries{}
	_ graphql.OperationParameterMutator = persistedQueries{}
)

func newPersistedQueries() persistedQueries {
	return persistedQueries{apq: extension.AutomaticPersistedQuery{Cache: lru.New[string](persistedQueryCacheSize)}}
}

func (p persistedQueries) ExtensionName() string { return p.apq.ExtensionName() }

func (p persistedQueries) Validate(schema graphql.ExecutableSchema) error {
	return p.apq.Validate(schema)
}

func (p persistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	err := p.apq.MutateOperationParameters(ctx, params)
	if err != nil && err.Extensions["code"] == nil {
		errcode.Set(err, CodeBadRequest)
	}
	return err
}
