package graph

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/graph/model"
)

// The schema's AuthEventKind values are the audit log's kinds in upper
// case (LOGIN_FAILED is login_failed): the audit log keeps its stored
// names, the schema follows GraphQL's enum convention, and
// TestAuthEventKindsMatchTheAuditLog keeps the two lists equal.

func eventKind(k model.AuthEventKind) auth.EventKind {
	return auth.EventKind(strings.ToLower(string(k)))
}

func eventKindModel(k auth.EventKind) model.AuthEventKind {
	return model.AuthEventKind(strings.ToUpper(string(k)))
}

// cursorPrefix versions the cursor format; cursors are opaque to clients.
const cursorPrefix = "event:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeCursor(cursor string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && strings.HasPrefix(string(raw), cursorPrefix) {
		id, err := strconv.ParseInt(strings.TrimPrefix(string(raw), cursorPrefix), 10, 64)
		if err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, auth.Invalid("after", "after is not a cursor returned by this API")
}

// eventFilter reads authEvents' arguments.
func eventFilter(first *int, after, userID *string, kind *model.AuthEventKind) (auth.EventFilter, error) {
	filter := auth.EventFilter{Limit: auth.DefaultEventPage}
	if first != nil {
		filter.Limit = *first
	}
	if after != nil {
		id, err := decodeCursor(*after)
		if err != nil {
			return auth.EventFilter{}, err
		}
		filter.BeforeID = id
	}
	if userID != nil {
		filter.UserID = *userID
	}
	if kind != nil {
		filter.Kind = eventKind(*kind)
	}
	return filter, nil
}

// eventConnection is a page of audit events as a Relay connection.
func eventConnection(page *auth.EventPage) *model.AuthEventConnection {
	conn := &model.AuthEventConnection{
		Edges:    make([]model.AuthEventEdge, len(page.Events)),
		Nodes:    make([]model.AuthEvent, len(page.Events)),
		PageInfo: &model.PageInfo{HasNextPage: page.HasMore, HasPreviousPage: page.HasPrevious},
	}
	for i, e := range page.Events {
		node := model.AuthEvent{
			ID:        strconv.FormatInt(e.ID, 10),
			Kind:      eventKindModel(e.Kind),
			UserID:    e.UserID,
			SessionID: e.SessionID,
			IP:        e.IP,
			UserAgent: e.UserAgent,
			CreatedAt: e.CreatedAt,
		}
		if e.Username != "" {
			node.Username = &e.Username
		}
		if e.Detail != "" {
			node.Detail = &e.Detail
		}
		conn.Nodes[i] = node
		conn.Edges[i] = model.AuthEventEdge{Cursor: encodeCursor(e.ID), Node: &conn.Nodes[i]}
	}
	if n := len(page.Events); n > 0 {
		start, end := conn.Edges[0].Cursor, conn.Edges[n-1].Cursor
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	return conn
}
