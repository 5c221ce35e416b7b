package auth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
)

func TestRefreshRotatesTheRefreshToken(t *testing.T) {
	f := newFixture(t)
	first := f.register("linus", "open-sesame-42")
	f.advance(time.Minute)
	second, err := f.svc.Refresh(ctx, first.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh returned the tokens it was given")
	}
	if second.Session.ID != first.Session.ID || second.User.ID != first.User.ID {
		t.Errorf("rotation moved to session %s of %s, want %s of %s", second.Session.ID, second.User.ID, first.Session.ID, first.User.ID)
	}
	if !second.Session.ExpiresAt.Equal(f.clock.Now().Add(refreshTTL)) {
		t.Errorf("session expires %v, want a full refresh lifetime from now", second.Session.ExpiresAt)
	}
	if claims := f.claims(second); claims.SessionID != first.Session.ID {
		t.Errorf("new access token for session %s, want %s", claims.SessionID, first.Session.ID)
	}
	// The new token rotates in turn; the old access token stays valid
	// until it expires (rotation is not a logout).
	f.expectSignedIn(second)
	f.claims(first)
}

// Presenting a rotated-away refresh token means two parties hold the
// session, one of them a thief: the whole session ends, for both.
func TestRefreshReuseRevokesTheSession(t *testing.T) {
	f := newFixture(t)
	stolen := f.register("linus", "open-sesame-42")
	other := f.login("linus", "open-sesame-42")
	rotated, err := f.svc.Refresh(ctx, stolen.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := f.svc.Refresh(ctx, stolen.RefreshToken, client); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("reuse: %v, want ErrInvalidRefresh", err)
	}
	// The legitimate holder's newer tokens end with it, at once.
	f.expectSignedOut(rotated)
	if _, err := f.svc.Authenticate(ctx, "Bearer "+stolen.AccessToken); !errors.Is(err, auth.ErrTokenRevoked) {
		t.Errorf("original access token after reuse: %v, want ErrTokenRevoked", err)
	}
	// Only that session: the user's other session is untouched.
	f.expectSignedIn(other)

	reused := f.events(stolen.User.ID, auth.EventRefreshTokenReused)
	if len(reused) != 1 || reused[0].SessionID == nil || *reused[0].SessionID != stolen.Session.ID {
		t.Fatalf("refresh_token_reused events %+v, want one for session %s", reused, stolen.Session.ID)
	}
}

// With a reuse interval, the previous token still works briefly (two tabs
// refreshing at once); older tokens, or the previous one after the
// interval, are reuse.
func TestRefreshReuseInterval(t *testing.T) {
	const interval = 10 * time.Second
	withInterval := func(o *auth.Options) { o.RefreshReuseInterval = interval }

	t.Run("previous token within the interval", func(t *testing.T) {
		f := newFixture(t, withInterval)
		gen0 := f.register("linus", "open-sesame-42")
		gen1, err := f.svc.Refresh(ctx, gen0.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		f.advance(interval / 2)
		// The second tab, a moment late, still holds gen0.
		gen2, err := f.svc.Refresh(ctx, gen0.RefreshToken, client)
		if err != nil {
			t.Fatalf("previous token within the interval: %v", err)
		}
		if gen2.Session.ID != gen1.Session.ID || gen2.RefreshToken == gen1.RefreshToken {
			t.Fatalf("grace refresh gave session %s token %s", gen2.Session.ID, gen2.RefreshToken)
		}
		f.claims(gen1)
		f.expectSignedIn(gen2)
	})

	t.Run("token two generations back", func(t *testing.T) {
		f := newFixture(t, withInterval)
		gen0 := f.register("linus", "open-sesame-42")
		gen1, err := f.svc.Refresh(ctx, gen0.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		gen2, err := f.svc.Refresh(ctx, gen1.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(ctx, gen0.RefreshToken, client); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("token two generations back: %v, want ErrInvalidRefresh", err)
		}
		f.expectSignedOut(gen2)
	})

	t.Run("previous token after the interval", func(t *testing.T) {
		f := newFixture(t, withInterval)
		gen0 := f.register("linus", "open-sesame-42")
		gen1, err := f.svc.Refresh(ctx, gen0.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		f.advance(interval + time.Second)
		if _, err := f.svc.Refresh(ctx, gen0.RefreshToken, client); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("previous token after the interval: %v, want ErrInvalidRefresh", err)
		}
		f.expectSignedOut(gen1)
	})

	t.Run("no interval: any reuse", func(t *testing.T) {
		f := newFixture(t)
		gen0 := f.register("linus", "open-sesame-42")
		gen1, err := f.svc.Refresh(ctx, gen0.RefreshToken, client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(ctx, gen0.RefreshToken, client); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("immediate reuse without an interval: %v, want ErrInvalidRefresh", err)
		}
		f.expectSignedOut(gen1)
	})
}

func TestRefreshRefusesWhatIsNotALiveRefreshToken(t *testing.T) {
	f := newFixture(t)
	grant := f.register("linus", "open-sesame-42")
	for name, token := range map[string]string{
		"empty":                   "",
		"garbage":                 "kcr_not-a-token",
		"access token":            grant.AccessToken,
		"well-formed but unknown": "kcr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		if _, err := f.svc.Refresh(ctx, token, client); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Errorf("%s: %v, want ErrInvalidRefresh", name, err)
		}
	}
	// None of that counted as reuse of the real token.
	f.expectSignedIn(grant)

	expiring := f.login("linus", "open-sesame-42")
	f.advance(refreshTTL)
	if _, err := f.svc.Refresh(ctx, expiring.RefreshToken, client); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Errorf("expired refresh token: %v, want ErrInvalidRefresh", err)
	}
}

// Rotation checks the token and advances the session in one transaction
// with the session row locked: of racing refreshes of one token exactly one
// rotates it, and every other is reuse, which ends the session.
func TestConcurrentRefreshesOfOneTokenRotateItOnce(t *testing.T) {
	f := newFixture(t)
	grant := f.register("linus", "open-sesame-42")
	const racers = 8
	results := make(chan error, racers)
	grants := make(chan *auth.Grant, racers)
	var start sync.WaitGroup
	start.Add(1)
	for range racers {
		go func() {
			start.Wait()
			g, err := f.svc.Refresh(ctx, grant.RefreshToken, client)
			if err == nil {
				grants <- g
			}
			results <- err
		}()
	}
	start.Done()
	succeeded := 0
	for range racers {
		switch err := <-results; {
		case err == nil:
			succeeded++
		case !errors.Is(err, auth.ErrInvalidRefresh):
			t.Errorf("racing refresh: %v", err)
		}
	}
	if succeeded != 1 {
		t.Fatalf("%d racing refreshes succeeded, want exactly 1", succeeded)
	}
	f.expectSignedOut(<-grants)
}
