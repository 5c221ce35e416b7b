package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// QueryLimits bound the shape of what one request may ask for (depth,
// complexity, aliases, document size, batch size); each is checked after the
// document is parsed and validated and before any resolver runs. They cap
// the work of one request; how many requests a caller may send is the rate
// limits' business, in package auth.
type QueryLimits struct {
	MaxDepth         int
	MaxComplexity    int
	MaxAliases       int
	MaxDocumentBytes int
	MaxBatch         int
}

// queryLimitsExtension enforces QueryLimits and the introspection switch.
type queryLimitsExtension struct {
	limits        QueryLimits
	introspection bool
	schema        graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension        = (*queryLimitsExtension)(nil)
	_ graphql.OperationContextMutator = (*queryLimitsExtension)(nil)
)

func (*queryLimitsExtension) ExtensionName() string { return "KeycardQueryLimits" }

func (l *queryLimitsExtension) Validate(schema graphql.ExecutableSchema) error {
	l.schema = schema
	return nil
}

func (l *queryLimitsExtension) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	if l.introspection {
		// The executor answers __schema and __type only when allowed.
		opCtx.DisableIntrospection = false
	}
	walk := selectionWalk{fragments: opCtx.Doc.Fragments}
	walk.selectionSet(op.SelectionSet, 1, map[string]bool{})
	switch {
	case walk.introspects && !l.introspection:
		return limitError("introspection is disabled on this server")
	case walk.depth > l.limits.MaxDepth:
		return limitError(fmt.Sprintf("query is nested %d levels deep; the limit is %d", walk.depth, l.limits.MaxDepth))
	case walk.aliases > l.limits.MaxAliases:
		return limitError(fmt.Sprintf("query has %d aliased fields; the limit is %d", walk.aliases, l.limits.MaxAliases))
	}
	if c := complexity.Calculate(ctx, l.schema, op, opCtx.Variables); c > l.limits.MaxComplexity {
		return limitError(fmt.Sprintf("query has complexity %d; the limit is %d", c, l.limits.MaxComplexity))
	}
	return nil
}

func limitError(message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
}

// selectionWalk measures an operation: depth (introspection subtrees aside,
// since tools' standard introspection query is deep by nature), aliases,
// and whether it introspects.
type selectionWalk struct {
	fragments   ast.FragmentDefinitionList
	depth       int
	aliases     int
	introspects bool
}

func (w *selectionWalk) selectionSet(set ast.SelectionSet, depth int, inFragment map[string]bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if s.Name == "__schema" || s.Name == "__type" {
				w.introspects = true
				continue
			}
			if strings.HasPrefix(s.Name, "__") {
				continue // __typename
			}
			w.depth = max(w.depth, depth)
			w.selectionSet(s.SelectionSet, depth+1, inFragment)
		case *ast.InlineFragment:
			w.selectionSet(s.SelectionSet, depth, inFragment)
		case *ast.FragmentSpread:
			// Validation already refused fragment cycles; the guard keeps a
			// bug there from becoming a stack overflow here.
			if inFragment[s.Name] {
				continue
			}
			if def := w.fragments.ForName(s.Name); def != nil {
				inFragment[s.Name] = true
				w.selectionSet(def.SelectionSet, depth, inFragment)
				delete(inFragment, s.Name)
			}
		}
	}
}
