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
	user, hash, err := s.store.UserByUsername(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, s.failLogin(ctx, username, "", password, client)
	}
	if err != nil {
		return nil, err
	}
	match, rehash, err := s.passwords.Verify(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	if !match {
		return nil, s.failLogin(ctx, username, user.ID, "", client)
	}
	if rehash {
		s.upgradeHash(ctx, user.ID, password)
	}
	s.failures.reset("username:" + key)
	s.limits.refund(ctx, spent) // a successful login is not a guess
	s.observe.Login("success")
	var grant *Grant
	err = s.store.Tx(ctx, func(tx Store) error {
		grant, err = s.startSession(ctx, tx, user, client, EventLoginSucceeded)
		return err
	})
	return grant, err
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

// upgradeHash re-hashes with the current parameters. A failure is logged and
// the login still succeeds: the old hash is still valid.
func (s *Service) upgradeHash(ctx context.Context, userID, password string) {
	hash, err := s.passwords.Hash(ctx, password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, userID, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", userID, "err", err)
	}
}
