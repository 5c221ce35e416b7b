package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// QueryLimits bound the work of one request, so that what a document costs
// grows with its size and no faster. The size of the document (bytes,
// selections) is checked before it is validated, since validation's work
// grows with the square of the selections; its shape (depth, aliases,
// complexity) after validation and before any resolver runs, by a walk that
// visits each fragment once. The documents of a batch share one request's
// bytes and selections. How many requests a caller may send is the rate
// limits' business, in package auth.
type QueryLimits struct {
	MaxDepth int
	// MaxIntrospectionDepth caps the nesting inside __schema and __type,
	// which the standard introspection queries of GraphiQL and
	// graphql-codegen need deeper than ordinary queries do.
	MaxIntrospectionDepth int
	MaxComplexity         int
	MaxAliases            int
	// MaxSelections caps the fields, fragment spreads and inline fragments
	// written in a request's documents.
	MaxSelections int
	// MaxDocumentBytes caps a request's documents, a batch's together,
	// and again each operation's variables and extensions; a POST body
	// may be twice as long.
	MaxDocumentBytes int
	MaxBatch         int
}

// maxBodyBytes caps a POST body: its documents, and as much again for
// variables and the rest of the JSON.
func (l QueryLimits) maxBodyBytes() int {
	return 2 * l.MaxDocumentBytes
}

// checkVariablesSize refuses an operation whose variables and extensions
// are n bytes of JSON, before they are decoded: that costs by the value,
// and keycard's variables are usernames, passwords and tokens, so they get
// as many bytes as a document.
func (l QueryLimits) checkVariablesSize(n int) error {
	if n > l.MaxDocumentBytes {
		return fmt.Errorf("variables and extensions are %d bytes; the limit is %d", n, l.MaxDocumentBytes)
	}
	return nil
}

// queryLimitsExtension enforces QueryLimits and the introspection switch.
type queryLimitsExtension struct {
	limits        QueryLimits
	introspection bool
	// queryCache is the executor's cache of parsed and validated
	// documents: one found there is counted without parsing it again.
	queryCache graphql.Cache[*ast.QueryDocument]
	// tokenLimit is the executor's parser token limit.
	tokenLimit int
	schema     graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension          = (*queryLimitsExtension)(nil)
	_ graphql.OperationParameterMutator = (*queryLimitsExtension)(nil)
	_ graphql.OperationContextMutator   = (*queryLimitsExtension)(nil)
)

func (*queryLimitsExtension) ExtensionName() string { return "KeycardQueryLimits" }

func (l *queryLimitsExtension) Validate(schema graphql.ExecutableSchema) error {
	l.schema = schema
	return nil
}

// MutateOperationParameters refuses a document with too many selections
// before the executor validates it, and a batch's document once the batch
// has spent its bytes or selections. It sees the query text the executor
// will run, whatever an earlier extension made of the request's: a
// persisted query named by its hash alone costs what its text does.
func (l *queryLimitsExtension) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	budget := budgetFrom(ctx)
	if budget != nil {
		// Parsing costs by the byte: a batch parses no more than one
		// document at the limit would.
		if n := budget.bytes + len(params.Query); n > l.limits.MaxDocumentBytes {
			return &gqlerror.Error{
				Message:    fmt.Sprintf("batch documents are %d bytes in all; the limit is %d", n, l.limits.MaxDocumentBytes),
				Extensions: map[string]any{"code": CodeBadRequest},
			}
		}
		budget.bytes += len(params.Query)
	}
	doc, ok := l.queryCache.Get(ctx, params.Query)
	if !ok {
		// The parser's work is linear in the document and capped by the
		// token limit. A document that does not parse is refused here, in
		// the executor's words, rather than parsed again.
		parsed, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, l.tokenLimit)
		if err != nil {
			var gqlErr *gqlerror.Error
			if !errors.As(err, &gqlErr) {
				gqlErr = gqlerror.Wrap(err)
			}
			errcode.Set(gqlErr, errcode.ParseFailed)
			return gqlErr
		}
		doc = parsed
	}
	n := countSelections(doc)
	if n > l.limits.MaxSelections {
		return limitError(fmt.Sprintf("query has %d selections; the limit is %d", n, l.limits.MaxSelections))
	}
	if budget != nil {
		if budget.selections+n > l.limits.MaxSelections {
			return limitError(fmt.Sprintf("batch has %d selections in all; the limit is %d", budget.selections+n, l.limits.MaxSelections))
		}
		budget.selections += n
	}
	return nil
}

// MutateOperationContext checks the shape of the operation about to run.
func (l *queryLimitsExtension) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	if l.introspection {
		// The executor answers __schema and __type only when allowed.
		opCtx.DisableIntrospection = false
	}
	s, _ := measure(ctx, l.schema, op, opCtx.Doc.Fragments, opCtx.Variables)
	budget := budgetFrom(ctx)
	switch {
	case s.introspects && !l.introspection:
		return limitError("introspection is disabled on this server")
	case s.depth > l.limits.MaxDepth:
		return limitError(fmt.Sprintf("query is nested %d levels deep; the limit is %d", s.depth, l.limits.MaxDepth))
	case s.introspectionDepth > l.limits.MaxIntrospectionDepth:
		return limitError(fmt.Sprintf("introspection is nested %d levels deep; the limit is %d", s.introspectionDepth, l.limits.MaxIntrospectionDepth))
	// Each of these multiplies the introspection answer, the whole schema
	// over again, for a few bytes more of document; the standard
	// introspection queries need neither.
	case s.aliasedIntrospection:
		return limitError("introspection may not use aliases")
	case s.introspectionLists > 1:
		return limitError(fmt.Sprintf("introspection nests lists of fields %d levels deep; the limit is 1", s.introspectionLists))
	case s.introspects && budget != nil && budget.introspected:
		return limitError("only one operation of a batch may introspect")
	case s.aliases > l.limits.MaxAliases:
		return limitError(fmt.Sprintf("query has %d aliased fields; the limit is %d", s.aliases, l.limits.MaxAliases))
	case s.complexity > l.limits.MaxComplexity:
		return limitError(fmt.Sprintf("query has complexity %d; the limit is %d", s.complexity, l.limits.MaxComplexity))
	}
	if s.introspects && budget != nil {
		budget.introspected = true
	}
	return nil
}

func limitError(message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
}

// batchBudget is what the operations of one batch have spent together: a
// batch may cost what one request may, not that times the batch size.
type batchBudget struct {
	bytes, selections int
	introspected      bool
}

type batchBudgetKey struct{}

func withBatchBudget(ctx context.Context, b *batchBudget) context.Context {
	return context.WithValue(ctx, batchBudgetKey{}, b)
}

// budgetFrom is the batch's budget, nil for a request of one operation.
// The operations of a batch run one after another, so it needs no lock.
func budgetFrom(ctx context.Context) *batchBudget {
	b, _ := ctx.Value(batchBudgetKey{}).(*batchBudget)
	return b
}
