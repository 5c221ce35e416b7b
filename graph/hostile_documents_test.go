package graph

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Documents built to cost the server as much CPU as they can, shared by the
// query-limit tests and BenchmarkHostileDocuments.

// defaultQueryLimits are the defaults of KEYCARD_GRAPHQL_MAX_* (package
// config owns them; app's tests check the wiring).
var defaultQueryLimits = QueryLimits{
	MaxDepth:              12,
	MaxIntrospectionDepth: 20,
	MaxComplexity:         1000,
	MaxAliases:            64,
	MaxSelections:         150,
	MaxDocumentBytes:      32768,
	MaxBatch:              10,
}

// fragmentDoubling spreads fragment F(i-1) twice in each F(i), levels
// deep: about 40 bytes a level, and 2^levels __typename fields once every
// spread is expanded.
func fragmentDoubling(levels int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "query { ...F%d } fragment F0 on Query { __typename }", levels)
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i-1, i-1)
	}
	return b.String()
}

// repeatedField selects the same field n times: validation compares every
// pair of fields that share a response name.
func repeatedField(n int, field string) string {
	return "{" + strings.Repeat(" "+field, n) + " }"
}

// nestedInlineFragments nests n inline fragments on Query.
func nestedInlineFragments(n int) string {
	return "{" + strings.Repeat(" ... on Query {", n) + " __typename" + strings.Repeat(" }", n) + " }"
}

// nestedFields nests n fields (unknown ones: the schema has no recursion).
func nestedFields(n int) string {
	return "{" + strings.Repeat(" a {", n-1) + " a" + strings.Repeat(" }", n-1) + " }"
}

// ofTypeChain asks __type for a chain of ofType, depth levels deep in all.
func ofTypeChain(depth int) string {
	n := depth - 2 // __type and name
	return `{ __type(name: "User") {` + strings.Repeat(" ofType {", n) + " name" + strings.Repeat(" }", n) + " } }"
}

// aliasedFields selects __typename under n different names.
func aliasedFields(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: __typename", i)
	}
	return b.String() + " }"
}

// aliasedIntrospection asks the standard introspection query's __schema
// copies times over, under aliases, sharing its fragments.
func aliasedIntrospection(t testing.TB, copies int) string {
	full := introspectionQuery(t, "graphql-codegen-all-options")
	fragments := full[strings.Index(full, "fragment FullType"):]
	schema := full[strings.Index(full, "{__schema")+len("{__schema") : strings.Index(full, "fragment FullType")-1]
	var b strings.Builder
	b.WriteString("{")
	for i := range copies {
		fmt.Fprintf(&b, " s%d: __schema%s", i, schema)
	}
	return b.String() + " } " + fragments
}

// nestedIntrospectionLists is the standard introspection query that also
// asks, for the type of every field, its fields: the schema's size squared.
func nestedIntrospectionLists(t testing.TB) string {
	full := introspectionQuery(t, "graphql-codegen-all-options")
	inner := strings.Replace(full[strings.Index(full, "fragment FullType"):strings.Index(full, "fragment InputValue")], "fragment FullType", "fragment Inner", 1)
	return strings.Replace(full, "type{...TypeRef}isDeprecated", "type{...TypeRef ...Inner ofType{...Inner ofType{...Inner}}}isDeprecated", 1) + " " + inner
}

// repeatedDirectives puts n @include directives on one field.
func repeatedDirectives(n int) string {
	return "{ __typename" + strings.Repeat(" @include(if: true)", n) + " }"
}

// manyVariables declares n variables and uses each in a directive.
func manyVariables(n int) string {
	var defs, uses strings.Builder
	for i := range n {
		fmt.Fprintf(&defs, " $v%d: Boolean = true", i)
		fmt.Fprintf(&uses, " @include(if: $v%d)", i)
	}
	return "query(" + defs.String() + ") { __typename" + uses.String() + " }"
}

// introspectionQuery is a standard introspection query as its tool sends
// it, from testdata/introspection.
func introspectionQuery(t testing.TB, tool string) string {
	t.Helper()
	text, err := os.ReadFile("testdata/introspection/" + tool + ".graphql")
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}
