package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keycard/keycard/auth"
)

func TestRegisterSignsTheNewAccountIn(t *testing.T) {
	f := newFixture(t)
	email := "ada@example.com"
	grant, err := f.svc.Register(ctx, auth.RegisterInput{Username: "Ada", Password: "open-sesame-42", Email: &email}, client)
	if err != nil {
		t.Fatal(err)
	}
	if grant.User.Username != "Ada" || grant.User.Email == nil || *grant.User.Email != email || len(grant.User.Roles) != 0 {
		t.Errorf("user %+v", grant.User)
	}
	if !strings.HasPrefix(grant.RefreshToken, "kcr_") || grant.ExpiresIn != accessTTL || grant.Session.UserID != grant.User.ID {
		t.Errorf("grant %+v", grant)
	}
	claims := f.claims(grant)
	if claims.UserID() != grant.User.ID || claims.SessionID != grant.Session.ID {
		t.Errorf("claims sub %s sid %s, want %s %s", claims.UserID(), claims.SessionID, grant.User.ID, grant.Session.ID)
	}
	me, err := f.svc.Me(ctx, claims)
	if err != nil || me.ID != grant.User.ID {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	if got := f.events(grant.User.ID, auth.EventRegister); len(got) != 1 || got[0].IP != client.IP {
		t.Errorf("register events %+v, want one from %s", got, client.IP)
	}
}

func TestRegisterValidatesInputBeforeCreatingAnything(t *testing.T) {
	bad := "not an address"
	tests := []struct {
		name  string
		in    auth.RegisterInput
		field string
	}{
		{"username too short", auth.RegisterInput{Username: "ab", Password: "open-sesame-42"}, "username"},
		{"username with a space", auth.RegisterInput{Username: "ada lovelace", Password: "open-sesame-42"}, "username"},
		{"password too short", auth.RegisterInput{Username: "ada", Password: "short"}, "password"},
		{"password is the username", auth.RegisterInput{Username: "ada_lovelace", Password: "ADA_LOVELACE"}, "password"},
		{"common password", auth.RegisterInput{Username: "ada", Password: "password123"}, "password"},
		{"bad email", auth.RegisterInput{Username: "ada", Password: "open-sesame-42", Email: &bad}, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.Register(ctx, tt.in, client)
			expectInvalid(t, err, tt.field)
			// Nothing was stored: the name is still free.
			if key, ok := auth.UsernameKey(tt.in.Username); ok {
				if _, _, err := f.store.UserByUsername(ctx, key); !errors.Is(err, auth.ErrNotFound) {
					t.Errorf("user %q exists after a refused register: %v", tt.in.Username, err)
				}
			}
		})
	}
}

func TestRegisterRefusesTakenUsernameOrEmail(t *testing.T) {
	f := newFixture(t)
	email := "ada@example.com"
	if _, err := f.svc.Register(ctx, auth.RegisterInput{Username: "Ada", Password: "open-sesame-42", Email: &email}, client); err != nil {
		t.Fatal(err)
	}
	otherCase := "ADA@example.com"
	tests := []struct {
		name string
		in   auth.RegisterInput
		want *auth.Error
	}{
		{"same username", auth.RegisterInput{Username: "Ada", Password: "open-sesame-42"}, auth.ErrUsernameTaken},
		{"username in another case", auth.RegisterInput{Username: "aDA", Password: "open-sesame-42"}, auth.ErrUsernameTaken},
		{"same email", auth.RegisterInput{Username: "grace", Password: "open-sesame-42", Email: &email}, auth.ErrEmailTaken},
		{"email in another case", auth.RegisterInput{Username: "grace", Password: "open-sesame-42", Email: &otherCase}, auth.ErrEmailTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Register(ctx, tt.in, client)
			if !errors.Is(err, tt.want) || auth.KindOf(err) != auth.KindConflict {
				t.Fatalf("Register = %v, want %v", err, tt.want)
			}
		})
	}
	// The first account is intact and still the only "ada".
	f.login("ada", "open-sesame-42")
}
