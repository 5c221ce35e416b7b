package auth

import (
	"context"
	"errors"
	"time"
)

const (
	// failureWarnAt consecutive failed logins for one name or from one
	// address within failureWindow are logged at WARN.
	failureWarnAt = 5
	failureWindow = 15 * time.Minute
)

// Login checks a username and password. An unknown user and a wrong password
// fail the same way and take the same time.
func (s *Service) Login(ctx context.Context, username, password string, client Client) (*Grant, error) {
	if err := checkPasswordSize("password", password); err != nil {
		return nil, err
	}
	// A queue of hashes that cannot be served before this request's
	// deadline answers now, at no cost, rather than holding a connection
	// (a credential-stuffing storm from many addresses, which per-address
	// limits do not stop, must not take everything down with it).
	if err := s.passwords.Admit(ctx); err != nil {
		s.observe.Login("overloaded")
		return nil, err
	}
	key, ok := UsernameKey(username)
	// Limited before anything is hashed (login_limits.go).
	spent, err := s.limitLogin(ctx, username, key, ok, client)
	if err != nil {
		s.observe.Login("rate_limited")
		return nil, err
	}
	if !ok {
		return nil, s.failLogin(ctx, username, "", password, client)
	}
	user, credential, err := s.store.UserByUsername(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, s.failLogin(ctx, username, "", password, client)
	}
	if err != nil {
		return nil, err
	}
	match, rehash, err := s.passwords.Verify(ctx, password, credential.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !match {
		return nil, s.failLogin(ctx, username, user.ID, "", client)
	}
	var upgraded string
	if rehash {
		upgraded = s.upgradeHash(ctx, user.ID, password)
	}
	s.failures.reset("username:" + key)
	s.limits.refund(ctx, spent) // a successful login is not a guess
	s.observe.Login("success")
	var grant *Grant
	err = s.store.Tx(ctx, func(tx Store) error {
		// The password was checked against credential; a change that
		// committed since (a password change ending every session) must
		// not be followed by a session opened with the old password.
		if err := stillCredential(ctx, tx, user.ID, credential.Version); err != nil {
			return err
		}
		if upgraded != "" {
			if err := tx.RehashPassword(ctx, user.ID, credential.Version, upgraded); err != nil {
				return err
			}
		}
		grant, err = s.startSession(ctx, tx, user, client, EventLoginSucceeded)
		return err
	})
	if errors.Is(err, ErrCredentialChanged) {
		return nil, ErrInvalidCredentials // the password checked is no longer the password
	}
	if err != nil {
		return nil, err
	}
	s.remember(grant.ended)
	return grant, nil
}

// failLogin records a failed login and returns the one error every failed
// login gets. For a user that does not exist (userID empty) it first spends
// a password verification, so that case takes as long as a wrong password.
func (s *Service) failLogin(ctx context.Context, username, userID, password string, client Client) error {
	if userID == "" {
		if err := s.passwords.VerifyDummy(ctx, password); err != nil {
			return err
		}
	}
	s.observe.Login("failure")
	now := s.clock()
	e := loginFailedEvent(userID, username, client, now)
	if err := s.store.RecordEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "audit event not recorded", "kind", e.Kind, "err", err)
	}
	watched := map[string]string{"ip": client.IP}
	if key, ok := UsernameKey(username); ok {
		watched["username"] = key
	}
	for by, value := range watched {
		if n := s.failures.hit(by+":"+value, now); n == failureWarnAt {
			s.log.WarnContext(ctx, "repeated login failures", "by", by, "user_id", userID, "ip", client.IP,
				"failures", n, "window", failureWindow)
		}
	}
	return ErrInvalidCredentials
}

// upgradeHash re-hashes with the current parameters, for the login's
// transaction to store only if the credential is still the one checked
// (a rehash landing after a password change would bring the old password
// back). A failure is logged and the login still succeeds: the old hash is
// still valid.
func (s *Service) upgradeHash(ctx context.Context, userID, password string) string {
	hash, err := s.passwords.Hash(ctx, password)
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", userID, "err", err)
		return ""
	}
	return hash
}
