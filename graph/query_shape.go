package graph

import (
	"context"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// shape is what the query limits look at in a selection set, every
// fragment counted as often as it is spread.
type shape struct {
	// depth is the deepest nesting of ordinary fields; __typename and
	// introspection subtrees aside.
	depth int
	// introspectionDepth is the deepest nesting inside __schema and
	// __type, the root field counted.
	introspectionDepth int
	// introspectionLists is the most list-of-types fields (fields,
	// inputFields, interfaces, possibleTypes) nested on one path of an
	// introspection subtree: each one multiplies the answer by the size of
	// the schema.
	introspectionLists int
	// aliasedIntrospection is an alias anywhere in an introspection
	// subtree, root field included.
	aliasedIntrospection bool
	introspects          bool
	aliases              int
	// complexity is gqlgen's: every field 1 plus its children, or what the
	// schema's complexity function says; fields of type __Schema free.
	complexity int
}

// add puts two sibling selections' shapes together.
func (s shape) add(o shape) shape {
	return shape{
		depth:                max(s.depth, o.depth),
		introspectionDepth:   max(s.introspectionDepth, o.introspectionDepth),
		introspectionLists:   max(s.introspectionLists, o.introspectionLists),
		aliasedIntrospection: s.aliasedIntrospection || o.aliasedIntrospection,
		introspects:          s.introspects || o.introspects,
		aliases:              saturatingAdd(s.aliases, o.aliases),
		complexity:           saturatingAdd(s.complexity, o.complexity),
	}
}

// saturatingAdd adds counts that an attacker can make overflow: a fragment
// spread twice in each of 64 nested fragments counts 2^64 times.
func saturatingAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// shapeWalk measures an operation of a validated document. It walks each
// fragment definition once and reuses its shape at every spread, so its
// work is linear in the document's size however often fragments spread
// one another (walking every spread, as gqlgen's complexity.Calculate
// does, is exponential in the nesting of fragments).
type shapeWalk struct {
	ctx       context.Context
	es        graphql.ExecutableSchema
	vars      map[string]any
	fragments ast.FragmentDefinitionList
	// memo holds each fragment's shape, allocated at the first spread.
	memo map[string]shape
	// visited counts the selections looked at: never more than the
	// document holds.
	visited int
}

// measure returns the shape of op, a validated operation of a document
// whose fragments are fragments.
func measure(ctx context.Context, es graphql.ExecutableSchema, op *ast.OperationDefinition, fragments ast.FragmentDefinitionList, vars map[string]any) (shape, int) {
	w := shapeWalk{ctx: ctx, es: es, vars: vars, fragments: fragments}
	s := w.selectionSet(op.SelectionSet, false)
	return s, w.visited
}

// selectionSet measures set; inIntrospection is true below __schema or
// __type, where every field belongs to the introspection types.
func (w *shapeWalk) selectionSet(set ast.SelectionSet, inIntrospection bool) shape {
	var s shape
	for _, sel := range set {
		w.visited++
		switch sel := sel.(type) {
		case *ast.Field:
			s = s.add(w.field(sel, inIntrospection))
		case *ast.InlineFragment:
			s = s.add(w.selectionSet(sel.SelectionSet, inIntrospection))
		case *ast.FragmentSpread:
			s = s.add(w.fragment(sel.Name))
		}
	}
	return s
}

// fragment is the shape of the named fragment, walked at its first spread.
func (w *shapeWalk) fragment(name string) shape {
	if s, ok := w.memo[name]; ok {
		return s
	}
	def := w.fragments.ForName(name)
	if def == nil {
		return shape{}
	}
	if w.memo == nil {
		w.memo = map[string]shape{}
	}
	// Validation refused fragment cycles; were one to get through, the
	// placeholder ends it here instead of in a stack overflow.
	w.memo[name] = shape{}
	// Where a fragment may be spread follows from its type: one on an
	// introspection type only inside __schema or __type.
	s := w.selectionSet(def.SelectionSet, strings.HasPrefix(def.TypeCondition, "__"))
	w.memo[name] = s
	return s
}

func (w *shapeWalk) field(f *ast.Field, inIntrospection bool) shape {
	root := !inIntrospection && (f.Name == "__schema" || f.Name == "__type")
	children := w.selectionSet(f.SelectionSet, inIntrospection || root)
	aliased := f.Alias != "" && f.Alias != f.Name
	s := children
	if aliased {
		s.aliases = saturatingAdd(s.aliases, 1)
	}
	switch {
	case root || inIntrospection:
		s.introspects = true
		s.introspectionDepth = 1 + children.introspectionDepth
		if inIntrospection && multipliesBySchemaSize(f.Name) {
			s.introspectionLists = 1 + children.introspectionLists
		}
		s.aliasedIntrospection = children.aliasedIntrospection || aliased
	case !strings.HasPrefix(f.Name, "__"):
		s.depth = 1 + children.depth
	}
	s.complexity = w.complexity(f, children.complexity)
	return s
}

// multipliesBySchemaSize names the introspection fields that list every
// field, input field, interface or implementation of a type (as
// graphql-js's MaxIntrospectionDepthRule does); __Schema.types, the one
// list above them, appears once per document.
func multipliesBySchemaSize(name string) bool {
	switch name {
	case "fields", "inputFields", "interfaces", "possibleTypes":
		return true
	}
	return false
}

// complexity of field f whose children cost children, as gqlgen's
// complexity.Calculate counts it, so that KEYCARD_GRAPHQL_MAX_COMPLEXITY
// and the schema's complexity functions mean what gqlgen documents.
func (w *shapeWalk) complexity(f *ast.Field, children int) int {
	if f.Definition == nil || f.ObjectDefinition == nil {
		return 1 // not in a validated document; nothing to look up
	}
	schema := w.es.Schema()
	fieldType := schema.Types[f.Definition.Type.Name()]
	if fieldType == nil || fieldType.Name == "__Schema" {
		return 0
	}
	switch fieldType.Kind {
	case ast.Object, ast.Interface, ast.Union:
	default:
		children = 0
	}
	var args map[string]any
	if len(f.Definition.Arguments) > 0 {
		args = f.ArgumentMap(w.vars)
	}
	if f.ObjectDefinition.Kind != ast.Interface {
		return w.fieldComplexity(f.ObjectDefinition.Name, f.Name, children, args)
	}
	// An interface has no costs of its own: the dearest implementation.
	worst := 0
	for _, t := range schema.GetPossibleTypes(f.ObjectDefinition) {
		worst = max(worst, w.fieldComplexity(t.Name, f.Name, children, args))
	}
	return worst
}

func (w *shapeWalk) fieldComplexity(typeName, field string, children int, args map[string]any) int {
	if c, ok := w.es.Complexity(w.ctx, typeName, field, children, args); ok && c >= 1 {
		return c
	}
	return saturatingAdd(1, children)
}

// countSelections counts the selections (fields, fragment spreads, inline
// fragments) written in doc, each fragment definition once: the size that
// validation's work grows with.
func countSelections(doc *ast.QueryDocument) int {
	n := 0
	for _, op := range doc.Operations {
		n += countSelectionSet(op.SelectionSet)
	}
	for _, def := range doc.Fragments {
		n += countSelectionSet(def.SelectionSet)
	}
	return n
}

func countSelectionSet(set ast.SelectionSet) int {
	n := len(set)
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			n += countSelectionSet(sel.SelectionSet)
		case *ast.InlineFragment:
			n += countSelectionSet(sel.SelectionSet)
		}
	}
	return n
}
