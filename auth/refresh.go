package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Refresh exchanges a refresh token for new tokens and rotates it. A token
// that was already rotated away is proof that two parties hold the session,
// one of them a thief: the whole session is revoked.
func (s *Service) Refresh(ctx context.Context, token string, client Client) (*Grant, error) {
	// No token at all is a signed-out page asking whether it has a
	// session, not a guess: it is answered at once and costs neither a
	// rate-limit token nor a database round trip, so signed-out visitors
	// behind one address cannot use up that address's failed refreshes.
	if token == "" {
		return nil, ErrInvalidRefresh
	}
	spent, err := s.limit(ctx, OpRefresh, map[Dimension]string{PerIP: client.IP})
	if err != nil {
		return nil, err
	}
	if !plausibleRefreshToken(token) {
		return nil, ErrInvalidRefresh
	}
	hash := hashRefreshToken(token)
	now := s.clock()
	var (
		grant   *Grant
		revoked []Revocation
		refused error
	)
	// One transaction, the session row locked: two concurrent refreshes
	// of one token cannot both rotate it.
	err = s.store.Tx(ctx, func(tx Store) error {
		grant, revoked, refused = nil, nil, nil
		sess, generation, err := tx.SessionByRefreshHash(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			refused = ErrInvalidRefresh
			return nil
		}
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
			refused = ErrInvalidRefresh
			return nil
		}
		if generation != sess.Generation && !s.withinReuseInterval(sess, generation, now) {
			revoked, err = s.revokeReusedSession(ctx, tx, sess, client, now)
			if err != nil {
				return err
			}
			refused = ErrInvalidRefresh
			return nil
		}
		user, err := s.user(ctx, tx, sess.UserID)
		if err != nil {
			return err
		}
		refresh, refreshHash, err := newRefreshToken()
		if err != nil {
			return Internal(err)
		}
		sess.Generation++
		sess.LastUsedAt = now
		sess.RotatedAt = now
		sess.ExpiresAt = now.Add(s.opts.RefreshTTL)
		sess.UserAgent = clip(client.UserAgent, 512)
		sess.IP = clip(client.IP, 64)
		if grant, err = s.grant(user, sess, refresh); err != nil {
			return err
		}
		return tx.AdvanceSession(ctx, sess, refreshHash)
	})
	if err != nil {
		return nil, err
	}
	s.remember(revoked)
	if refused != nil {
		return nil, refused
	}
	s.limits.refund(ctx, spent)
	// Routine and frequent: recorded in the background, off the
	// transaction every client runs every few minutes.
	s.background.push(newEvent(EventRefresh, grant.User.ID, grant.User.Username, grant.Session.ID, client, now))
	return grant, nil
}

// revokeReusedSession answers the reuse of a rotated-away refresh token:
// the session is revoked in tx, the reuse audited and logged.
func (s *Service) revokeReusedSession(ctx context.Context, tx Store, sess *Session, client Client, now time.Time) ([]Revocation, error) {
	revoked, err := tx.RevokeSessions(ctx, sess.UserID, []string{sess.ID}, now, now.Add(s.tokens.MaxLifetime()))
	if err != nil {
		return nil, err
	}
	e := newEvent(EventRefreshTokenReused, sess.UserID, "", sess.ID, client, now)
	e.Detail = "session revoked"
	if err := tx.RecordEvent(ctx, e); err != nil {
		return nil, err
	}
	s.observe.RefreshReuse()
	s.log.WarnContext(ctx, "refresh token reuse detected; session revoked",
		"user_id", sess.UserID, "session_id", sess.ID, "ip", client.IP)
	return revoked, nil
}

// withinReuseInterval allows the immediately previous token shortly after a
// rotation, for clients that refresh from two tabs at once.
func (s *Service) withinReuseInterval(sess *Session, generation int64, now time.Time) bool {
	return s.opts.RefreshReuseInterval > 0 && generation == sess.Generation-1 &&
		now.Sub(sess.RotatedAt) <= s.opts.RefreshReuseInterval
}

// refreshTokenPrefix marks keycard refresh tokens so secret scanners can
// recognise a leaked one, and so a JWT handed to refresh fails fast.
const refreshTokenPrefix = "kcr_"

// refreshTokenBytes is the entropy of a refresh token: 256 bits, beyond any
// online or offline guessing.
const refreshTokenBytes = 32

// newRefreshToken returns a fresh opaque refresh token and the hash that is
// stored in its place.
func newRefreshToken() (token string, hash []byte, err error) {
	var raw [refreshTokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	token = refreshTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return token, hashRefreshToken(token), nil
}

// hashRefreshToken is SHA-256: the token already has 256 bits of entropy, so
// a slow hash would add nothing, and a fast one keeps refresh cheap. A
// database leak exposes hashes that cannot be presented.
func hashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// plausibleRefreshToken rejects what cannot be a refresh token without a
// database round trip.
func plausibleRefreshToken(token string) bool {
	return len(token) == len(refreshTokenPrefix)+base64.RawURLEncoding.EncodedLen(refreshTokenBytes) &&
		strings.HasPrefix(token, refreshTokenPrefix)
}
