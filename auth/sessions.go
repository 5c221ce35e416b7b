package auth

import "context"

// SessionView is a session as its owner sees it.
type SessionView struct {
	*Session
	// Current marks the session of the access token that asked.
	Current bool
}

// Sessions lists the caller's live sessions, most recently used first.
func (s *Service) Sessions(ctx context.Context, c *Claims) ([]SessionView, error) {
	sessions, err := s.store.LiveSessions(ctx, c.UserID(), s.clock())
	if err != nil {
		return nil, err
	}
	views := make([]SessionView, len(sessions))
	for i, sess := range sessions {
		views[i] = SessionView{Session: sess, Current: sess.ID == c.SessionID}
	}
	return views, nil
}

// RevokeSession ends one of the caller's own sessions. It reports false when
// there is no such live session of the caller's: another user's session id
// is treated exactly like an unknown one.
func (s *Service) RevokeSession(ctx context.Context, c *Claims, sessionID string, client Client) (bool, error) {
	if !validID(sessionID) {
		return false, nil
	}
	now := s.clock()
	var revoked []Revocation
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		revoked, err = tx.RevokeSessions(ctx, c.UserID(), []string{sessionID}, now, now.Add(s.tokens.MaxLifetime()))
		if err != nil || len(revoked) == 0 {
			return err
		}
		return tx.RecordEvent(ctx, newEvent(EventSessionRevoked, c.UserID(), "", sessionID, client, now))
	})
	if err != nil {
		return false, err
	}
	s.remember(revoked)
	return len(revoked) > 0, nil
}

// validID reports whether id can be a keycard id at all, so garbage never
// reaches a query.
func validID(id string) bool {
	return len(id) == 36 && uuidPattern(id)
}

func uuidPattern(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
