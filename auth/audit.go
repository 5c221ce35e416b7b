package auth

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// EventKind names an audit event.
type EventKind string

// The audit events keycard records.
const (
	EventRegister            EventKind = "register"
	EventLoginSucceeded      EventKind = "login_succeeded"
	EventLoginFailed         EventKind = "login_failed"
	EventRefresh             EventKind = "refresh"
	EventRefreshTokenReused  EventKind = "refresh_token_reused"
	EventLogout              EventKind = "logout"
	EventPasswordChanged     EventKind = "password_changed"
	EventRevokedTokenUsed    EventKind = "revoked_token_used"
	EventSessionRevoked      EventKind = "session_revoked"
	EventUserSessionsRevoked EventKind = "user_sessions_revoked"
	EventRoleGranted         EventKind = "role_granted"
	EventRoleRevoked         EventKind = "role_revoked"
	EventTokenRevoked        EventKind = "token_revoked"

	EventPasskeyAdded   EventKind = "passkey_added"
	EventPasskeyRemoved EventKind = "passkey_removed"
	EventPasskeyLogin   EventKind = "passkey_login"
	// EventPasskeySignCountRegressed is a login refused because the
	// passkey's signature counter did not grow: a cloned authenticator.
	EventPasskeySignCountRegressed EventKind = "passkey_sign_count_regressed"
)

// Event is one audit record. UserID is nil when no user is known (a failed
// login for a name that does not exist); Username is then what was typed.
type Event struct {
	ID        int64
	Kind      EventKind
	UserID    *string
	Username  string
	SessionID *string
	IP        string
	UserAgent string
	Detail    string
	CreatedAt time.Time
}

// EventFilter selects audit events, newest first.
type EventFilter struct {
	UserID string
	Kind   EventKind
	// BeforeID pages: only events with a smaller id (0: from the newest).
	BeforeID int64
	Limit    int
}

func newEvent(kind EventKind, userID, username, sessionID string, client Client, at time.Time) *Event {
	e := &Event{Kind: kind, Username: clip(username, 64), IP: clip(client.IP, 64), UserAgent: clip(client.UserAgent, 512), CreatedAt: at}
	if userID != "" {
		e.UserID = &userID
	}
	if sessionID != "" {
		e.SessionID = &sessionID
	}
	return e
}

// loginFailedEvent records a failed login. The typed name is kept only if
// it could be a username: people type passwords into the username field,
// and what is not a possible username (too long, a space, punctuation a
// name cannot have) is far more likely one of those than a name worth
// keeping. Such a name is left out and Detail says so.
func loginFailedEvent(userID, typed string, client Client, at time.Time) *Event {
	if _, possible := UsernameKey(typed); possible {
		return newEvent(EventLoginFailed, userID, typed, "", client, at)
	}
	e := newEvent(EventLoginFailed, userID, "", "", client, at)
	e.Detail = notAUsername
	return e
}

// notAUsername is the Detail of a failed login whose typed name was not a
// possible username and so was not stored.
const notAUsername = "typed name is not a possible username; not stored"

// eventQueue records events off the request path: where writing in the
// request would put database I/O on a path that must not have it (a revoked
// token presented again and again costs no database write per request), or
// where the event is frequent and routine (refresh). Bounded; when full,
// events are counted as dropped.
type eventQueue struct {
	events  chan *Event
	dropped atomic.Int64
}

func newEventQueue(size int) *eventQueue {
	return &eventQueue{events: make(chan *Event, size)}
}

func (q *eventQueue) push(e *Event) {
	select {
	case q.events <- e:
	default:
		q.dropped.Add(1)
	}
}

// eventBatch is the most events one background write carries.
const eventBatch = 256

// run writes queued events until ctx ends, then drains what is left. What
// has queued up while a write was running goes out together, in one
// transaction: one commit instead of one per event.
func (q *eventQueue) run(ctx context.Context, store Store, log *slog.Logger) {
	batch := make([]*Event, 0, eventBatch)
	write := func() {
		writeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := store.Tx(writeCtx, func(tx Store) error {
			for _, e := range batch {
				if err := tx.RecordEvent(writeCtx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			q.dropped.Add(int64(len(batch)))
			log.Warn("audit events not recorded", "events", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	collect := func() {
		for len(batch) < eventBatch {
			select {
			case e := <-q.events:
				batch = append(batch, e)
			default:
				return
			}
		}
	}
	for {
		select {
		case e := <-q.events:
			batch = append(batch, e)
			collect()
			write()
		case <-ctx.Done():
			for {
				collect()
				if len(batch) == 0 {
					return
				}
				write()
			}
		}
	}
}

// RunBackground writes queued audit events until ctx ends, then flushes
// what is still queued.
func (s *Service) RunBackground(ctx context.Context) {
	s.background.run(ctx, s.store, s.log)
}
