package auth

import (
	"context"
	"errors"
)

// HintAccessToken is the RFC 7009 §2.1 token type hint that makes
// RevokeToken try the token as an access token first; any other hint
// ("refresh_token", or none) tries it as a refresh token first.
const HintAccessToken = "access_token"

// RevokeToken ends what a token grants (RFC 7009): for a refresh token, its
// whole session; for an access token, that token. hint says which to try
// first. A token that is neither, or already dead, is not an error: the
// caller answers the same either way, so nobody learns which tokens exist.
//
// It is idempotent: only something still live is revoked, so a dead,
// unknown or already revoked token appends no revocation and no audit
// event, and a caller cannot grow those tables by repeating a call. The
// endpoint is unauthenticated, so attempts that revoke nothing count
// against the caller's address (OpRevoke); one that revokes something
// gives its token back.
func (s *Service) RevokeToken(ctx context.Context, token, hint string, client Client) error {
	spent, err := s.limit(ctx, OpRevoke, map[Dimension]string{PerIP: client.IP})
	if err != nil {
		return err
	}
	attempts := []func(context.Context, string, Client) (bool, error){s.revokeRefreshToken, s.revokeAccessToken}
	if hint == HintAccessToken {
		attempts[0], attempts[1] = attempts[1], attempts[0]
	}
	for _, attempt := range attempts {
		revoked, err := attempt(ctx, token, client)
		if err != nil || revoked {
			s.limits.refund(ctx, spent)
			return err
		}
	}
	return nil
}

// revokeRefreshToken ends the live session a refresh token belongs to (any
// token of its chain, so whoever holds one can end it) and reports whether
// there was one.
func (s *Service) revokeRefreshToken(ctx context.Context, token string, client Client) (bool, error) {
	if !plausibleRefreshToken(token) {
		return false, nil
	}
	now := s.clock()
	var revoked []Revocation
	// One transaction, the session row locked: two revocations of one
	// session at once append one entry and one event between them.
	err := s.store.Tx(ctx, func(tx Store) error {
		revoked = nil
		sess, _, err := tx.SessionByRefreshHash(ctx, hashRefreshToken(token))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
			return nil
		}
		revoked, err = tx.RevokeSessions(ctx, sess.UserID, []string{sess.ID}, now, now.Add(s.tokens.MaxLifetime()))
		if err != nil || len(revoked) == 0 {
			return err
		}
		e := newEvent(EventTokenRevoked, sess.UserID, "", sess.ID, client, now)
		e.Detail = "refresh token"
		return tx.RecordEvent(ctx, e)
	})
	if err != nil {
		return false, err
	}
	s.remember(revoked)
	return len(revoked) > 0, nil
}

// revokeAccessToken voids one live access token and reports whether it was
// live: valid, of a session not ended, and not revoked already.
func (s *Service) revokeAccessToken(ctx context.Context, token string, client Client) (bool, error) {
	claims, err := s.tokens.Verify(token)
	if err != nil {
		return false, nil
	}
	now := s.clock()
	// Already void here: no database work at all.
	if s.revocations.revoked(claims.ID, now) || s.revocations.revoked(claims.SessionID, now) {
		return false, nil
	}
	var rev *Revocation
	// The session row is locked first, so revocations of tokens of one
	// session take turns and the second finds the first's entry: the
	// check and the append cannot interleave.
	err = s.store.Tx(ctx, func(tx Store) error {
		rev = nil
		sess, err := tx.LockSession(ctx, claims.SessionID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || sess.UserID != claims.UserID() {
			return nil
		}
		already, err := tx.RevocationExists(ctx, RevokedAccessToken, claims.ID)
		if err != nil || already {
			return err
		}
		r := &Revocation{Kind: RevokedAccessToken, Subject: claims.ID, UserID: claims.UserID(), RevokedAt: now,
			ExpiresAt: s.tokens.ValidUntil(claims)}
		if err := tx.AppendRevocation(ctx, r); err != nil {
			return err
		}
		e := newEvent(EventTokenRevoked, claims.UserID(), "", claims.SessionID, client, now)
		e.Detail = "access token"
		if err := tx.RecordEvent(ctx, e); err != nil {
			return err
		}
		rev = r
		return nil
	})
	if err != nil || rev == nil {
		return false, err
	}
	s.revocations.Remember(*rev)
	s.observe.Revoked(RevokedAccessToken, 1)
	return true, nil
}
