package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/keycard/keycard/graph/model"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/keycard/keycard/auth"
)

// newLimitsServer serves NewHandler(nil, opts), the default limits unless
// opts has others, behind the body cap app puts in front of it, so that
// documents of 32 KB get through to the limits.
func newLimitsServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	if opts.QueryLimits == (QueryLimits{}) {
		opts.QueryLimits = defaultQueryLimits
	}
	gql := NewHandler(nil, opts)
	unauthenticated := func(context.Context, string) (*auth.Claims, error) { return nil, auth.ErrInvalidToken }
	srv := httptest.NewServer(auth.Middleware(unauthenticated)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		gql.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	return srv
}

// smallLimits let short documents cross the selection limit.
var smallLimits = QueryLimits{MaxDepth: 10, MaxIntrospectionDepth: 20, MaxComplexity: 100, MaxAliases: 10, MaxSelections: 40, MaxDocumentBytes: 2000, MaxBatch: 3}

// postQuery is a POST of one operation with query as its document.
func postQuery(t *testing.T, query string) request {
	t.Helper()
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	return post(string(body))
}

// postBatch is a POST of a batch with one operation per query.
func postBatch(t *testing.T, queries ...string) request {
	t.Helper()
	items := make([]map[string]string, len(queries))
	for i, q := range queries {
		items[i] = map[string]string{"query": q}
	}
	body, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return post(string(body))
}

// wantBatch checks a 200 batch answer with one result per operation.
func (r reply) wantBatch(t *testing.T, n int) []gqlResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	res := r.results(t)
	if len(res) != n {
		t.Fatalf("%d results, want %d: %s", len(res), n, r.body)
	}
	return res
}

// Each document here costs seconds to minutes of CPU, or its answer is the
// whole schema many times over, unless a limit stops it; each is refused
// with the limit it crosses, the same way over POST, over GET and inside a
// batch.
func TestHostileDocumentsAreRefusedWithTheirLimit(t *testing.T) {
	srv := newLimitsServer(t, Options{Introspection: true})
	const validationFailed = "GRAPHQL_VALIDATION_FAILED"
	for _, tc := range []struct {
		name, query, code, message string
	}{
		{"fragment doubling 24 levels", fragmentDoubling(24), validationFailed, "query has complexity 16777216; the limit is 1000"},
		{"fragment doubling 30 levels", fragmentDoubling(30), validationFailed, "query has complexity 1073741824; the limit is 1000"},
		{"fragment doubling 62 levels", fragmentDoubling(62), validationFailed, "query has complexity 4611686018427387904; the limit is 1000"},
		{"fragment doubling past int", fragmentDoubling(70), validationFailed, "query has complexity 9223372036854775807; the limit is 1000"},
		{"2900 repeated fields in 32 KB", repeatedField(2900, "__typename"), validationFailed, "query has 2900 selections; the limit is 150"},
		{"repeated fields over the selection limit", repeatedField(151, "__typename"), validationFailed, "query has 151 selections; the limit is 150"},
		{"999 nested fields", nestedFields(999), validationFailed, "query has 999 selections; the limit is 150"},
		{"300 nested inline fragments", nestedInlineFragments(300), validationFailed, "query has 301 selections; the limit is 150"},
		{"999 nested inline fragments", nestedInlineFragments(999), "GRAPHQL_PARSE_FAILED", "exceeded token limit of 3000"},
		{"1800 aliases in 32 KB", aliasedFields(1800), "GRAPHQL_PARSE_FAILED", "exceeded token limit of 3000"},
		{"aliases over the limit", aliasedFields(65), validationFailed, "query has 65 aliased fields; the limit is 64"},
		{"introspection ofType chain 140 deep", ofTypeChain(140), validationFailed, "introspection is nested 140 levels deep; the limit is 20"},
		{"introspection just over the depth limit", ofTypeChain(21), validationFailed, "introspection is nested 21 levels deep; the limit is 20"},
		{"introspection under aliases", aliasedIntrospection(t, 2), validationFailed, "introspection may not use aliases"},
		{"introspection under one alias", `{ s: __schema { types { name } } }`, validationFailed, "introspection may not use aliases"},
		{"alias inside introspection", `{ __schema { a: types { name } b: types { name } } }`, validationFailed, "introspection may not use aliases"},
		{"introspection of every field's type", nestedIntrospectionLists(t), validationFailed, "introspection nests lists of fields 2 levels deep; the limit is 1"},
		{"1700 directives in 32 KB", repeatedDirectives(1700), "GRAPHQL_PARSE_FAILED", "exceeded token limit of 3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("POST", func(t *testing.T) {
				send(t, srv, postQuery(t, tc.query)).wantError(t, http.StatusBadRequest, tc.code, tc.message)
			})
			t.Run("GET", func(t *testing.T) {
				send(t, srv, get("query", tc.query)).wantError(t, http.StatusBadRequest, tc.code, tc.message)
			})
			t.Run("batch", func(t *testing.T) {
				res := send(t, srv, postBatch(t, "{ __typename }", tc.query)).wantBatch(t, 2)
				if res[0].Data["__typename"] != "Query" {
					t.Fatalf("the good operation did not run: %+v", res[0])
				}
				res[1].wantError(t, tc.code, tc.message)
			})
		})
	}
}

