// Package requestlog holds the per-request state that a request's log lines
// and metrics are made from: its id, which ties the log lines and any error
// shown to the client together; its W3C trace context (traceparent), which
// ties them to the caller's trace; the user and session once known; and its
// Outcome, which the face that served it (graph, oauth) fills in. Handler
// adds the ids to every line logged with a request's context; the access
// log in app reads the Outcome. It imports only the standard library.
package requestlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
)

// IDHeader carries the request id in and out.
const IDHeader = "X-Request-Id"

// maxIncoming bounds an id taken from a client or proxy.
const maxIncoming = 128

// request is what Middleware keeps for one request. The user and session
// are noted by layers below it (authentication, sign-in) and read by the
// access log above them, so they live behind a pointer that all share.
type request struct {
	id    string
	trace traceContext

	mu        sync.Mutex
	userID    string
	sessionID string
}

type requestKey struct{}

// Middleware takes a sane incoming X-Request-Id (from a proxy that already
// assigned one) or makes a new one, continues the caller's trace from a
// valid traceparent header or starts one, stores both in the context and
// echoes them: X-Request-Id as received, traceparent naming this server's
// span as the parent of whatever the caller does next.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(IDHeader)
		if !acceptable(id) {
			id = NewID()
		}
		req := &request{id: id, trace: continueTrace(r.Header.Values(TraceparentHeader))}
		w.Header().Set(IDHeader, id)
		w.Header().Set(TraceparentHeader, req.trace.String())
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
	})
}

// acceptable admits only short printable ids, so a client cannot inject
// log lines or huge values through the header.
func acceptable(id string) bool {
	if id == "" || len(id) > maxIncoming {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// NewID returns a random request id.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WithID returns ctx carrying request id id (and a new trace), for work
// that starts outside an HTTP request.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestKey{}, &request{id: id, trace: continueTrace(nil)})
}

func from(ctx context.Context) *request {
	req, _ := ctx.Value(requestKey{}).(*request)
	return req
}

// ID returns the request id of ctx, or "".
func ID(ctx context.Context) string {
	if req := from(ctx); req != nil {
		return req.id
	}
	return ""
}

// TraceID returns the W3C trace id of the request of ctx, or "".
func TraceID(ctx context.Context) string {
	if req := from(ctx); req != nil {
		return req.trace.traceID
	}
	return ""
}

// NoteUser records whose request this is: the user and session of a
// verified token, or of the session a sign-in just started. Ids only,
// never a token.
func NoteUser(ctx context.Context, userID, sessionID string) {
	if req := from(ctx); req != nil {
		req.mu.Lock()
		req.userID, req.sessionID = userID, sessionID
		req.mu.Unlock()
	}
}

// User returns what NoteUser recorded for the request of ctx.
func User(ctx context.Context) (userID, sessionID string) {
	if req := from(ctx); req != nil {
		req.mu.Lock()
		defer req.mu.Unlock()
		return req.userID, req.sessionID
	}
	return "", ""
}

type outcomeKey struct{}

// Outcome is what handlers learned about a request, for its log line and
// metrics: the operation it was (GraphQL root fields, an OAuth endpoint)
// and how it ended (an error code, or OK).
type Outcome struct {
	Operation string
	Code      string
}

// WithOutcome returns ctx carrying an empty Outcome for handlers to fill.
func WithOutcome(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, outcomeKey{}, o), o
}

// Note records the operation and code of the request of ctx, if anyone
// is listening.
func Note(ctx context.Context, operation, code string) {
	if o, ok := ctx.Value(outcomeKey{}).(*Outcome); ok {
		o.Operation, o.Code = operation, code
	}
}
