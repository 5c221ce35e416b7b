package auth

import "context"

// RegisterInput is what a new account is made from.
type RegisterInput struct {
	Username string
	Password string
	Email    *string
}

// Register creates an account and signs it in. Input is validated before
// the rate limit is spent and before anything is hashed, so a typo costs
// neither.
func (s *Service) Register(ctx context.Context, in RegisterInput, client Client) (*Grant, error) {
	if err := ValidateUsername(in.Username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(in.Password, in.Username); err != nil {
		return nil, err
	}
	if in.Email != nil {
		if _, err := NormalizeEmail(*in.Email); err != nil {
			return nil, err
		}
	}
	if err := s.passwords.Admit(ctx); err != nil {
		return nil, err
	}
	if _, err := s.limit(ctx, OpRegister, map[Dimension]string{PerIP: client.IP}); err != nil {
		return nil, err
	}
	hash, err := s.passwords.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	user := &User{ID: newID(), Username: in.Username, Email: in.Email, Roles: []string{}, CreatedAt: now}
	var grant *Grant
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.CreateUser(ctx, user, hash); err != nil {
			return err
		}
		grant, err = s.startSession(ctx, tx, user, client, EventRegister)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.remember(grant.ended)
	return grant, nil
}