// The walk that measures an operation looks at each selection of the
// document once, however often its fragments spread one another: its work
// is bounded by the document's size before any count it returns is.
func TestShapeWalkVisitsEachSelectionOnce(t *testing.T) {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}})
	for _, levels := range []int{1, 24, 30, 62, 200} {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			doc := validDocument(t, es, fragmentDoubling(levels))
			s, visited := measure(context.Background(), es, doc.Operations[0], doc.Fragments, nil)
			if written := countSelections(doc); visited > written {
				t.Fatalf("visited %d selections of a document that holds %d", visited, written)
			}
			want := 1 << min(levels, 62)
			if levels > 62 {
				want = 1<<63 - 1 // saturated
			}
			if s.complexity != want {
				t.Fatalf("complexity %d, want %d", s.complexity, want)
			}
		})
	}
}

// Selections are counted before validation: a document over the limit is
// refused as such even when it would fail validation too, since the
// validator's work grows with the square of the selections.
func TestSelectionsAreCountedBeforeValidation(t *testing.T) {
	srv := newLimitsServer(t, Options{QueryLimits: smallLimits})
	limit := smallLimits.MaxSelections
	invalid := func(n int) string {
		return "{ nope" + strings.Repeat(" __typename", n-1) + " }"
	}
	send(t, srv, postQuery(t, invalid(limit+1))).wantError(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", fmt.Sprintf("query has %d selections; the limit is %d", limit+1, limit))
	send(t, srv, postQuery(t, invalid(limit))).wantError(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", `Cannot query field "nope" on type "Query".`)
	send(t, srv, postQuery(t, repeatedField(limit, "__typename"))).wantTypename(t, "Query")

	t.Run("fragments count once each", func(t *testing.T) {
		// 1 + 2×10 spreads and the one field: 22 written, 1024 once spread.
		send(t, srv, postQuery(t, fragmentDoubling(10))).wantError(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "query has complexity 1024; the limit is 100")
	})
}

// The operations of a batch share one request's selections and document
// bytes: the largest batch of the worst documents costs what one of them
// does.
func TestBatchSharesOneRequestsBudget(t *testing.T) {
	srv := newLimitsServer(t, Options{Introspection: true, QueryLimits: smallLimits})
	limit := smallLimits.MaxSelections

	t.Run("selections", func(t *testing.T) {
		res := send(t, srv, postBatch(t, repeatedField(limit-10, "__typename"), repeatedField(11, "__typename"), repeatedField(10, "__typename"))).wantBatch(t, 3)
		if res[0].Data["__typename"] != "Query" || res[2].Data["__typename"] != "Query" {
			t.Fatalf("the operations within the budget did not run: %+v", res)
		}
		res[1].wantError(t, "GRAPHQL_VALIDATION_FAILED", fmt.Sprintf("batch has %d selections in all; the limit is %d", limit+1, limit))
	})
	t.Run("the largest batch of the worst document", func(t *testing.T) {
		worst := repeatedField(limit, "__typename")
		res := send(t, srv, postBatch(t, worst, worst, worst)).wantBatch(t, 3)
		if res[0].Data["__typename"] != "Query" {
			t.Fatalf("the first operation did not run: %+v", res[0])
		}
		for _, r := range res[1:] {
			r.wantError(t, "GRAPHQL_VALIDATION_FAILED", fmt.Sprintf("batch has %d selections in all; the limit is %d", 2*limit, limit))
		}
	})
	t.Run("document bytes", func(t *testing.T) {
		padded := func(n int) string { return "{ __typename }" + strings.Repeat(" ", n-len("{ __typename }")) }
		res := send(t, srv, postBatch(t, padded(1200), padded(801), padded(800))).wantBatch(t, 3)
		if res[0].Data["__typename"] != "Query" || res[2].Data["__typename"] != "Query" {
			t.Fatalf("the operations within the budget did not run: %+v", res)
		}
		res[1].wantError(t, CodeBadRequest, "batch documents are 2001 bytes in all; the limit is 2000")
	})
	t.Run("introspection once", func(t *testing.T) {
		const introspect = `{ __schema { queryType { name } } }`
		res := send(t, srv, postBatch(t, introspect, introspect, "{ __typename }")).wantBatch(t, 3)
		if len(res[0].Errors) != 0 || res[2].Data["__typename"] != "Query" {
			t.Fatalf("the first introspection and the plain query did not run: %+v", res)
		}
		res[1].wantError(t, "GRAPHQL_VALIDATION_FAILED", "only one operation of a batch may introspect")
	})
	t.Run("a document over the limit on its own leaves the budget to the rest", func(t *testing.T) {
		res := send(t, srv, postBatch(t, repeatedField(limit+1, "__typename"), repeatedField(limit, "__typename"))).wantBatch(t, 2)
		res[0].wantError(t, "GRAPHQL_VALIDATION_FAILED", fmt.Sprintf("query has %d selections; the limit is %d", limit+1, limit))
		if res[1].Data["__typename"] != "Query" {
			t.Fatalf("the operation within the budget did not run: %+v", res[1])
		}
	})
}

// A document can hold an error per directive, each a line of the answer
// to build and send; the answer lists the first hundred.
func TestRefusedDocumentListsAtMostAHundredErrors(t *testing.T) {
	srv := newLimitsServer(t, Options{})
	rep := send(t, srv, postQuery(t, repeatedDirectives(150)))
	res := rep.result(t)
	if rep.status != http.StatusBadRequest || len(res.Errors) != 101 {
		t.Fatalf("status %d, %d errors, want 400 and 101", rep.status, len(res.Errors))
	}
	for _, e := range res.Errors[:100] {
		if e.Message != `The directive "@include" can only be used once at this location.` {
			t.Fatalf("error %+v", e)
		}
	}
	if last := res.Errors[100]; last.Message != "too many errors: only the first 100 are listed" || last.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("last error %+v", last)
	}
}

// The introspection queries GraphiQL and graphql-codegen send (the texts
// they send, in testdata/introspection) fit the default limits, with room
// to spare; ordinary queries' depth limit does not apply to them.
func TestStandardIntrospectionQueriesFitTheLimits(t *testing.T) {
	srv := newLimitsServer(t, Options{Introspection: true})
	for _, tool := range []string{"graphiql", "graphql-codegen", "graphql-codegen-all-options"} {
		t.Run(tool, func(t *testing.T) {
			query := introspectionQuery(t, tool)
			body, err := json.Marshal(map[string]string{"query": query, "operationName": "IntrospectionQuery"})
			if err != nil {
				t.Fatal(err)
			}
			rep := send(t, srv, post(string(body)))
			res := rep.result(t)
			if rep.status != http.StatusOK || len(res.Errors) != 0 {
				t.Fatalf("status %d: %.500s", rep.status, rep.body)
			}
			types, _ := res.Data["__schema"].(map[string]any)["types"].([]any)
			if len(types) < 10 {
				t.Fatalf("no types in the answer: %.500s", rep.body)
			}

			doc := validDocument(t, NewExecutableSchema(Config{Resolvers: &Resolver{}}), query)
			s, _ := measure(context.Background(), NewExecutableSchema(Config{Resolvers: &Resolver{}}), doc.Operations[0], doc.Fragments, nil)
			if s.introspectionDepth > defaultQueryLimits.MaxIntrospectionDepth-5 || countSelections(doc) > defaultQueryLimits.MaxSelections-50 {
				t.Fatalf("introspection depth %d and %d selections leave little room under the limits", s.introspectionDepth, countSelections(doc))
			}
		})
	}
	t.Run("at the depth limit", func(t *testing.T) {
		rep := send(t, srv, postQuery(t, ofTypeChain(defaultQueryLimits.MaxIntrospectionDepth)))
		if res := rep.result(t); rep.status != http.StatusOK || len(res.Errors) != 0 {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
	})
}

// When introspection is off the schema is not for strangers to read, so
// validation errors do not suggest the names they were near: fields,
// arguments, types, enum values. With introspection on the schema is
// public and the suggestions help.
func TestValidationSuggestsNamesOnlyWhenIntrospectionIsOn(t *testing.T) {
	private := newLimitsServer(t, Options{Introspection: false})
	public := newLimitsServer(t, Options{Introspection: true})
	for _, tc := range []struct {
		name, query, error, suggestion string
	}{
		{"unknown field", `{ mee { id } }`, `Cannot query field "mee" on type "Query".`, `Did you mean "me"?`},
		{"scalar leaf", `{ me }`, `Field "me" of type "User!" must have a selection of subfields.`, `Did you mean "me { ... }"?`},
		{"unknown argument", `{ authEvents(frist: 1) { nodes { id } } }`, `Unknown argument "frist" on field "Query.authEvents".`, `Did you mean "first"?`},
		{"unknown type", `{ ...F } fragment F on Usr { id }`, `Unknown type "Usr".`, `Did you mean "User"?`},
		{"unknown enum value", `mutation { logout(scope: AL) }`, `Value "AL" does not exist in "LogoutScope" enum.`, `Did you mean the enum value "ALL"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, side := range []struct {
				srv     *httptest.Server
				suggest bool
			}{{private, false}, {public, true}} {
				rep := send(t, side.srv, postQuery(t, tc.query))
				res := rep.result(t)
				if rep.status != http.StatusBadRequest || len(res.Errors) == 0 {
					t.Fatalf("status %d: %s", rep.status, rep.body)
				}
				var found *gqlError
				for i, e := range res.Errors {
					if strings.HasPrefix(e.Message, tc.error) {
						found = &res.Errors[i]
					}
					if !side.suggest && strings.Contains(e.Message, "Did you mean") {
						t.Fatalf("introspection off, yet a suggestion: %s", rep.body)
					}
				}
				// A literal its argument cannot hold is bad input, as a
				// variable that does not coerce is; the rest are document
				// errors.
				wantCode := "GRAPHQL_VALIDATION_FAILED"
				if tc.name == "unknown enum value" {
					wantCode = "BAD_USER_INPUT"
				}
				if found == nil || found.Extensions["code"] != wantCode {
					t.Fatalf("no error %q: %s", tc.error, rep.body)
				}
				if side.suggest && !strings.Contains(found.Message, tc.suggestion) {
					t.Fatalf("introspection on, want the suggestion %q: %s", tc.suggestion, rep.body)
				}
			}
		})
	}
}

// Complexity is gqlgen's, computed without expanding each spread: the
// same numbers as complexity.Calculate, the schema's complexity functions
// and their arguments included.
func TestComplexityIsGqlgensComputedOnce(t *testing.T) {
	cfg := Config{Resolvers: &Resolver{}}
	cfg.Complexity.Query.AuthEvents = func(children int, first *int, _, _ *string, _ *model.AuthEventKind) int {
		return 1 + *first*children
	}
	es := NewExecutableSchema(cfg)
	vars := map[string]any{"first": 7}
	for _, query := range []string{
		`{ __typename }`,
		`{ me { id username email roles createdAt } }`,
		`{ a: me { ...U } b: me { ...U id } } fragment U on User { id ... on User { username } }`,
		`{ authEvents { nodes { id kind } pageInfo { hasNextPage } } }`,
		`query($first: Int) { authEvents(first: $first) { edges { node { id } cursor } } }`,
		`{ __type(name: "User") { name fields { name type { name ofType { name } } } } }`,
		`{ __schema { types { name } } me { id } }`,
		fragmentDoubling(8),
		introspectionQuery(t, "graphiql"),
	} {
		t.Run(query[:min(len(query), 60)], func(t *testing.T) {
			doc := validDocument(t, es, query)
			op := doc.Operations[0]
			s, _ := measure(context.Background(), es, op, doc.Fragments, vars)
			if want := complexity.Calculate(context.Background(), es, op, vars); s.complexity != want {
				t.Fatalf("complexity %d, gqlgen's %d", s.complexity, want)
			}
		})
	}
}

// The selection count and a batch's budget see the query text the
// executor runs: with persisted queries (registered before the limits, as
// they must be), a request that names a stored document by its hash alone
// costs what the document does.
func TestPersistedQueriesAreCountedAsTheirText(t *testing.T) {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	srv.AddTransport(postTransport{limits: smallLimits})
	queryCache := lru.New[*ast.QueryDocument](10)
	srv.SetQueryCache(queryCache)
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](10)})
	srv.Use(&queryLimitsExtension{limits: smallLimits, queryCache: queryCache, tokenLimit: 1000})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	persisted := func(query string) map[string]any {
		hash := sha256.Sum256([]byte(query))
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(hash[:])}}
	}
	encode := func(v any) string {
		body, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(body)
	}

	t.Run("selections", func(t *testing.T) {
		query := repeatedField(smallLimits.MaxSelections+1, "__typename")
		message := fmt.Sprintf("query has %d selections; the limit is %d", smallLimits.MaxSelections+1, smallLimits.MaxSelections)
		for _, params := range []map[string]any{
			{"query": query, "extensions": persisted(query)}, // stores it
			{"extensions": persisted(query)},                 // runs what was stored
		} {
			send(t, ts, post(encode(params))).wantError(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", message)
		}
	})
	t.Run("a batch's bytes", func(t *testing.T) {
		query := repeatedField(10, "__typename") + strings.Repeat(" ", smallLimits.MaxDocumentBytes*2/3)
		send(t, ts, post(encode(map[string]any{"query": query, "extensions": persisted(query)}))).wantTypename(t, "Query")
		byHash := map[string]any{"extensions": persisted(query)}
		res := send(t, ts, post(encode([]any{byHash, byHash}))).wantBatch(t, 2)
		if res[0].Data["__typename"] != "Query" {
			t.Fatalf("the first operation did not run: %+v", res[0])
		}
		res[1].wantError(t, CodeBadRequest, fmt.Sprintf("batch documents are %d bytes in all; the limit is %d", 2*len(query), smallLimits.MaxDocumentBytes))
	})
}

// validDocument parses and validates query against the schema of es.
func validDocument(t *testing.T, es graphql.ExecutableSchema, query string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	if errs := validator.Validate(es.Schema(), doc); len(errs) != 0 {
		t.Fatal(errs)
	}
	return doc
}
