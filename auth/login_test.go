package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keycard/keycard/auth"
)

func TestLoginWithTheRightPasswordStartsANewSession(t *testing.T) {
	f := newFixture(t)
	reg := f.register("Grace", "open-sesame-42")
	grant := f.login("GRACE", "open-sesame-42") // usernames ignore case
	if grant.User.ID != reg.User.ID || grant.User.Username != "Grace" {
		t.Errorf("login user %+v, want the registered one", grant.User)
	}
	if grant.Session.ID == reg.Session.ID || grant.RefreshToken == reg.RefreshToken {
		t.Error("login reused the register session")
	}
	f.expectSignedIn(grant)
	f.expectSignedIn(reg) // a login does not end other sessions
	if got := f.events(reg.User.ID, auth.EventLoginSucceeded); len(got) != 1 {
		t.Errorf("login_succeeded events: %d, want 1", len(got))
	}
}

// A wrong password and an unknown user give the same error, so the answer
// does not tell which names exist.
func TestLoginWrongPasswordFailsLikeUnknownUser(t *testing.T) {
	f := newFixture(t)
	f.register("grace", "open-sesame-42")
	attempts := []struct{ name, username, password string }{
		{"wrong password", "grace", "open-sesame-43"},
		{"unknown user", "hopper", "open-sesame-42"},
		{"impossible name", "g", "open-sesame-42"},
		{"empty password", "grace", ""},
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			grant, err := f.svc.Login(ctx, a.username, a.password, client)
			if grant != nil || !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("Login = %v, %v; want ErrInvalidCredentials", grant, err)
			}
			if err.Error() != auth.ErrInvalidCredentials.Message {
				t.Errorf("message %q differs from the one every failed login gets", err.Error())
			}
		})
	}
	failed, err := f.store.Events(ctx, auth.EventFilter{Kind: auth.EventLoginFailed, Limit: 10})
	if err != nil || len(failed) != len(attempts) {
		t.Fatalf("login_failed events: %d (%v), want %d", len(failed), err, len(attempts))
	}
	for _, e := range failed {
		if strings.Contains(e.Detail, "open-sesame") || strings.Contains(e.Username, "open-sesame") {
			t.Errorf("audit event holds a password: %+v", e)
		}
	}
}

// A hash made with other parameters than the current ones is replaced on
// the next successful login, while the plaintext is at hand.
func TestLoginRehashesAPasswordHashedWithOldParameters(t *testing.T) {
	f := newFixture(t)
	reg := f.register("grace", "open-sesame-42")
	before, err := f.store.Credential(ctx, reg.User.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The same database, served with stronger parameters.
	stronger := cheapArgon2
	stronger.MemoryKiB, stronger.Iterations = 128, 2
	upgraded, _ := f.service(stronger)
	if _, err := upgraded.Login(ctx, "grace", "open-sesame-42", client); err != nil {
		t.Fatal(err)
	}
	after, err := f.store.Credential(ctx, reg.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.PasswordHash == before.PasswordHash || !strings.Contains(after.PasswordHash, "m=128,t=2,p=1") {
		t.Fatalf("hash after login %q, want one with m=128,t=2 replacing %q", after.PasswordHash, before.PasswordHash)
	}
	// The same password in a new hash is not a new credential: sessions
	// checked against the old hash stay valid.
	if after.Version != before.Version {
		t.Errorf("rehash moved the credential version from %d to %d", before.Version, after.Version)
	}
	// The new hash verifies, and a current hash is left alone.
	if _, err := upgraded.Login(ctx, "grace", "open-sesame-42", client); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.store.Credential(ctx, reg.User.ID); again != after {
		t.Error("a hash with the current parameters was rehashed")
	}
	// A wrong password never rewrites the hash.
	if _, err := f.svc.Login(ctx, "grace", "wrong-password-1", client); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if again, _ := f.store.Credential(ctx, reg.User.ID); again != after {
		t.Error("a failed login rewrote the hash")
	}
}
