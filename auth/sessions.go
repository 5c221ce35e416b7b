package auth

import (
	"context"
	"errors"
)

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

// ChangePassword replaces the caller's password after checking the current
// one. Every session of the user ends, the caller's included, so every
// outstanding access and refresh token stops working; the caller gets a new
// session in return.
func (s *Service) ChangePassword(ctx context.Context, c *Claims, current, next string, client Client) (*Grant, error) {
	user, err := s.user(ctx, s.store, c.UserID())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotAuthenticated
	}
	if err != nil {
		return nil, err
	}
	if err := checkPassword("newPassword", next, user.Username); err != nil {
		return nil, err
	}
	if current == next {
		return nil, Invalid("newPassword", "new password must differ from the current one")
	}
	spent, err := s.limit(ctx, OpChangePassword, map[Dimension]string{PerIP: client.IP, PerUser: user.ID})
	if err != nil {
		return nil, err
	}
	stored, err := s.store.PasswordHash(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	match, _, err := s.passwords.Verify(ctx, current, stored)
	if err != nil {
		return nil, err
	}
	if !match {
		return nil, Invalid("currentPassword", "current password is incorrect")
	}
	s.limits.refund(ctx, spent)
	hash, err := s.passwords.Hash(ctx, next)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var (
		grant   *Grant
		revoked []Revocation
	)
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.SetPasswordHash(ctx, user.ID, hash); err != nil {
			return err
		}
		revoked, err = tx.RevokeSessions(ctx, user.ID, nil, now, now.Add(s.tokens.MaxLifetime()))
		if err != nil {
			return err
		}
		grant, err = s.startSession(ctx, tx, user, client, EventPasswordChanged)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.remember(revoked)
	return grant, nil
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
