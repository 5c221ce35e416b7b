package passkey_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/passkey"
	"github.com/keycard/keycard/passkeytest"
)

const origin = "https://app.example.com"

func newRP(t *testing.T) *passkey.RelyingParty {
	t.Helper()
	rp, err := passkey.New(passkey.Config{RPID: "example.com", Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

var alice = auth.PasskeyUser{Handle: []byte("0123456789abcdef"), Name: "alice"}

// register runs a registration and returns the stored passkey as auth
// would keep it.
func register(t *testing.T, rp *passkey.RelyingParty, a *passkeytest.Authenticator, registered ...*auth.Passkey) *auth.Passkey {
	t.Helper()
	c, err := rp.BeginRegistration(alice, registered)
	if err != nil {
		t.Fatal(err)
	}
	response, _, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rp.FinishRegistration(alice, c.State, response)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	p.ID = "passkey-" + a.Credentials()[len(a.Credentials())-1].ID()
	return p
}

func login(t *testing.T, rp *passkey.RelyingParty, a *passkeytest.Authenticator, handle []byte, registered []*auth.Passkey) (*auth.VerifiedAssertion, error) {
	t.Helper()
	c, err := rp.BeginLogin(handle, registered)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Get(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := rp.ParseAssertion(response)
	if err != nil {
		t.Fatalf("ParseAssertion: %v", err)
	}
	return rp.VerifyAssertion(alice, registered, c.State, assertion)
}

func TestNewRefusesOriginsOffTheRPID(t *testing.T) {
	for _, o := range []string{"https://example.org", "https://notexample.com", "app.example.com", "https://app.example.com/path"} {
		if _, err := passkey.New(passkey.Config{RPID: "example.com", Origins: []string{o}}); err == nil {
			t.Errorf("origin %s accepted for RP ID example.com", o)
		}
	}
	if _, err := passkey.New(passkey.Config{RPID: "example.com"}); err == nil {
		t.Error("no origins accepted")
	}
}

func TestOptionsAreThePublicKeyMember(t *testing.T) {
	rp := newRP(t)
	for name, begin := range map[string]func() (auth.Ceremony, error){
		"creation": func() (auth.Ceremony, error) { return rp.BeginRegistration(alice, nil) },
		"request":  func() (auth.Ceremony, error) { return rp.BeginLogin(nil, nil) },
	} {
		c, err := begin()
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := json.Unmarshal([]byte(c.Options), &o); err != nil {
			t.Fatal(err)
		}
		if _, wrapped := o["publicKey"]; wrapped || o["challenge"] == nil {
			t.Errorf("%s options are not the bare publicKey member: %s", name, c.Options)
		}
		if strings.Contains(c.Options, `"expires"`) || len(c.State) == 0 {
			t.Errorf("%s: state and options mixed up", name)
		}
	}
}

// The record keeps what verification needs; the counter the authenticator
// reports comes back as is, even when it did not grow (go-webauthn only
// flags that), for auth to refuse.
func TestVerifyAssertionReportsTheAuthenticatorsCounter(t *testing.T) {
	rp := newRP(t)
	key := passkeytest.New(origin)
	p := register(t, rp, key)
	clone := key.Clone()

	verified, err := login(t, rp, key, alice.Handle, []*auth.Passkey{p})
	if err != nil || verified.SignCount != 1 {
		t.Fatalf("login: %+v, %v", verified, err)
	}
	p.SignCount, p.Record = verified.SignCount, verified.Record
	verified, err = login(t, rp, clone, nil, []*auth.Passkey{p})
	if err != nil {
		t.Fatalf("the relying party refused what auth must decide: %v", err)
	}
	if verified.SignCount != 1 {
		t.Fatalf("reported counter %d, want the clone's 1", verified.SignCount)
	}
}

func TestExcludedCredentialsAreListed(t *testing.T) {
	rp := newRP(t)
	phone := passkeytest.New(origin)
	p := register(t, rp, phone)
	c, err := rp.BeginRegistration(alice, []*auth.Passkey{p})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := phone.Create(c.Options); err != passkeytest.ErrExcluded {
		t.Fatalf("Create with the phone's passkey excluded: %v", err)
	}
}

func TestUnreadableRecordIsAnError(t *testing.T) {
	rp := newRP(t)
	p := register(t, rp, passkeytest.New(origin))
	for _, record := range []string{"", "{", `{"v":2,"publicKey":"AA"}`, `{"v":1}`} {
		p.Record = []byte(record)
		if _, err := rp.BeginLogin(alice.Handle, []*auth.Passkey{p}); err == nil {
			t.Errorf("record %q read", record)
		}
	}
}
