package auth_test

import (
	"testing"

	"github.com/keycard/keycard/auth"
)

func TestLogoutCurrentEndsOnlyTheCallersSession(t *testing.T) {
	f := newFixture(t)
	laptop := f.register("margaret", "open-sesame-42")
	phone := f.login("margaret", "open-sesame-42")
	if err := f.svc.Logout(ctx, f.claims(laptop), auth.LogoutCurrent, client); err != nil {
		t.Fatal(err)
	}
	f.expectSignedOut(laptop)
	f.expectSignedIn(phone)

	sessions, err := f.svc.Sessions(ctx, f.claims(phone))
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].ID != phone.Session.ID || !sessions[0].Current {
		t.Errorf("live sessions after logout: %+v, want only the phone's", sessions)
	}
}

func TestLogoutAllEndsEverySessionOfTheUser(t *testing.T) {
	f := newFixture(t)
	laptop := f.register("margaret", "open-sesame-42")
	phone := f.login("margaret", "open-sesame-42")
	someoneElse := f.register("katherine", "open-sesame-42")
	if err := f.svc.Logout(ctx, f.claims(phone), auth.LogoutAll, client); err != nil {
		t.Fatal(err)
	}
	f.expectSignedOut(laptop)
	f.expectSignedOut(phone)
	f.expectSignedIn(someoneElse)

	// Signing in again works, and only the new session is live.
	again := f.login("margaret", "open-sesame-42")
	sessions, err := f.svc.Sessions(ctx, f.claims(again))
	if err != nil || len(sessions) != 1 || sessions[0].ID != again.Session.ID {
		t.Fatalf("live sessions after logout all and a new login: %+v, %v", sessions, err)
	}
	logouts := f.events(laptop.User.ID, auth.EventLogout)
	if len(logouts) != 1 || logouts[0].Detail != "all sessions" {
		t.Errorf("logout events %+v, want one for all sessions", logouts)
	}
}

// A logout recorded by one process is honoured by another sharing the
// database once it has synced.
func TestLogoutReachesAnotherProcessOnSync(t *testing.T) {
	f := newFixture(t)
	grant := f.register("margaret", "open-sesame-42")
	other, otherRevocations := f.service(cheapArgon2)
	if _, err := other.Authenticate(ctx, "Bearer "+grant.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, f.claims(grant), auth.LogoutCurrent, client); err != nil {
		t.Fatal(err)
	}
	if err := otherRevocations.Sync(ctx, f.store); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Authenticate(ctx, "Bearer "+grant.AccessToken); auth.KindOf(err) != auth.KindUnauthenticated {
		t.Fatalf("other process after sync: %v, want the token refused", err)
	}
}
