package auth

import (
	"context"
	"time"
)

// Grant is the result of a successful register, login, refresh or password
// change: a signed-in session and the tokens that carry it.
type Grant struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	User         *User
	Session      *Session
}

// startSession opens a session for user in tx and records kind: the one
// way every sign-in (register, login, password change) begins a session.
func (s *Service) startSession(ctx context.Context, tx Store, user *User, client Client, kind EventKind) (*Grant, error) {
	now := s.clock()
	refresh, refreshHash, err := newRefreshToken()
	if err != nil {
		return nil, Internal(err)
	}
	sess := &Session{
		ID:         newID(),
		UserID:     user.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		RotatedAt:  now,
		ExpiresAt:  now.Add(s.opts.RefreshTTL),
		UserAgent:  clip(client.UserAgent, 512),
		IP:         clip(client.IP, 64),
	}
	if err := tx.CreateSession(ctx, sess, refreshHash); err != nil {
		return nil, err
	}
	if err := tx.RecordEvent(ctx, newEvent(kind, user.ID, user.Username, sess.ID, client, now)); err != nil {
		return nil, err
	}
	return s.grant(user, sess, refresh)
}

// grant signs the access token of sess and bundles it with refresh.
func (s *Service) grant(user *User, sess *Session, refresh string) (*Grant, error) {
	access, _, err := s.tokens.Issue(user.ID, sess.ID, user.Roles)
	if err != nil {
		return nil, Internal(err)
	}
	return &Grant{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.tokens.TTL(), User: user, Session: sess}, nil
}
