package auth_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keycard/keycard/auth"
)

func TestRateLimitOverridesReplaceAddAndLift(t *testing.T) {
	limits := auth.DefaultRateLimits()
	err := limits.Override([]auth.RateLimitOverride{
		{Operation: "login", Dimension: "username", Rate: auth.Rate{Events: 3, Per: time.Minute}},
		{Operation: "refresh", Dimension: "user", Rate: auth.Rate{Events: 50, Per: time.Hour}},
		{Operation: "register", Dimension: "ip", Rate: auth.Rate{Events: 0, Per: time.Minute}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := auth.DefaultRateLimits()
	want[auth.OpLogin][auth.PerUsername] = auth.Rate{Events: 3, Per: time.Minute}
	want[auth.OpRefresh][auth.PerUser] = auth.Rate{Events: 50, Per: time.Hour}
	delete(want[auth.OpRegister], auth.PerIP)
	if !reflect.DeepEqual(limits, want) {
		t.Fatalf("limits after overrides:\n%v\nwant\n%v", limits, want)
	}
}

// auth owns the names: an override of something it does not limit is a
// mistake to report with the names it knows, never a limit silently lost.
func TestRateLimitOverridesRefuseUnknownNames(t *testing.T) {
	limits := auth.DefaultRateLimits()
	err := limits.Override([]auth.RateLimitOverride{
		{Operation: "login", Dimension: "username", Rate: auth.Rate{Events: 3, Per: time.Minute}},
		{Operation: "logon", Dimension: "ip", Rate: auth.Rate{Events: 3, Per: time.Minute}},
		{Operation: "login", Dimension: "email", Rate: auth.Rate{Events: 3, Per: time.Minute}},
	})
	if err == nil {
		t.Fatal("unknown operation and dimension accepted")
	}
	for _, want := range []string{
		`logon.ip: unknown operation "logon" (login, register, refresh, changePassword, revoke, passkeyLogin, passkeyRegistration)`,
		`login.email: unknown dimension "email" (ip, username, username_ip, user)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !reflect.DeepEqual(limits, auth.DefaultRateLimits()) {
		t.Errorf("a refused list was partly applied: %v", limits)
	}
}
