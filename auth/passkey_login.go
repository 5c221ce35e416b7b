package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// BeginPasskeyLogin starts a passkey login. With a username whose account
// has passkeys, the options list them (allowCredentials); without one, or
// for a name that has none or does not exist, they list nothing, so the
// browser offers the discoverable credentials it holds for keycard. A name
// nobody has answers exactly as one without passkeys does, and its
// challenge is bound to a random id, so no passkey can finish it.
func (s *Service) BeginPasskeyLogin(ctx context.Context, username string, client Client) (*PasskeyCeremony, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	// Unauthenticated and each a row: limited per address before
	// anything is read.
	if _, err := s.limit(ctx, OpPasskeyLogin, map[Dimension]string{PerIP: client.IP}); err != nil {
		return nil, err
	}
	var (
		userID     string
		handle     []byte
		registered []*Passkey
	)
	if username != "" {
		userID = uuid.NewString() // nobody's, unless the name has passkeys
		if key, ok := UsernameKey(username); ok {
			// One query whether or not the name exists.
			if registered, err = s.store.PasskeysByUsername(ctx, key); err != nil {
				return nil, err
			}
		}
		if len(registered) > 0 {
			userID = registered[0].UserID
			handle = passkeyHandle(userID)
		}
	}
	ceremony, err := rp.BeginLogin(handle, registered)
	if err != nil {
		return nil, Internal(err)
	}
	return s.beginCeremony(ctx, PasskeyLogin, userID, ceremony)
}

// FinishPasskeyLogin checks the browser's assertion against the login
// challenge and signs its passkey's user in: a complete login, amr "hwk",
// no second factor asked for. The challenge is spent whatever the outcome,
// so of two answers to one challenge at most one signs in. A signature
// counter that did not grow (a cloned authenticator; 0 on both sides is
// a synced passkey, which keeps none) is refused and audited.
func (s *Service) FinishPasskeyLogin(ctx context.Context, challengeID, response string, client Client) (*Grant, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	if err := checkCredentialJSON(response); err != nil {
		return nil, err
	}
	challenge, err := s.takeChallenge(ctx, challengeID, PasskeyLogin, "")
	if err != nil {
		return nil, err
	}
	assertion, err := rp.ParseAssertion(response)
	if err != nil {
		return nil, s.failPasskeyLogin(ctx, "", err, client)
	}
	passkey, err := s.store.PasskeyByCredentialID(ctx, assertion.CredentialID())
	if errors.Is(err, ErrNotFound) {
		return nil, s.failPasskeyLogin(ctx, "", errors.New("no passkey has this credential id (removed, or never registered)"), client)
	}
	if err != nil {
		return nil, err
	}
	userID := passkey.UserID
	if challenge.UserID != "" && challenge.UserID != userID {
		return nil, s.failPasskeyLogin(ctx, userID, errors.New("the passkey is not one of the user the login was begun for"), client)
	}
	if h := assertion.UserHandle(); len(h) > 0 && !bytes.Equal(h, passkeyHandle(userID)) {
		return nil, s.failPasskeyLogin(ctx, userID, errors.New("the user handle is not the passkey's user's"), client)
	}
	user, err := s.store.UserByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, s.failPasskeyLogin(ctx, "", errors.New("the passkey's user is gone"), client)
	}
	if err != nil {
		return nil, err
	}
	registered, err := s.store.Passkeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	verified, err := rp.VerifyAssertion(passkeyUser(user), registered, challenge.State, assertion)
	if err != nil {
		return nil, s.failPasskeyLogin(ctx, userID, err, client)
	}
	if signCountRegressed(passkey.SignCount, verified.SignCount) {
		return nil, s.signCountRegressed(ctx, passkey, verified.SignCount, client)
	}

	var grant *Grant
	err = s.store.Tx(ctx, func(tx Store) error {
		// Locks the user's row: a removal of the passkey, or any other
		// credential change, commits before this login or after it.
		if _, err := tx.Credential(ctx, userID); err != nil {
			return err
		}
		// The counter is compared again in the UPDATE itself: of two
		// assertions racing with one counter value, only one is written.
		if err := tx.UsePasskey(ctx, passkey.ID, verified.SignCount, verified.Record, s.clock()); err != nil {
			return err
		}
		// Issue 11 (disabled accounts): the ACCOUNT_DISABLED check of a
		// sign-in goes here, under the lock on the user's row.
		grant, err = s.startSession(ctx, tx, user, client, EventPasskeyLogin)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		// The user or the passkey went away since the check, or another
		// login with this counter value committed first.
		return nil, s.failPasskeyLogin(ctx, userID, errors.New("the passkey was removed, or its counter moved, during the login"), client)
	}
	if err != nil {
		return nil, err
	}
	s.observe.PasskeyLogin("success")
	s.remember(grant.ended)
	return grant, nil
}

// signCountRegressed applies WebAuthn Level 3 §7.2 step 21: when either
// counter is nonzero the new one must be greater than the stored one.
func signCountRegressed(stored, reported uint32) bool {
	return (stored != 0 || reported != 0) && reported <= stored
}

// failPasskeyLogin records a refused passkey login (as a failed login of
// userID, when the passkey named one) and returns the error every refusal
// gets.
func (s *Service) failPasskeyLogin(ctx context.Context, userID string, reason error, client Client) error {
	s.observe.PasskeyLogin("failure")
	now := s.clock()
	if userID != "" {
		e := newEvent(EventLoginFailed, userID, "", "", client, now)
		e.Detail = "passkey not verified"
		if err := s.store.RecordEvent(ctx, e); err != nil {
			s.log.WarnContext(ctx, "audit event not recorded", "kind", e.Kind, "err", err)
		}
	}
	return s.refusePasskey(ctx, "login", userID, reason)
}

// signCountRegressed refuses an assertion whose counter did not grow:
// two authenticators hold the credential's key, and the one answering now
// may be the copy. The passkey stays registered (the genuine
// authenticator's next, higher count still signs in); the owner sees the
// event in the audit log and may remove it.
func (s *Service) signCountRegressed(ctx context.Context, p *Passkey, reported uint32, client Client) error {
	s.observe.PasskeyLogin("sign_count_regressed")
	now := s.clock()
	e := newEvent(EventPasskeySignCountRegressed, p.UserID, "", "", client, now)
	e.Detail = clip(fmt.Sprintf("%s: counter %d after %d", passkeyDetail(p), reported, p.SignCount), 255)
	if err := s.store.RecordEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "audit event not recorded", "kind", e.Kind, "err", err)
	}
	s.log.WarnContext(ctx, "passkey signature counter did not grow: a cloned authenticator may be in use",
		"user_id", p.UserID, "passkey_id", p.ID, "stored", p.SignCount, "reported", reported, "ip", client.IP)
	return ErrPasskeyRefused
}
