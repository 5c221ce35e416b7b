package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Automatic persisted queries as Apollo's PersistedQueryLink and urql's
// persistedExchange speak them; tests/js drives the real clients.

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func persistedExtension(hash string) string {
	return `{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}`
}

// apqPost is a POST with the query (empty: hash only) and its APQ extension.
func apqPost(t *testing.T, query, hash string) request {
	t.Helper()
	body := map[string]any{"extensions": json.RawMessage(persistedExtension(hash))}
	if query != "" {
		body["query"] = query
	}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return post(string(data))
}

// apqGet is the same as a GET, as urql and Apollo's useGETForHashedQueries
// send it.
func apqGet(query, hash string) request {
	if query == "" {
		return get("extensions", persistedExtension(hash))
	}
	return get("query", query, "extensions", persistedExtension(hash))
}

// wantPersistedQueryNotFound checks the answer both clients retry on: HTTP
// 200 (Apollo Client 3 gives up persisted queries on a 400), the message
// urql matches and the code Apollo Client 4 matches, and no data.
func (r reply) wantPersistedQueryNotFound(t *testing.T) {
	t.Helper()
	r.wantError(t, http.StatusOK, CodePersistedQueryNotFound, "PersistedQueryNotFound")
	if r.result(t).Data != nil {
		t.Fatalf("a document that was not found has data: %s", r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q: a cache must not keep the miss the client is about to mend", got)
	}
}

func TestPersistedQueryRegisteredThenServedByHash(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(query, hash string) request
	}{
		{"POST", func(query, hash string) request { return apqPost(t, query, hash) }},
		{"GET", apqGet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newGraphServer(t, Options{}, nil)
			query := "query Typename { __typename }"
			hash := sha256Hex(query)

			send(t, srv, tc.send("", hash)).wantPersistedQueryNotFound(t)
			send(t, srv, tc.send(query, hash)).wantTypename(t, "Query")
			send(t, srv, tc.send("", hash)).wantTypename(t, "Query")
		})
	}
}

func TestPersistedQueryRegisteredOverOneMethodIsServedOverTheOther(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	byPost, byGet := "{ viaPost: __typename }", "{ viaGet: __typename }"
	send(t, srv, apqPost(t, byPost, sha256Hex(byPost))).wantStatus(t, http.StatusOK)
	send(t, srv, apqGet(byGet, sha256Hex(byGet))).wantStatus(t, http.StatusOK)
	if got := send(t, srv, apqGet("", sha256Hex(byPost))).result(t).Data["viaPost"]; got != "Query" {
		t.Fatalf("GET by the hash registered over POST: data.viaPost = %v", got)
	}
	if got := send(t, srv, apqPost(t, "", sha256Hex(byGet))).result(t).Data["viaGet"]; got != "Query" {
		t.Fatalf("POST by the hash registered over GET: data.viaGet = %v", got)
	}
}

// The hash is the SHA-256 of the text it comes with: a document sent under
// another document's hash is refused and not stored, so a later request by
// that hash never runs what someone else planted.
func TestPersistedQueryUnderAnotherDocumentsHashIsRefusedAndNotStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(query, hash string) request
	}{
		{"POST", func(query, hash string) request { return apqPost(t, query, hash) }},
		{"GET", apqGet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newGraphServer(t, Options{}, nil)
			victim := "query Victim { __typename }"
			planted := "query Planted { planted: __typename }"
			send(t, srv, tc.send(planted, sha256Hex(victim))).wantError(t, http.StatusBadRequest, CodeBadRequest, "provided APQ hash does not match query")
			send(t, srv, tc.send("", sha256Hex(victim))).wantPersistedQueryNotFound(t)
			// Upper-case hex is another string: no way around the check.
			send(t, srv, tc.send(victim, strings.ToUpper(sha256Hex(victim)))).wantError(t, http.StatusBadRequest, CodeBadRequest, "provided APQ hash does not match query")
		})
	}
}

func TestPersistedQueryExtensionThatIsNotVersionOneIsABadRequest(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	query := "{ __typename }"
	for _, tc := range []struct {
		name, extensions, message string
	}{
		{"version 2", `{"persistedQuery":{"version":2,"sha256Hash":"` + sha256Hex(query) + `"}}`, "unsupported APQ version"},
		{"no version", `{"persistedQuery":{"sha256Hash":"` + sha256Hex(query) + `"}}`, "unsupported APQ version"},
		{"hash is a list", `{"persistedQuery":{"version":1,"sha256Hash":["x"]}}`, "invalid APQ extension data"},
		{"not an object", `{"persistedQuery":"yes"}`, "invalid APQ extension data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"query":"` + query + `","extensions":` + tc.extensions + `}`
			send(t, srv, post(body)).wantError(t, http.StatusBadRequest, CodeBadRequest, tc.message)
		})
	}
}

// The document limit applies to what a client registers, so a stored
// document is never longer than one the transports would take.
func TestPersistedQueryOverTheDocumentLimitIsNotStored(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	long := "{ __typename " + strings.Repeat(" ", testQueryLimits.MaxDocumentBytes) + "}"
	hash := sha256Hex(long)
	send(t, srv, apqGet(long, hash)).wantStatus(t, http.StatusBadRequest)
	send(t, srv, apqGet("", hash)).wantPersistedQueryNotFound(t)
}

// A mutation stays a POST-only operation when it is sent by hash: a link
// cannot run one by naming its hash.
func TestPersistedMutationByHashOverGetIsRefused(t *testing.T) {
	srv := newGraphServer(t, Options{}, nil)
	mutation := "mutation { __typename }"
	hash := sha256Hex(mutation)
	send(t, srv, apqPost(t, mutation, hash)).wantTypename(t, "Mutation")
	reply := send(t, srv, apqGet("", hash))
	reply.wantError(t, http.StatusMethodNotAllowed, CodeBadRequest, "mutations must be sent with POST")
	if got := reply.header.Get("Allow"); got != "POST" {
		t.Fatalf("Allow %q, want POST", got)
	}
}

func TestPersistedQueriesInABatch(t *testing.T) {
	// A batch's documents share one request's byte budget; three items
	// with their extensions need more than the small test limit.
	limits := testQueryLimits
	limits.MaxDocumentBytes = 1000
	srv := newGraphServer(t, Options{QueryLimits: limits}, nil)
	query := "{ __typename }"
	hash := sha256Hex(query)
	item := func(withQuery bool) string {
		if withQuery {
			return `{"query":"` + query + `","extensions":` + persistedExtension(hash) + `}`
		}
		return `{"extensions":` + persistedExtension(hash) + `}`
	}
	reply := send(t, srv, post("["+item(false)+","+item(true)+","+item(false)+"]"))
	reply.wantStatus(t, http.StatusOK)
	results := reply.results(t)
	if len(results) != 3 {
		t.Fatalf("want 3 results: %s", reply.body)
	}
	results[0].wantError(t, CodePersistedQueryNotFound, "PersistedQueryNotFound")
	for _, res := range results[1:] {
		if len(res.Errors) != 0 || res.Data["__typename"] != "Query" {
			t.Fatalf("want data.__typename after registration: %s", reply.body)
		}
	}
}

func (r reply) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}
