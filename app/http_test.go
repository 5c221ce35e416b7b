package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keycard/keycard/store/storetest"
)

func TestGraphQLLimitsRefuseBeforeAnyResolverRuns(t *testing.T) {
	t.Parallel()
	s := startSQLite(t,
		withEnv("KEYCARD_GRAPHQL_MAX_DEPTH", "3"),
		withEnv("KEYCARD_GRAPHQL_MAX_COMPLEXITY", "12"),
		withEnv("KEYCARD_GRAPHQL_MAX_ALIASES", "8"),
		withEnv("KEYCARD_GRAPHQL_MAX_DOCUMENT_BYTES", "4096"),
		withEnv("KEYCARD_GRAPHQL_MAX_BATCH", "3"),
		withEnv("KEYCARD_GRAPHQL_MAX_SELECTIONS", "40"),
		withEnv("KEYCARD_GRAPHQL_MAX_INTROSPECTION_DEPTH", "4"),
	)
	name := unique("limits")
	s.register(t, name, "open-sesame-42")
	hashes := s.app.Service().Stats().PasswordHashes

	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " t%d: __typename", i)
		}
		return b.String() + " }"
	}
	cases := []struct {
		name, query, want string
	}{
		{"too deep", `{ authEvents { edges { node { id } } } }`, "nested 4 levels deep; the limit is 3"},
		{"too complex", `{ a: me { id username email roles createdAt } b: me { id username email roles createdAt } c: me { id username email roles createdAt } }`, "complexity 18; the limit is 12"},
		{"too many aliases", aliases(9), "9 aliased fields; the limit is 8"},
		{"too many aliased logins", aliasedLogins(9, name, "wrong-guess-1"), "aliased fields"},
		{"too many selections", "{" + strings.Repeat(" __typename", 41) + " }", "41 selections; the limit is 40"},
		{"too deep introspection", `{ __type(name: "User") { ofType { ofType { ofType { name } } } } }`, "introspection is nested 5 levels deep; the limit is 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.gql(t, "", tc.query, nil)
			expectCode(t, resp, "GRAPHQL_VALIDATION_FAILED")
			if resp.Status != http.StatusBadRequest || !strings.Contains(resp.Errors[0].Message, tc.want) {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
		})
	}
	if got := s.app.Service().Stats().PasswordHashes; got != hashes {
		t.Fatal("a refused document still ran login resolvers")
	}
	// Within the limits all is well.
	expectOK(t, s.gql(t, "", aliases(8), nil))
	expectOK(t, s.gql(t, s.login(t, name, "open-sesame-42").AccessToken, `{ me { id username email roles } }`, nil))

	big := `{ __typename ` + strings.Repeat(" ", 5000) + `}`
	resp := s.gql(t, "", big, nil)
	if resp.Status != http.StatusBadRequest || resp.code() != "BAD_REQUEST" || !strings.Contains(resp.Errors[0].Message, "limit is 4096") {
		t.Fatalf("oversized document: %d %s", resp.Status, resp.Body)
	}

	ops := make([]map[string]any, 4)
	for i := range ops {
		ops[i] = map[string]any{"query": `{ __typename }`}
	}
	body, _ := json.Marshal(ops)
	req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp = s.send(t, req)
	if resp.Status != http.StatusBadRequest || !strings.Contains(resp.Body, "batch has 4 operations; the limit is 3") {
		t.Fatalf("oversized batch: %d %s", resp.Status, resp.Body)
	}
	if results := s.batch(t, ops[:3]); len(results) != 3 || string(results[2].Data["__typename"]) != `"Query"` {
		t.Fatalf("batch within the limit: %+v", results)
	}
}

const introspectionQuery = `{ __schema { queryType { name } } }`

func TestIntrospectionIsOffInProductionUnlessEnabled(t *testing.T) {
	t.Parallel()
	dbURL := storetest.SQLiteURL(t)
	dev := startServer(t, dbURL)
	expectOK(t, dev.gql(t, "", introspectionQuery, nil))

	prod := startServer(t, dbURL, withEnv("KEYCARD_ENV", "production"))
	resp := prod.gql(t, "", introspectionQuery, nil)
	expectCode(t, resp, "GRAPHQL_VALIDATION_FAILED")
	if !strings.Contains(resp.Errors[0].Message, "introspection is disabled") {
		t.Fatalf("message: %s", resp.Body)
	}
	expectCode(t, prod.gql(t, "", `{ __type(name: "User") { name } }`, nil), "GRAPHQL_VALIDATION_FAILED")
	expectOK(t, prod.gql(t, "", `{ __typename }`, nil))

	enabled := startServer(t, dbURL, withEnv("KEYCARD_ENV", "production"), withEnv("KEYCARD_INTROSPECTION", "on"))
	expectOK(t, enabled.gql(t, "", introspectionQuery, nil))
}

