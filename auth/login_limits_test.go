package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/ratelimit"
)

// The login ceiling over time, on the in-process limiter and the fixture's
// clock: it holds a distributed guesser, spares the owner at an address
// they have a session from, and refills at its rate.
func TestLoginCeilingSparesKnownAddressesAndRefills(t *testing.T) {
	f := newFixture(t)
	limits := auth.DefaultRateLimits()
	limits[auth.OpLogin][auth.PerUsername] = auth.Rate{Events: 2, Per: time.Hour}
	f.svc, f.revocations = f.service(cheapArgon2, func(o *auth.Options) {
		o.Limiter = ratelimit.NewMemory(f.clock.Now)
		o.RateLimits = limits
	})
	home := auth.Client{IP: "2001:db8:5:6::1", UserAgent: "owner"}
	if _, err := f.svc.Register(ctx, auth.RegisterInput{Username: "owner", Password: "open-sesame-42"}, home); err != nil {
		t.Fatal(err)
	}
	from := func(ip string) auth.Client { return auth.Client{IP: ip, UserAgent: "test"} }
	login := func(password string, c auth.Client) error {
		_, err := f.svc.Login(ctx, "owner", password, c)
		return err
	}
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		if err := login("wrong-guess-1", from(ip)); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("guess from %s: %v", ip, err)
		}
	}
	if err := login("wrong-guess-1", from("198.51.100.3")); auth.KindOf(err) != auth.KindRateLimited {
		t.Fatalf("third guess: %v, want RATE_LIMITED by the ceiling", err)
	}
	if err := login("open-sesame-42", from("198.51.100.4")); auth.KindOf(err) != auth.KindRateLimited {
		t.Fatalf("right password from a new address: %v, want RATE_LIMITED", err)
	}
	// Home, by its /64: the owner gets in.
	if err := login("open-sesame-42", from("2001:db8:5:6:aaaa::2")); err != nil {
		t.Fatalf("owner at home past the ceiling: %v", err)
	}
	// Half an hour later one of the two tokens is back.
	f.advance(30 * time.Minute)
	if err := login("open-sesame-42", from("198.51.100.4")); err != nil {
		t.Fatalf("after the ceiling refilled: %v", err)
	}
}
