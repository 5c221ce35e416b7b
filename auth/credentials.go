package auth

import (
	"context"
	"errors"
)

// A password check and what acts on it (a session opened, a hash
// rewritten, a password replaced) are two steps, the slow hash between
// them, and a credential change may commit in between: an attacker who
// knows the old password keeps logging in while its owner changes it. So
// every credential carries a version, bumped by each change, read with the
// hash and checked again inside the transaction that acts on the check.

// stillCredential is the in-transaction half of a password check: it locks
// the user's row (Store.Credential) and fails with ErrCredentialChanged
// unless the credential is still at the version that was checked, so that
// no change can commit until tx does.
func stillCredential(ctx context.Context, tx Store, userID string, checked int64) error {
	current, err := tx.Credential(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return ErrCredentialChanged // the user went away since the check
	}
	if err != nil {
		return err
	}
	if current.Version != checked {
		return ErrCredentialChanged
	}
	return nil
}
