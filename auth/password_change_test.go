package auth_test

import (
	"errors"
	"testing"

	"github.com/keycard/keycard/auth"
)

// A password change is what a user does who fears someone else signed in:
// every session ends, the caller's too, and the caller gets a new one.
func TestChangePasswordEndsEverySessionAndReturnsANewOne(t *testing.T) {
	f := newFixture(t)
	laptop := f.register("barbara", "open-sesame-42")
	intruder := f.login("barbara", "open-sesame-42")

	fresh, err := f.svc.ChangePassword(ctx, f.claims(laptop), "open-sesame-42", "a-new-passphrase-7", client)
	if err != nil {
		t.Fatal(err)
	}
	f.expectSignedOut(laptop)
	f.expectSignedOut(intruder)
	if fresh.Session.ID == laptop.Session.ID || fresh.User.ID != laptop.User.ID {
		t.Errorf("new grant for session %s of %s", fresh.Session.ID, fresh.User.ID)
	}
	f.expectSignedIn(fresh)

	if _, err := f.svc.Login(ctx, "barbara", "open-sesame-42", client); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("login with the old password: %v, want ErrInvalidCredentials", err)
	}
	f.login("barbara", "a-new-passphrase-7")
	if got := f.events(laptop.User.ID, auth.EventPasswordChanged); len(got) != 1 {
		t.Errorf("password_changed events: %d, want 1", len(got))
	}
}

func TestChangePasswordRefusals(t *testing.T) {
	tests := []struct {
		name, current, next, field string
	}{
		{"wrong current password", "open-sesame-43", "a-new-passphrase-7", "currentPassword"},
		{"new password too short", "open-sesame-42", "short", "newPassword"},
		{"new password is common", "open-sesame-42", "password123", "newPassword"},
		{"new password is the username", "open-sesame-42", "Barbara_L", "newPassword"},
		{"new password is the current one", "open-sesame-42", "open-sesame-42", "newPassword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			grant := f.register("barbara_l", "open-sesame-42")
			_, err := f.svc.ChangePassword(ctx, f.claims(grant), tt.current, tt.next, client)
			expectInvalid(t, err, tt.field)
			// Nothing changed: the session lives, the old password works.
			f.expectSignedIn(grant)
			f.login("barbara_l", "open-sesame-42")
		})
	}
}
