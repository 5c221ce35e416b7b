package auth

import (
	"context"
	"errors"
)

// ChangePassword replaces the caller's password after checking the current
// one. Every session of the user ends, the caller's included, so every
// outstanding access and refresh token stops working; the caller gets a new
// session in return.
func (s *Service) ChangePassword(ctx context.Context, c *Claims, current, next string, client Client) (*Grant, error) {
	if err := checkPasswordSize("currentPassword", current); err != nil {
		return nil, err
	}
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
	if err := s.passwords.Admit(ctx); err != nil {
		return nil, err
	}
	spent, err := s.limit(ctx, OpChangePassword, map[Dimension]string{PerIP: client.IP, PerUser: user.ID})
	if err != nil {
		return nil, err
	}
	credential, err := s.store.Credential(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	match, _, err := s.passwords.Verify(ctx, current, credential.PasswordHash)
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
		// A compare-and-swap on the version the current password was
		// checked against: of two changes racing from one current
		// password only the first commits, and no change lands on a
		// credential it did not check.
		if err := tx.ChangeCredential(ctx, user.ID, credential.Version, hash); err != nil {
			return err
		}
		revoked, err = tx.RevokeSessions(ctx, user.ID, nil, now, now.Add(s.tokens.MaxLifetime()))
		if err != nil {
			return err
		}
		grant, err = s.startSession(ctx, tx, user, client, EventPasswordChanged)
		return err
	})
	if errors.Is(err, ErrCredentialChanged) {
		return nil, Invalid("currentPassword", "current password is incorrect")
	}
	if err != nil {
		return nil, err
	}
	s.remember(append(revoked, grant.ended...))
	return grant, nil
}
