// Package requestid gives every HTTP request an id that ties its log lines
// and any error shown to the client together, and an Outcome its handler
// fills in for the request's log line and metrics. It imports only the
// standard library.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header carries the id in and out.
const Header = "X-Request-Id"

type key struct{}

// maxIncoming bounds an id taken from a client or proxy.
const maxIncoming = 128

// Middleware takes a sane incoming X-Request-Id (from a proxy that already
// assigned one) or makes a new one, stores it in the context and echoes it.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !acceptable(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
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

// New returns a random id.
func New() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request id of ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
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
