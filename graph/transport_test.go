package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keycard/keycard/auth"
)

// These tests serve the real handler with no service behind it: __typename
// needs no resolver, and `me` under an Authorization header answers with
// whatever the stub authenticate returns, before its resolver would run.

// testQueryLimits are small so that short documents can cross them.
var testQueryLimits = QueryLimits{MaxDepth: 10, MaxIntrospectionDepth: 20, MaxComplexity: 100, MaxAliases: 10, MaxSelections: 40, MaxDocumentBytes: 200, MaxBatch: 3}

// testMaxBodyBytes stands in for the body limit app puts in front of the
// handler.
const testMaxBodyBytes = 1024

const typenameQuery = `{"query":"{ __typename }"}`

// newGraphServer serves NewHandler(nil, opts) the way app mounts it: behind
// auth.Middleware (with authenticate standing in for token verification)
// and a MaxBytesReader.
func newGraphServer(t *testing.T, opts Options, authenticate func(ctx context.Context, header string) (*auth.Claims, error)) *httptest.Server {
	t.Helper()
	if opts.QueryLimits == (QueryLimits{}) {
		opts.QueryLimits = testQueryLimits
	}
	if authenticate == nil {
		authenticate = func(context.Context, string) (*auth.Claims, error) { return nil, auth.ErrInvalidToken }
	}
	gql := NewHandler(nil, opts)
	srv := httptest.NewServer(auth.Middleware(authenticate)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, testMaxBodyBytes)
		gql.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	return srv
}

// request is one HTTP request to /graphql; header holds name, value pairs.
type request struct {
	method      string
	query       url.Values // the URL's query string
	contentType string
	body        string
	header      []string
}

func post(body string) request {
	return request{method: http.MethodPost, contentType: "application/json", body: body}
}

func get(params ...string) request {
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return request{method: http.MethodGet, query: q}
}

func (r request) with(header ...string) request {
	r.header = append(append([]string(nil), r.header...), header...)
	return r
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func send(t *testing.T, srv *httptest.Server, req request) reply {
	t.Helper()
	target := srv.URL + "/graphql"
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	httpReq, err := http.NewRequest(req.method, target, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	if req.contentType != "" {
		httpReq.Header.Set("Content-Type", req.contentType)
	}
	for i := 0; i+1 < len(req.header); i += 2 {
		httpReq.Header.Set(req.header[i], req.header[i+1])
	}
	resp, err := srv.Client().Do(httpReq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResult struct {
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors"`
}

func (r reply) result(t *testing.T) gqlResult {
	t.Helper()
	var res gqlResult
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("status %d: body is not one GraphQL response: %s", r.status, r.body)
	}
	return res
}

func (r reply) results(t *testing.T) []gqlResult {
	t.Helper()
	var res []gqlResult
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("status %d: body is not a batch of GraphQL responses: %s", r.status, r.body)
	}
	return res
}

// wantTypename checks a 200 whose data.__typename is typename.
func (r reply) wantTypename(t *testing.T, typename string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	res := r.result(t)
	if len(res.Errors) != 0 || res.Data["__typename"] != typename {
		t.Fatalf("want data.__typename %q and no errors: %s", typename, r.body)
	}
}

// wantError checks the status and that the one error has code and message.
func (r reply) wantError(t *testing.T, status int, code, message string) gqlResult {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	res := r.result(t)
	res.wantError(t, code, message)
	return res
}

func (res gqlResult) wantError(t *testing.T, code, message string) {
	t.Helper()
	if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != code || res.Errors[0].Message != message {
		t.Fatalf("want one error %s %q, got %+v", code, message, res.Errors)
	}
}

// wantRequestError checks a request that was never executed: the status,
// one BAD_REQUEST error with message, and no "data" key (GraphQL over HTTP).
func (r reply) wantRequestError(t *testing.T, status int, message string) {
	t.Helper()
	r.wantError(t, status, CodeBadRequest, message)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &keys); err != nil {
		t.Fatal(err)
	}
	if _, ok := keys["data"]; ok {
		t.Fatalf("a request that was not executed has a data key: %s", r.body)
	}
}

func TestPostRunsOneOperation(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	for _, tc := range []struct {
		name     string
		req      request
		typename string
	}{
		{"query", post(typenameQuery), "Query"},
		{"mutation without resolver", post(`{"query":"mutation { __typename }"}`), "Mutation"},
		{"named operation", post(`{"query":"query A { a: __typename } query B { __typename }","operationName":"B"}`), "Query"},
		{"content type with charset", request{method: http.MethodPost, contentType: "application/json; charset=utf-8", body: typenameQuery}, "Query"},
		{"whitespace around the object", post(" \r\n\t" + typenameQuery + "\n"), "Query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send(t, srv, tc.req).wantTypename(t, tc.typename)
		})
	}
}

