package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/keycard/keycard/requestlog"
)

// keycard serves GraphQL over HTTP itself rather than with gqlgen's stock
// transports: those echo an undecodable request body (passwords included)
// back in the error message, and cannot answer 503 for UNAVAILABLE.

const (
	contentTypeJSON            = "application/json"
	contentTypeGraphQLResponse = "application/graphql-response+json"
)

// postTransport is GraphQL over HTTP POST with a JSON body: one request
// object, or an array of them (a batch, as Apollo's BatchHttpLink sends).
type postTransport struct {
	limits QueryLimits
}

func (postTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == contentTypeJSON
}

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(t.limits.maxBodyBytes())))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeRequestError(w, r, http.StatusRequestEntityTooLarge, "request body is too large")
			return
		}
		writeRequestError(w, r, http.StatusBadRequest, "could not read request body")
		return
	}
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) > 0 && body[0] == '[' {
		t.batch(w, r, exec, body, start)
		return
	}
	params, err := decodeRequest(body, t.limits)
	if err != nil {
		message := "request body must be a JSON object with query, variables and operationName"
		if !errors.Is(err, errNotRequestObject) {
			message = err.Error()
		}
		writeRequestError(w, r, http.StatusBadRequest, message)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	status, resp := execute(r, exec, &params, false, t.limits)
	setRetryAfter(w, resp)
	writeJSON(w, r, status, resp)
}

// batch runs each operation of a JSON array in order and answers an array
// of results. The batch size is capped, and the operations share one
// request's document bytes and selections: a batch costs no more to parse
// and validate than one document at the limits. Each operation counts as
// one against rate limits.
func (t postTransport) batch(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, body []byte, start time.Time) {
	var items []json.RawMessage
	if !decodeStrict(body, &items) || len(items) == 0 {
		writeRequestError(w, r, http.StatusBadRequest, "a batch must be a non-empty JSON array of request objects")
		return
	}
	if len(items) > t.limits.MaxBatch {
		writeRequestError(w, r, http.StatusBadRequest, fmt.Sprintf("batch has %d operations; the limit is %d", len(items), t.limits.MaxBatch))
		return
	}
	results := make([]*graphql.Response, len(items))
	status := http.StatusOK
	failed := 0
	r = r.WithContext(withBatchBudget(r.Context(), &batchBudget{}))
	for i, item := range items {
		params, err := decodeRequest(item, t.limits)
		if err != nil {
			message := "each batch item must be a JSON object with query, variables and operationName"
			if !errors.Is(err, errNotRequestObject) {
				message = err.Error()
			}
			results[i] = requestErrorResponse(message)
			failed++
			continue
		}
		params.Headers = r.Header
		params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
		itemStatus, resp := execute(r, exec, &params, false, t.limits)
		results[i] = resp
		switch {
		case itemStatus == http.StatusServiceUnavailable:
			status = itemStatus
		case itemStatus >= 400:
			failed++
		}
	}
	if failed == len(items) {
		status = http.StatusBadRequest
	}
	setRetryAfter(w, results...)
	writeJSON(w, r, status, results)
}

// requestObject is one GraphQL-over-HTTP request object. Its variables and
// extensions stay raw until their size is checked: decoding JSON costs by
// the value (a megabyte of [1,1,…] costs a tenth of a second).
type requestObject struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

var errNotRequestObject = errors.New("not a GraphQL request object")

// decodeRequest decodes one request object of a POST body.
func decodeRequest(data []byte, limits QueryLimits) (graphql.RawParams, error) {
	var obj requestObject
	if !decodeStrict(data, &obj) {
		return graphql.RawParams{}, errNotRequestObject
	}
	if err := limits.checkVariablesSize(len(obj.Variables) + len(obj.Extensions)); err != nil {
		return graphql.RawParams{}, err
	}
	params := graphql.RawParams{Query: obj.Query, OperationName: obj.OperationName}
	for _, field := range []struct {
		raw json.RawMessage
		dst *map[string]any
	}{{obj.Variables, &params.Variables}, {obj.Extensions, &params.Extensions}} {
		if len(field.raw) > 0 && !decodeStrict(field.raw, field.dst) {
			return graphql.RawParams{}, errNotRequestObject
		}
	}
	return params, nil
}