// Production refuses the documents built to exhaust CPU as development
// does, and its validation errors name nothing of the schema.
func TestHostileDocumentsAreRefusedInProduction(t *testing.T) {
	t.Parallel()
	prod := startSQLite(t, withEnv("KEYCARD_ENV", "production"))
	var doubling strings.Builder
	doubling.WriteString("query { ...F30 } fragment F0 on Query { __typename }")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&doubling, " fragment F%d on Query { ...F%d ...F%d }", i, i-1, i-1)
	}
	for _, tc := range []struct{ name, query, want string }{
		{"fragment doubling", doubling.String(), "query has complexity 1073741824; the limit is 1000"},
		{"repeated fields", "{" + strings.Repeat(" __typename", 2900) + " }", "query has 2900 selections; the limit is 150"},
		{"unknown field", "{ mee { id } }", `Cannot query field "mee" on type "Query".`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := prod.gql(t, "", tc.query, nil)
			expectCode(t, resp, "GRAPHQL_VALIDATION_FAILED")
			if resp.Status != http.StatusBadRequest || resp.Errors[0].Message != tc.want {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
		})
	}
}

func TestCORSAllowsOnlyListedOrigins(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_CORS_ORIGINS", "https://app.example.com, http://localhost:5173"))
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.http.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := s.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	h := ok.Header
	if ok.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("allowed preflight: %d %v", ok.StatusCode, h)
	}
	denied := preflight("https://evil.example.net")
	if denied.StatusCode != http.StatusForbidden || denied.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("denied preflight: %d %v", denied.StatusCode, denied.Header)
	}

	resp := s.do(t, request{Query: `{ __typename }`, header: http.Header{"Origin": {"https://app.example.com"}}})
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Fatalf("allowed origin: %v", resp.Header)
	}
	resp = s.do(t, request{Query: `{ __typename }`, header: http.Header{"Origin": {"https://evil.example.net"}}})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin got CORS headers: %v", resp.Header)
	}
}

// fullIntrospectionQuery is the document GraphiQL and Apollo Sandbox send
// to build their UI (graphql-js getIntrospectionQuery): far deeper and
// wider than an application's operations, and it must pass the default
// query limits.
const fullIntrospectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// docs/api.md tells Apollo Studio Sandbox users to allow its origin and
// nothing else: with that, its preflight (carrying Apollo's client-awareness
// headers) passes and its introspection and operations are readable.
func TestApolloSandboxWorksWithItsOriginAllowed(t *testing.T) {
	t.Parallel()
	const sandbox = "https://studio.apollographql.com"
	s := startSQLite(t, withEnv("KEYCARD_CORS_ORIGINS", sandbox))
	requested := []string{"content-type", "authorization", "apollographql-client-name", "apollographql-client-version"}
	req, _ := http.NewRequest(http.MethodOptions, s.http.URL+"/graphql", nil)
	req.Header.Set("Origin", sandbox)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", strings.Join(requested, ","))
	preflight, err := s.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	preflight.Body.Close()
	allowed := strings.ToLower(preflight.Header.Get("Access-Control-Allow-Headers"))
	if preflight.StatusCode != http.StatusNoContent || preflight.Header.Get("Access-Control-Allow-Origin") != sandbox {
		t.Fatalf("Sandbox preflight: %d %v", preflight.StatusCode, preflight.Header)
	}
	for _, h := range requested {
		if !slices.Contains(strings.Split(strings.ReplaceAll(allowed, " ", ""), ","), h) {
			t.Errorf("preflight does not allow %s: %q", h, allowed)
		}
	}
	resp := s.do(t, request{Query: fullIntrospectionQuery, header: http.Header{"Origin": {sandbox}}})
	expectOK(t, resp)
	if !strings.Contains(resp.Body, `"AuthEventKind"`) {
		t.Fatalf("introspection lacks the schema's types: %.300s", resp.Body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != sandbox || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatalf("Sandbox cannot read the answer: %v", resp.Header)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"development", "production"} {
		t.Run(mode, func(t *testing.T) {
			s := startSQLite(t, withEnv("KEYCARD_ENV", mode))
			resp := s.gql(t, "", `{ __typename }`, nil)
			h := resp.Header
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
				h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
				h.Get("Cache-Control") != "no-store" || h.Get("X-Request-Id") == "" {
				t.Fatalf("%s headers: %v", mode, h)
			}
			if hsts := h.Get("Strict-Transport-Security"); (mode == "production") != strings.Contains(hsts, "max-age=") {
				t.Fatalf("%s HSTS: %q", mode, hsts)
			}
		})
	}
}

func TestRequestIDIsEchoedAndSanitized(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	resp := s.do(t, request{Query: `{ __typename }`, header: http.Header{"X-Request-Id": {"trace-123"}}})
	if resp.Header.Get("X-Request-Id") != "trace-123" {
		t.Fatalf("request id not echoed: %v", resp.Header)
	}
	resp = s.do(t, request{Query: `{ __typename }`, header: http.Header{"X-Request-Id": {strings.Repeat("x", 300)}}})
	if id := resp.Header.Get("X-Request-Id"); len(id) == 0 || len(id) > 128 {
		t.Fatalf("oversized request id kept: %q", id)
	}
}
