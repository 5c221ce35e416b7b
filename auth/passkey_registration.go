package auth

import (
	"context"
	"errors"
)

// BeginPasskeyRegistration starts adding a passkey to the caller's account:
// creation options for a discoverable credential with user verification,
// excluding the passkeys the user already has (an authenticator holding one
// of them declines instead of making a second).
func (s *Service) BeginPasskeyRegistration(ctx context.Context, c *Claims, client Client) (*PasskeyCeremony, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	user, err := s.user(ctx, s.store, c.UserID())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotAuthenticated
	}
	if err != nil {
		return nil, err
	}
	// Each begun ceremony is a row: a token holder must not fill the
	// table.
	if _, err := s.limit(ctx, OpPasskeyRegistration, map[Dimension]string{PerIP: client.IP, PerUser: user.ID}); err != nil {
		return nil, err
	}
	registered, err := s.store.Passkeys(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	if len(registered) >= MaxPasskeysPerUser {
		return nil, ErrTooManyPasskeys
	}
	ceremony, err := rp.BeginRegistration(passkeyUser(user), registered)
	if err != nil {
		return nil, Internal(err)
	}
	return s.beginCeremony(ctx, PasskeyRegistration, user.ID, ceremony)
}

// FinishPasskeyRegistration checks the browser's new credential against
// the caller's challenge and stores it as a passkey named name. The
// challenge is spent whatever the outcome; one of another user is unknown
// to the caller.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, c *Claims, challengeID, response string, name *string, client Client) (*Passkey, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	label, err := passkeyName(name)
	if err != nil {
		return nil, err
	}
	if err := checkCredentialJSON(response); err != nil {
		return nil, err
	}
	userID := c.UserID()
	challenge, err := s.takeChallenge(ctx, challengeID, PasskeyRegistration, userID)
	if err != nil {
		return nil, err
	}
	user, err := s.user(ctx, s.store, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotAuthenticated
	}
	if err != nil {
		return nil, err
	}
	passkey, err := rp.FinishRegistration(passkeyUser(user), challenge.State, response)
	if err != nil {
		return nil, s.refusePasskey(ctx, "registration", userID, err)
	}
	now := s.clock()
	passkey.ID = newID()
	passkey.UserID = userID
	passkey.Name = label
	passkey.CreatedAt = now
	passkey.LastUsedAt = nil
	err = s.store.Tx(ctx, func(tx Store) error {
		// Locks the user's row, so that concurrent registrations count
		// each other against the cap.
		if _, err := tx.Credential(ctx, userID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return ErrNotAuthenticated
			}
			return err
		}
		registered, err := tx.Passkeys(ctx, userID)
		if err != nil {
			return err
		}
		if len(registered) >= MaxPasskeysPerUser {
			return ErrTooManyPasskeys
		}
		if err := tx.CreatePasskey(ctx, passkey); err != nil {
			return err
		}
		e := newEvent(EventPasskeyAdded, userID, user.Username, c.SessionID, client, now)
		e.Detail = passkeyDetail(passkey)
		return tx.RecordEvent(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return passkey, nil
}

// refusePasskey logs why the relying party refused a ceremony's answer and
// returns the one error every such refusal gets: the reason helps an
// attacker probe (which check failed), and a user can do nothing with it.
func (s *Service) refusePasskey(ctx context.Context, ceremony, userID string, reason error) error {
	s.log.InfoContext(ctx, "passkey answer refused", "ceremony", ceremony, "user_id", userID, "reason", reason)
	return ErrPasskeyRefused.wrap(reason)
}
