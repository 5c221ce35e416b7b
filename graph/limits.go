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

// Limits bound what one request may ask for; each is checked after the
// document is parsed and validated and before any resolver runs.
type Limits struct {
	MaxDepth         int
	MaxComplexity    int
	MaxAliases       int
	MaxDocumentBytes int
	MaxBatch         int
}

// limitsExtension enforces Limits and the introspection switch.
type limitsExtension struct {
	limits        Limits
	introspection bool
	cookies       CookieMode
	schema        graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension        = (*limitsExtension)(nil)
	_ graphql.OperationContextMutator = (*limitsExtension)(nil)
)

func (*limitsExtension) ExtensionName() string { return "KeycardLimits" }

func (l *limitsExtension) Validate(schema graphql.ExecutableSchema) error {
	l.schema = schema
	return nil
}

func (l *limitsExtension) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
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
	if l.cookies.Enabled && op.Operation == ast.Mutation {
		if x := exchangeFrom(ctx); x != nil && refreshCookie(ctx) != "" && !l.cookies.csrfSafe(x.r) {
			return &gqlerror.Error{
				Message:    "a mutation sent with the refresh cookie needs the X-CSRF-Protection header and an allowed Origin",
				Extensions: map[string]any{"code": CodeForbidden},
			}
		}
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
