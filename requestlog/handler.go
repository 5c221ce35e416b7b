package requestlog

import (
	"context"
	"log/slog"
)

// NewHandler wraps h so that every record logged with a request's context
// carries request_id and trace_id, and user_id and session_id once noted,
// unless the record already has them. Ids only: nothing a client could use
// to act as the user.
func NewHandler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	req := from(ctx)
	if req == nil {
		return h.next.Handle(ctx, r)
	}
	keys := [...]string{"request_id", "trace_id", "user_id", "session_id"}
	userID, sessionID := User(ctx)
	values := [...]string{req.id, req.trace.traceID, userID, sessionID}
	r.Attrs(func(a slog.Attr) bool {
		for i, key := range keys {
			if a.Key == key {
				values[i] = "" // the line says it already
			}
		}
		return true
	})
	for i, key := range keys {
		if values[i] != "" {
			r.AddAttrs(slog.String(key, values[i]))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.next.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.next.WithGroup(name)}
}
