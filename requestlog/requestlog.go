// Package requestlog holds the per-request state that a request's log line
// and metrics are made from: its id, which ties the log lines and any error
// shown to the client together, and its Outcome, which the face that served
// it (graph, oauth) fills in. The access log in app reads both. It imports
// only the standard library.
package requestlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// IDHeader carries the request id in and out.
const IDHeader = "X-Request-Id"

type idKey struct{}

// maxIncoming bounds an id taken from a client or proxy.
const maxIncoming = 128

// Middleware takes a sane incoming X-Request-Id (from a proxy that already
// assigned one) or makes a new one, stores it in the context and echoes it.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(IDHeader)
		if !acceptable(id) {
			id = NewID()
		}
		w.Header().Set(IDHeader, id)
		next.ServeHTTP(w, r.WithContext(WithID(r.Context(), id)))
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

// WithID returns ctx carrying request id id.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// ID returns the request id of ctx, or "".
func ID(ctx context.Context) string {
	id, _ := ctx.Value(idKey{}).(string)
	return id
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