// decodeStrict decodes one JSON value and nothing after it.
func decodeStrict(data []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// getTransport is GraphQL over HTTP GET: queries only, as urql sends them.
type getTransport struct {
	limits QueryLimits
}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeRequestError(w, r, http.StatusBadRequest, "malformed query string")
		return
	}
	params := graphql.RawParams{
		Query:         query.Get("query"),
		OperationName: query.Get("operationName"),
		Headers:       r.Header,
	}
	if err := t.limits.checkVariablesSize(len(query.Get("variables")) + len(query.Get("extensions"))); err != nil {
		writeRequestError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	for name, dst := range map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		if raw := query.Get(name); raw != "" {
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				writeRequestError(w, r, http.StatusBadRequest, name+" must be a JSON object")
				return
			}
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	status, resp := execute(r, exec, &params, true, t.limits)
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "POST")
	}
	setRetryAfter(w, resp)
	writeJSON(w, r, status, resp)
}

// unsupportedTransport answers every request the others do not take.
type unsupportedTransport struct{}

func (unsupportedTransport) Supports(*http.Request) bool { return true }

func (unsupportedTransport) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if r.Method == http.MethodPost {
		// Only JSON: form and multipart bodies are what a cross-site HTML
		// form can send without a CORS preflight.
		writeRequestError(w, r, http.StatusUnsupportedMediaType, "POST requests must have Content-Type: application/json")
		return
	}
	w.Header().Set("Allow", "GET, POST")
	writeRequestError(w, r, http.StatusMethodNotAllowed, "use GET for queries or POST for queries and mutations")
}

// execute runs one operation and returns the HTTP status and response,
// noting the operation and its outcome for the request log and metrics.
func execute(r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, queryOnly bool, limits QueryLimits) (int, *graphql.Response) {
	var opCtx *graphql.OperationContext
	status, resp := run(r, exec, params, queryOnly, limits, &opCtx)
	requestlog.Note(r.Context(), operationName(opCtx), outcomeCode(resp))
	return status, resp
}

// operationName names an operation by its root fields ("login",
// "me,sessions"): a bounded set, unlike client-chosen operation names.
func operationName(opCtx *graphql.OperationContext) string {
	if opCtx == nil || opCtx.Operation == nil {
		return "invalid"
	}
	var names []string
	for _, sel := range opCtx.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && !slices.Contains(names, f.Name) {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "invalid"
	}
	slices.Sort(names)
	if len(names) > 4 {
		names = append(names[:4], "…")
	}
	return strings.Join(names, ",")
}

// outcomeCode is the first error's code, or OK.
func outcomeCode(resp *graphql.Response) string {
	if resp == nil || len(resp.Errors) == 0 {
		return "OK"
	}
	if code, ok := resp.Errors[0].Extensions["code"].(string); ok {
		return code
	}
	return CodeInternal
}

// maxErrors is the most errors one refused operation is answered with, as
// graphql-js stops at 100.
const maxErrors = 100

