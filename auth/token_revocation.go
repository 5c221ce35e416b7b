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
func (s *Service) RevokeToken(ctx context.Context, token, hint string, client Client) error {
	attempts := []func(context.Context, string, Client) (bool, error){s.revokeRefreshToken, s.revokeAccessToken}
	if hint == HintAccessToken {
		attempts[0], attempts[1] = attempts[1], attempts[0]
	}
	for _, attempt := range attempts {
		done, err := attempt(ctx, token, client)
		if err != nil || done {
			return err
		}
	}
	return nil
}

func (s *Service) revokeRefreshToken(ctx context.Context, token string, client Client) (bool, error) {
	if !plausibleRefreshToken(token) {
		return false, nil
	}
	sess, _, err := s.store.SessionByRefreshHash(ctx, hashRefreshToken(token))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.revokeSessions(ctx, sess.UserID, []string{sess.ID}, EventTokenRevoked, sess.ID, "refresh token", client)
}

func (s *Service) revokeAccessToken(ctx context.Context, token string, client Client) (bool, error) {
	claims, err := s.tokens.Verify(token)
	if err != nil {
		return false, nil
	}
	now := s.clock()
	rev := &Revocation{Kind: RevokedAccessToken, Subject: claims.ID, UserID: claims.UserID(), RevokedAt: now,
		ExpiresAt: s.tokens.ValidUntil(claims)}
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.AppendRevocation(ctx, rev); err != nil {
			return err
		}
		e := newEvent(EventTokenRevoked, claims.UserID(), "", claims.SessionID, client, now)
		e.Detail = "access token"
		return tx.RecordEvent(ctx, e)
	})
	if err != nil {
		return false, err
	}
	s.revocations.Add(rev.Subject, rev.ExpiresAt)
	s.observe.Revoked(RevokedAccessToken, 1)
	return true, nil
}