func TestPostPassesVariablesToTheOperation(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const query = `query($skip: Boolean!) { __typename @skip(if: $skip) }`
	send(t, srv, post(`{"query":"`+query+`","variables":{"skip":false}}`)).wantTypename(t, "Query")

	skipped := send(t, srv, post(`{"query":"`+query+`","variables":{"skip":true}}`))
	if res := skipped.result(t); skipped.status != http.StatusOK || len(res.Errors) != 0 || res.Data == nil || len(res.Data) != 0 {
		t.Fatalf("skip: true: want 200 with empty data, got %d %s", skipped.status, skipped.body)
	}
}

func TestPostRefusesBodyThatIsNotOneRequestObject(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const message = "request body must be a JSON object with query, variables and operationName"
	for _, tc := range []struct {
		name string
		body string
	}{
		{"trailing garbage", typenameQuery + ` x`},
		{"two objects", typenameQuery + typenameQuery},
		{"empty body", ``},
		{"not JSON", `query { __typename }`},
		{"a JSON string", `"{ __typename }"`},
		{"a number", `42`},
		{"query not a string", `{"query":42}`},
		{"variables not an object", `{"query":"{ __typename }","variables":[1]}`},
		{"truncated", `{"query":"mutation { login(input: {username: \"alice\", password: \"hunter2\"}) { accessToken } }"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, srv, post(tc.body))
			rep.wantRequestError(t, http.StatusBadRequest, message)
			// gqlgen's stock transport quotes the undecodable body back.
			if strings.Contains(string(rep.body), "hunter2") {
				t.Fatalf("response echoes the request body: %s", rep.body)
			}
		})
	}
}

func TestPostBatchAnswersEachOperationInOrder(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	rep := send(t, srv, post(`  [{"query":"{ __typename }"}, {"query":"mutation { __typename }"}, {"query":"{ t: __typename }"}]`))
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.body)
	}
	res := rep.results(t)
	if len(res) != 3 || res[0].Data["__typename"] != "Query" || res[1].Data["__typename"] != "Mutation" || res[2].Data["t"] != "Query" {
		t.Fatalf("results out of order or missing: %s", rep.body)
	}
}

func TestPostBatchRefusesMalformedOrOversizedBatch(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const malformed = "a batch must be a non-empty JSON array of request objects"
	for _, tc := range []struct {
		name    string
		body    string
		message string
	}{
		{"empty batch", `[]`, malformed},
		{"empty batch with whitespace", ` [ ] `, malformed},
		{"trailing garbage", `[` + typenameQuery + `] x`, malformed},
		{"two arrays", `[` + typenameQuery + `][` + typenameQuery + `]`, malformed},
		{"unterminated", `[` + typenameQuery, malformed},
		{"over the batch limit", `[{},{},{},{}]`, "batch has 4 operations; the limit is 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send(t, srv, post(tc.body)).wantRequestError(t, http.StatusBadRequest, tc.message)
		})
	}

	t.Run("at the batch limit", func(t *testing.T) {
		rep := send(t, srv, post(`[`+typenameQuery+`,`+typenameQuery+`,`+typenameQuery+`]`))
		if rep.status != http.StatusOK || len(rep.results(t)) != 3 {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
	})
}

// One bad item of a batch fails alone; the batch is a 400 only when every
// item failed.
func TestPostBatchItemFailsAlone(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const notObject = "each batch item must be a JSON object with query, variables and operationName"

	t.Run("item not an object", func(t *testing.T) {
		rep := send(t, srv, post(`[`+typenameQuery+`, 42]`))
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		res := rep.results(t)
		if len(res) != 2 || res[0].Data["__typename"] != "Query" || len(res[0].Errors) != 0 {
			t.Fatalf("the good item did not run: %s", rep.body)
		}
		res[1].wantError(t, CodeBadRequest, notObject)
	})

	t.Run("item that fails validation", func(t *testing.T) {
		rep := send(t, srv, post(`[`+typenameQuery+`, {"query":"{ nope }"}]`))
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		res := rep.results(t)
		if len(res) != 2 || res[0].Data["__typename"] != "Query" {
			t.Fatalf("the good item did not run: %s", rep.body)
		}
		res[1].wantError(t, "GRAPHQL_VALIDATION_FAILED", `Cannot query field "nope" on type "Query".`)
	})

	t.Run("every item failed", func(t *testing.T) {
		rep := send(t, srv, post(`[42, "x", {"query":"{ nope }"}]`))
		if rep.status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400: %s", rep.status, rep.body)
		}
		res := rep.results(t)
		if len(res) != 3 {
			t.Fatalf("want three results: %s", rep.body)
		}
		res[0].wantError(t, CodeBadRequest, notObject)
		res[1].wantError(t, CodeBadRequest, notObject)
		res[2].wantError(t, "GRAPHQL_VALIDATION_FAILED", `Cannot query field "nope" on type "Query".`)
	})
}

func TestGetRunsQueryWithVariablesAndExtensions(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const query = `query Q($skip: Boolean!) { __typename @skip(if: $skip) }`
	send(t, srv, get("query", "{ __typename }")).wantTypename(t, "Query")
	send(t, srv, get("query", query, "operationName", "Q", "variables", `{"skip":false}`, "extensions", `{"client":{"name":"test"}}`)).wantTypename(t, "Query")

	skipped := send(t, srv, get("query", query, "variables", `{"skip":true}`))
	if res := skipped.result(t); skipped.status != http.StatusOK || len(res.Errors) != 0 || res.Data == nil || len(res.Data) != 0 {
		t.Fatalf("skip: true: want 200 with empty data, got %d %s", skipped.status, skipped.body)
	}
}

func TestGetRefusesMalformedParameters(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	for _, tc := range []struct {
		name    string
		req     request
		message string
	}{
		{"variables not JSON", get("query", "{ __typename }", "variables", `{`), "variables must be a JSON object"},
		{"variables an array", get("query", "{ __typename }", "variables", `[1]`), "variables must be a JSON object"},
		{"variables a string", get("query", "{ __typename }", "variables", `"x"`), "variables must be a JSON object"},
		{"extensions not JSON", get("query", "{ __typename }", "extensions", `nope`), "extensions must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send(t, srv, tc.req).wantRequestError(t, http.StatusBadRequest, tc.message)
		})
	}

	t.Run("malformed query string", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.URL + "/graphql?query=%zz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		reply{status: resp.StatusCode, header: resp.Header, body: body}.wantRequestError(t, http.StatusBadRequest, "malformed query string")
	})
}

// GraphQL over HTTP: a mutation over GET is refused, so a link or an <img>
// cannot change state.
func TestGetRefusesMutationWith405(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const both = `query Q { __typename } mutation M { __typename }`
	for _, tc := range []struct {
		name string
		req  request
	}{
		{"anonymous mutation", get("query", "mutation { __typename }")},
		{"mutation chosen by operationName", get("query", both, "operationName", "M")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, srv, tc.req)
			rep.wantError(t, http.StatusMethodNotAllowed, CodeBadRequest, "mutations must be sent with POST")
			if got := rep.header.Get("Allow"); got != "POST" {
				t.Fatalf("Allow: %q, want POST", got)
			}
		})
	}
	t.Run("query chosen from the same document", func(t *testing.T) {
		send(t, srv, get("query", both, "operationName", "Q")).wantTypename(t, "Query")
	})
}

func TestPostWithoutJSONContentTypeIs415(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	for _, contentType := range []string{
		"",
		"text/plain",
		"text/plain; charset=utf-8",
		"application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x",
		"application/graphql",
		"application/json-seq",
		"not a media type;;",
	} {
		t.Run(contentType, func(t *testing.T) {
			rep := send(t, srv, request{method: http.MethodPost, contentType: contentType, body: typenameQuery})
			rep.wantRequestError(t, http.StatusUnsupportedMediaType, "POST requests must have Content-Type: application/json")
		})
	}
}

func TestOtherMethodsAre405(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			rep := send(t, srv, request{method: method, contentType: "application/json", body: typenameQuery})
			if rep.status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405: %s", rep.status, rep.body)
			}
			if got := rep.header.Get("Allow"); got != "GET, POST" {
				t.Fatalf("Allow: %q, want GET, POST", got)
			}
			if method == http.MethodHead {
				return // no body to read
			}
			rep.wantRequestError(t, http.StatusMethodNotAllowed, "use GET for queries or POST for queries and mutations")
		})
	}
}

// A body over the MaxBytesReader in front of the handler, or over the
// handler's own cap (twice the document limit: its documents and as much
// again for variables), is answered in the GraphQL error shape, not
// net/http's plain text.
func TestBodyOverLimitIs413InGraphQLErrorShape(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	limit := 2 * testQueryLimits.MaxDocumentBytes
	padded := func(size int) string {
		body := `{"query":"{ __typename }","padding":"`
		return body + strings.Repeat("a", size-len(body)-len(`"}`)) + `"}`
	}
	for _, tc := range []struct {
		name string
		body string
	}{
		{"over both limits", padded(testMaxBodyBytes + 1)},
		{"over the handler's limit", padded(limit + 1)},
		{"batch", `[` + typenameQuery + `,` + padded(limit) + `]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, srv, post(tc.body))
			rep.wantRequestError(t, http.StatusRequestEntityTooLarge, "request body is too large")
			if got := rep.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type: %q", got)
			}
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		send(t, srv, post(padded(limit))).wantTypename(t, "Query")
	})
}

// An operation's variables and extensions (JSON, which costs by the value
// to decode) may hold as many bytes as a document, over POST, in a batch
// and over GET.
func TestVariablesOverTheDocumentLimitAreRefused(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	limit := testQueryLimits.MaxDocumentBytes
	object := func(size int) string {
		return `{"pad":"` + strings.Repeat("a", size-len(`{"pad":""}`)) + `"}`
	}
	message := fmt.Sprintf("variables and extensions are %d bytes; the limit is %d", limit+1, limit)
	overLimit := `{"query":"{ __typename }","variables":` + object(limit-10) + `,"extensions":` + object(11) + `}`
	atLimit := `{"query":"{ __typename }","variables":` + object(limit) + `}`

	t.Run("POST", func(t *testing.T) {
		send(t, srv, post(overLimit)).wantRequestError(t, http.StatusBadRequest, message)
		send(t, srv, post(atLimit)).wantTypename(t, "Query")
	})
	t.Run("batch item", func(t *testing.T) {
		res := send(t, srv, post(`[`+typenameQuery+`,`+overLimit+`]`)).results(t)
		if len(res) != 2 || res[0].Data["__typename"] != "Query" {
			t.Fatalf("the good item did not run: %+v", res)
		}
		res[1].wantError(t, CodeBadRequest, message)
	})
	t.Run("GET", func(t *testing.T) {
		send(t, srv, get("query", "{ __typename }", "variables", object(limit-10), "extensions", object(11))).wantRequestError(t, http.StatusBadRequest, message)
		send(t, srv, get("query", "{ __typename }", "variables", object(limit))).wantTypename(t, "Query")
	})
}

func TestDocumentOverByteLimitIsRefused(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	atLimit := "{ __typename }" + strings.Repeat(" ", testQueryLimits.MaxDocumentBytes-len("{ __typename }"))
	overLimit := atLimit + " "
	const message = "query document is 201 bytes; the limit is 200"

	t.Run("POST", func(t *testing.T) {
		send(t, srv, post(`{"query":"`+overLimit+`"}`)).wantError(t, http.StatusBadRequest, CodeBadRequest, message)
		send(t, srv, post(`{"query":"`+atLimit+`"}`)).wantTypename(t, "Query")
	})
	t.Run("GET", func(t *testing.T) {
		send(t, srv, get("query", overLimit)).wantError(t, http.StatusBadRequest, CodeBadRequest, message)
		send(t, srv, get("query", atLimit)).wantTypename(t, "Query")
	})
	t.Run("batch item", func(t *testing.T) {
		rep := send(t, srv, post(`[`+typenameQuery+`,{"query":"`+overLimit+`"}]`))
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		res := rep.results(t)
		if len(res) != 2 || res[0].Data["__typename"] != "Query" {
			t.Fatalf("the good item did not run: %s", rep.body)
		}
		res[1].wantError(t, CodeBadRequest, message)
	})
}

// A document the executor refuses is a 400 with the executor's code; a
// bad variable is the client's bad input and names the field.
func TestDocumentErrorsAre400(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	for _, tc := range []struct {
		name    string
		req     request
		code    string
		message string
		field   string
	}{
		{"parse error", post(`{"query":"{"}`), "GRAPHQL_PARSE_FAILED", "Expected Name, found <EOF>", ""},
		{"unknown field", post(`{"query":"{ nope }"}`), "GRAPHQL_VALIDATION_FAILED", `Cannot query field "nope" on type "Query".`, ""},
		{"no query", post(`{}`), "GRAPHQL_VALIDATION_FAILED", "no operation provided", ""},
		{"no query over GET", get(), "GRAPHQL_VALIDATION_FAILED", "no operation provided", ""},
		{"unknown operation name", post(`{"query":"query A { __typename }","operationName":"B"}`), "GRAPHQL_VALIDATION_FAILED", "operation B not found", ""},
		{
			"variable of the wrong type",
			post(`{"query":"query($skip: Boolean!) { __typename @skip(if: $skip) }","variables":{"skip":"yes"}}`),
			CodeBadUserInput, "cannot use string as Boolean", "",
		},
		{
			"input field missing",
			post(`{"query":"mutation($in: LoginInput!) { login(input: $in) { accessToken } }","variables":{"in":{"username":"alice"}}}`),
			CodeBadUserInput, "must be defined", "password",
		},
		{
			"unknown enum value in the variables",
			post(`{"query":"mutation($s: LogoutScope) { logout(scope: $s) }","variables":{"s":"EVERYWHERE"}}`),
			CodeBadUserInput, "EVERYWHERE is not a valid LogoutScope", "",
		},
		{
			"literal its argument cannot hold",
			post(`{"query":"mutation { logout(scope: EVERYWHERE) }"}`),
			CodeBadUserInput, `Value "EVERYWHERE" does not exist in "LogoutScope" enum.`, "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, srv, tc.req)
			if rep.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rep.status, rep.body)
			}
			res := rep.result(t)
			if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != tc.code || !strings.Contains(res.Errors[0].Message, tc.message) {
				t.Fatalf("want one %s error containing %q: %s", tc.code, tc.message, rep.body)
			}
			if field, _ := res.Errors[0].Extensions["field"].(string); field != tc.field {
				t.Fatalf("extensions.field %q, want %q: %s", field, tc.field, rep.body)
			}
		})
	}
}

// gqlparser matches enum values in variables without regard to case, so
// "all" for LogoutScope gets past validation and fails when the argument is
// coerced: that is still the client's bad input, naming the argument, and
// never an internal error.
func TestEnumVariableInTheWrongCaseIsBadUserInput(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	rep := send(t, srv, post(`{"query":"mutation($s: LogoutScope) { logout(scope: $s) }","variables":{"s":"all"}}`))
	res := rep.wantError(t, http.StatusOK, CodeBadUserInput, "all is not a valid LogoutScope")
	if field := res.Errors[0].Extensions["field"]; field != "scope" {
		t.Fatalf("extensions.field %v, want scope: %s", field, rep.body)
	}
}

// A dependency outage (here: token verification cannot reach the
// revocation store) answers 503 so load balancers and clients retry; any
// other error in an executed operation is a 200.
func TestUnavailableIs503(t *testing.T) {
	unavailable := newGraphServer(t, Options{}, func(context.Context, string) (*auth.Claims, error) { return nil, auth.ErrUnavailable })
	const message = "service temporarily unavailable, retry later"
	bearer := []string{"Authorization", "Bearer token"}

	t.Run("POST", func(t *testing.T) {
		res := send(t, unavailable, post(`{"query":"{ me { id } }"}`).with(bearer...)).wantError(t, http.StatusServiceUnavailable, CodeUnavailable, message)
		if res.Data != nil {
			t.Fatalf("data %v, want null", res.Data)
		}
	})
	t.Run("GET", func(t *testing.T) {
		send(t, unavailable, get("query", "{ me { id } }").with(bearer...)).wantError(t, http.StatusServiceUnavailable, CodeUnavailable, message)
	})
	t.Run("batch", func(t *testing.T) {
		rep := send(t, unavailable, post(`[`+typenameQuery+`,{"query":"{ me { id } }"}]`).with(bearer...))
		if rep.status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", rep.status, rep.body)
		}
		res := rep.results(t)
		if len(res) != 2 || res[0].Data["__typename"] != "Query" {
			t.Fatalf("the good item did not run: %s", rep.body)
		}
		res[1].wantError(t, CodeUnavailable, message)
	})
	t.Run("other errors are 200", func(t *testing.T) {
		invalid := newGraphServer(t, Options{}, nil)
		send(t, invalid, post(`{"query":"{ me { id } }"}`).with(bearer...)).wantError(t, http.StatusOK, CodeUnauthenticated, "invalid or expired access token")
		send(t, invalid, post(`{"query":"{ me { id } }"}`)).wantError(t, http.StatusOK, CodeUnauthenticated, "authentication required")
	})
}

// The response is application/graphql-response+json when the client lists
// it before application/json (or any wildcard), else application/json.
func TestResponseMediaTypeFollowsAccept(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	const (
		graphqlResponse = "application/graphql-response+json; charset=utf-8"
		plainJSON       = "application/json; charset=utf-8"
	)
	for _, tc := range []struct {
		accept string
		want   string
	}{
		{"", plainJSON},
		{"application/graphql-response+json", graphqlResponse},
		{"application/graphql-response+json; charset=utf-8", graphqlResponse},
		{"application/graphql-response+json;q=0.9, application/json", graphqlResponse},
		{"text/html, application/graphql-response+json", graphqlResponse},
		{"application/json, application/graphql-response+json", plainJSON},
		{"*/*, application/graphql-response+json", plainJSON},
		{"application/*", plainJSON},
		{"*/*", plainJSON},
		{"text/html", plainJSON},
		{"garbage;;;", plainJSON},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			for _, req := range []request{
				post(typenameQuery),
				get("query", "{ __typename }"),
				post(`{"query":"{ nope }"}`),
				{method: http.MethodPost, contentType: "text/plain", body: typenameQuery},
				{method: http.MethodPut},
			} {
				rep := send(t, srv, req.with("Accept", tc.accept))
				if got := rep.header.Get("Content-Type"); got != tc.want {
					t.Errorf("%s (status %d): Content-Type %q, want %q", req.method, rep.status, got, tc.want)
				}
			}
		})
	}
}

// Responses carry tokens; whatever the outcome, no cache may keep one.
func TestEveryResponseIsNoStore(t *testing.T) {
	unavailable := newGraphServer(t, Options{}, func(context.Context, string) (*auth.Claims, error) { return nil, auth.ErrUnavailable })
	for _, tc := range []struct {
		name   string
		req    request
		status int
	}{
		{"query", post(typenameQuery), http.StatusOK},
		{"GET query", get("query", "{ __typename }"), http.StatusOK},
		{"batch", post(`[` + typenameQuery + `]`), http.StatusOK},
		{"error in execution", post(`{"query":"{ me { id } }"}`), http.StatusOK},
		{"bad body", post(`{`), http.StatusBadRequest},
		{"invalid document", post(`{"query":"{ nope }"}`), http.StatusBadRequest},
		{"mutation over GET", get("query", "mutation { __typename }"), http.StatusMethodNotAllowed},
		{"other method", request{method: http.MethodDelete}, http.StatusMethodNotAllowed},
		{"wrong content type", request{method: http.MethodPost, contentType: "text/plain", body: typenameQuery}, http.StatusUnsupportedMediaType},
		{"body too large", post(`{"query":"` + strings.Repeat(" ", testMaxBodyBytes) + `"}`), http.StatusRequestEntityTooLarge},
		{"unavailable", post(`{"query":"{ me { id } }"}`).with("Authorization", "Bearer token"), http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, unavailable, tc.req)
			if rep.status != tc.status {
				t.Fatalf("status %d, want %d: %s", rep.status, tc.status, rep.body)
			}
			if got := rep.header.Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control: %q, want no-store", got)
			}
		})
	}
}