func run(r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, queryOnly bool, limits QueryLimits, opCtxOut **graphql.OperationContext) (int, *graphql.Response) {
	ctx := r.Context()
	if len(params.Query) > limits.MaxDocumentBytes {
		return http.StatusBadRequest, requestErrorResponse(fmt.Sprintf("query document is %d bytes; the limit is %d", len(params.Query), limits.MaxDocumentBytes))
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	*opCtxOut = opCtx
	if errs != nil {
		if len(errs) > maxErrors {
			// Each error costs the response a line; a document of
			// repeated directives has one per directive.
			errs = append(errs[:maxErrors:maxErrors], &gqlerror.Error{
				Message:    fmt.Sprintf("too many errors: only the first %d are listed", maxErrors),
				Extensions: map[string]any{"code": errs[0].Extensions["code"]},
			})
		}
		markInputErrors(errs)
		status := http.StatusBadRequest
		switch errs[0].Extensions["code"] {
		case CodeForbidden:
			status = http.StatusForbidden
		case CodePersistedQueryNotFound:
			// Not a failure but the protocol's next step; Apollo Client 3
			// turns persisted queries off for good on a 400.
			status = http.StatusOK
		}
		return status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
	}
	if queryOnly {
		op := opCtx.Doc.Operations.ForName(opCtx.OperationName)
		if op == nil || op.Operation != ast.Query {
			// GraphQL over HTTP: a mutation over GET is refused, so a link
			// or an <img> cannot change state.
			return http.StatusMethodNotAllowed, requestErrorResponse("mutations must be sent with POST")
		}
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	return statusFor(resp), resp
}

// markInputErrors gives errors in the values a request carries the code
// BAD_USER_INPUT: in the variables (a missing or mistyped input field, an
// unknown enum value), as Apollo Server does, with the field name; and a
// literal value its argument's type cannot hold (an unknown enum value, a
// string for an Int), so that a wrong value is one code however it is sent.
// They are bad input, not a bad document.
func markInputErrors(errs gqlerror.List) {
	for _, e := range errs {
		if e.Rule == valuesOfCorrectType || e.Rule == valuesOfCorrectTypeQuiet {
			e.Extensions = map[string]any{"code": CodeBadUserInput}
			continue
		}
		if len(e.Path) == 0 || e.Path[0] != ast.PathName("variable") {
			continue
		}
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		e.Extensions["code"] = CodeBadUserInput
		if len(e.Path) >= 3 {
			if name, ok := e.Path[len(e.Path)-1].(ast.PathName); ok {
				e.Extensions["field"] = string(name)
			}
		}
	}
}

// The names gqlparser gives its validation rule for literal values that do
// not fit their type, and the same rule without "Did you mean …" (used
// while introspection is off).
const (
	valuesOfCorrectType      = "ValuesOfCorrectType"
	valuesOfCorrectTypeQuiet = "ValuesOfCorrectTypeWithoutSuggestions"
)

// statusFor is 200 for any executed operation, except that a dependency
// outage answers 503 so load balancers and clients know to retry.
func statusFor(resp *graphql.Response) int {
	for _, e := range resp.Errors {
		if e.Extensions["code"] == CodeUnavailable {
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusOK
}

// setRetryAfter sends the longest extensions.retryAfter of the responses'
// RATE_LIMITED errors as a Retry-After header (RFC 9110 §10.2.3) too, for
// clients, retry links and proxies that read the header, not the body. A
// batch waits for its slowest limit: retrying sooner fails that part again.
func setRetryAfter(w http.ResponseWriter, responses ...*graphql.Response) {
	longest, limited := 0, false
	for _, resp := range responses {
		if resp == nil {
			continue
		}
		for _, e := range resp.Errors {
			if e.Extensions["code"] != CodeRateLimited {
				continue
			}
			limited = true
			if seconds, ok := e.Extensions["retryAfter"].(int); ok {
				longest = max(longest, seconds)
			}
		}
	}
	if limited {
		w.Header().Set("Retry-After", strconv.Itoa(longest))
	}
}

// requestError is the body of a request that was not executed at all: no
// "data" key, as GraphQL over HTTP prescribes.
type requestError struct {
	Errors gqlerror.List `json:"errors"`
}

func requestErrorResponse(message string) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{
		Message:    message,
		Extensions: map[string]any{"code": CodeBadRequest},
	}}}
}

func writeRequestError(w http.ResponseWriter, r *http.Request, status int, message string) {
	writeJSON(w, r, status, requestError{Errors: requestErrorResponse(message).Errors})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, resp any) {
	body, err := json.Marshal(resp)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)
	}
	h := w.Header()
	h.Set("Content-Type", responseContentType(r)+"; charset=utf-8")
	// Responses carry tokens; no cache may keep them.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// responseContentType honours a client that asks for the GraphQL response
// media type first, and otherwise answers application/json, which every
// client understands.
func responseContentType(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case contentTypeGraphQLResponse:
			return contentTypeGraphQLResponse
		case contentTypeJSON, "*/*", "application/*":
			return contentTypeJSON
		}
	}
	return contentTypeJSON
}
