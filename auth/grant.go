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
	// ended are the revocations of sessions the sign-in ended to stay
	// within the per-user cap, for the caller to remember once committed.
	ended []Revocation
}

// startSession opens a session for user in tx and records kind: the one
// way every sign-in (register, login, password change) begins a session.
// tx must hold the user's row (a credential check or change, or the insert
// of the user), so no other sign-in of the user commits in between: that
// makes the session cap exact.
func (s *Service) startSession(ctx context.Context, tx Store, user *User, client Client, kind EventKind) (*Grant, error) {
	now := s.clock()
	ended, err := s.endSessionsBeyondCap(ctx, tx, user.ID, now)
	if err != nil {
		return nil, err
	}
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
		AMR:        signInMethods(kind),
	}
	grant, err := s.grant(user, sess, refresh)
	if err != nil {
		return nil, err
	}
	if err := tx.CreateSession(ctx, sess, refreshHash); err != nil {
		return nil, err
	}
	if err := tx.RecordEvent(ctx, newEvent(kind, user.ID, user.Username, sess.ID, client, now)); err != nil {
		return nil, err
	}
	grant.ended = ended
	return grant, nil
}

// signInMethods are the RFC 8176 methods of the sign-in that kind records:
// a password, or a passkey (hwk: proof of a hardware-bound key, with the
// user verified by the authenticator). A passkey login is complete alone.
func signInMethods(kind EventKind) []string {
	if kind == EventPasskeyLogin {
		return []string{"hwk"}
	}
	return []string{"pwd"}
}

// sessionLimitDetail marks the audit event of a session ended by the cap.
const sessionLimitDetail = "session limit reached"

// endSessionsBeyondCap makes room for one more session of userID: the
// oldest live sessions beyond the cap end like a logout, their access
// tokens with them, in tx. One account's logins thus cannot grow the
// tables without bound.
func (s *Service) endSessionsBeyondCap(ctx context.Context, tx Store, userID string, now time.Time) ([]Revocation, error) {
	oldest, err := tx.SessionsBeyond(ctx, userID, s.opts.MaxSessionsPerUser-1, now)
	if err != nil || len(oldest) == 0 {
		return nil, err
	}
	ended, err := tx.RevokeSessions(ctx, userID, oldest, now, now.Add(s.tokens.MaxLifetime()))
	if err != nil {
		return nil, err
	}
	for _, r := range ended {
		e := newEvent(EventSessionRevoked, userID, "", r.Subject, Client{}, now)
		e.Detail = sessionLimitDetail
		if err := tx.RecordEvent(ctx, e); err != nil {
			return nil, err
		}
	}
	return ended, nil
}

// grant signs the access token of sess and bundles it with refresh. It
// records on sess how long that token verifies, so the caller must store
// sess after calling it.
func (s *Service) grant(user *User, sess *Session, refresh string) (*Grant, error) {
	access, claims, err := s.tokens.Issue(user.ID, sess.ID, user.Roles, sess.AMR...)
	if err != nil {
		return nil, Internal(err)
	}
	sess.AccessValidUntil = s.tokens.ValidUntil(claims).UTC()
	return &Grant{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.tokens.TTL(), User: user, Session: sess}, nil
}
