package passkeytest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keycard/keycard/passkeytest"
)

// These tests check the software authenticator against the WebAuthn
// library keycard verifies with, through its JSON parsing: everything it
// makes must verify, and every knob must make the library refuse (or, for
// a sign-count regression, flag) what a relying party must not accept.

const (
	origin = "http://localhost:8080"
	rpID   = "localhost"
)

type user struct {
	id          []byte
	name        string
	credentials []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// store saves a credential after a ceremony, as keycard's store would.
func (u *user) store(cred *webauthn.Credential) {
	for i := range u.credentials {
		if bytes.Equal(u.credentials[i].ID, cred.ID) {
			u.credentials[i] = *cred
			return
		}
	}
	u.credentials = append(u.credentials, *cred)
}

func newUser(name string) *user {
	return &user{id: []byte("user-id-of-" + name), name: name}
}

func newRP(t *testing.T, configure ...func(*webauthn.Config)) *webauthn.WebAuthn {
	t.Helper()
	config := &webauthn.Config{RPID: rpID, RPDisplayName: "keycard", RPOrigins: []string{origin}}
	for _, f := range configure {
		f(config)
	}
	rp, err := webauthn.New(config)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// register runs a registration through ParseCredentialCreationResponseBody
// and CreateCredential, as keycard's finishPasskeyRegistration will.
func register(t *testing.T, rp *webauthn.WebAuthn, a *passkeytest.Authenticator, u *user, regOpts []webauthn.RegistrationOption, opts ...passkeytest.Option) (*webauthn.Credential, error) {
	t.Helper()
	creation, session, err := rp.BeginRegistration(u, regOpts...)
	if err != nil {
		t.Fatal(err)
	}
	response, _, err := a.Create(marshal(t, creation), opts...)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(strings.NewReader(response))
	if err != nil {
		t.Fatalf("ParseCredentialCreationResponseBody: %v", describe(err))
	}
	cred, err := rp.CreateCredential(u, *session, parsed)
	if err == nil {
		u.store(cred)
	}
	return cred, err
}

var discoverable = []webauthn.RegistrationOption{webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)}

func mustRegister(t *testing.T, rp *webauthn.WebAuthn, a *passkeytest.Authenticator, u *user, regOpts ...webauthn.RegistrationOption) *webauthn.Credential {
	t.Helper()
	cred, err := register(t, rp, a, u, regOpts)
	if err != nil {
		t.Fatalf("registration refused: %v", describe(err))
	}
	return cred
}

// login runs a login for a known user (allowCredentials) through
// ParseCredentialRequestResponseBody and ValidateLogin.
func login(t *testing.T, rp *webauthn.WebAuthn, a *passkeytest.Authenticator, u *user, loginOpts []webauthn.LoginOption, opts ...passkeytest.Option) (*webauthn.Credential, error) {
	t.Helper()
	assertion, session, err := rp.BeginLogin(u, loginOpts...)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Get(marshal(t, assertion), opts...)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(strings.NewReader(response))
	if err != nil {
		t.Fatalf("ParseCredentialRequestResponseBody: %v", describe(err))
	}
	cred, err := rp.ValidateLogin(u, *session, parsed)
	if err == nil {
		u.store(cred)
	}
	return cred, err
}

// describe adds the library's detail, which its Error() leaves out.
func describe(err error) string {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return perr.Error() + ": " + perr.Details + ": " + perr.DevInfo
	}
	return err.Error()
}

func wantRefused(t *testing.T, err error, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want refused (%s)", detail)
	}
	if got := describe(err); !strings.Contains(got, detail) {
		t.Fatalf("refused with %q, want %q", got, detail)
	}
}

func TestRegistrationAndLoginThroughFinishFunctions(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")

	creation, session, err := rp.BeginRegistration(alice, discoverable...)
	if err != nil {
		t.Fatal(err)
	}
	response, held, err := a.Create(marshal(t, creation))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.FinishRegistration(alice, *session, httptest.NewRequest("POST", "/", strings.NewReader(response)))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", describe(err))
	}
	alice.store(cred)
	if !bytes.Equal(cred.ID, held.RawID()) || held.ID() == "" {
		t.Fatal("the library stored another credential id")
	}
	if cred.AttestationFormat != "none" || cred.Authenticator.SignCount != 0 {
		t.Fatalf("format %q, sign count %d", cred.AttestationFormat, cred.Authenticator.SignCount)
	}
	if !cred.Flags.UserPresent || !cred.Flags.UserVerified || cred.Flags.BackupEligible {
		t.Fatalf("flags %+v", cred.Flags)
	}
	if !held.Discoverable() || held.RPID() != rpID || !bytes.Equal(held.UserHandle(), alice.id) || held.UserName() != "alice" {
		t.Fatalf("held credential: discoverable=%v rp=%q", held.Discoverable(), held.RPID())
	}

	for want := uint32(1); want <= 3; want++ {
		assertion, session, err := rp.BeginLogin(alice)
		if err != nil {
			t.Fatal(err)
		}
		response, err := a.Get(marshal(t, assertion))
		if err != nil {
			t.Fatal(err)
		}
		cred, err := rp.FinishLogin(alice, *session, httptest.NewRequest("POST", "/", strings.NewReader(response)))
		if err != nil {
			t.Fatalf("FinishLogin %d: %v", want, describe(err))
		}
		if cred.Authenticator.SignCount != want || cred.Authenticator.CloneWarning {
			t.Fatalf("login %d: sign count %d, clone warning %v", want, cred.Authenticator.SignCount, cred.Authenticator.CloneWarning)
		}
		alice.store(cred)
	}
	if held.SignCount() != 3 {
		t.Fatalf("authenticator counter %d, want 3", held.SignCount())
	}
}

func TestDiscoverableLoginFindsTheUserByHandle(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice, bob := newUser("alice"), newUser("bob")
	mustRegister(t, rp, a, alice, discoverable...)
	bobCred := mustRegister(t, rp, a, bob, discoverable...)
	users := map[string]*user{string(alice.id): alice, string(bob.id): bob}
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		if u, ok := users[string(userHandle)]; ok {
			return u, nil
		}
		return nil, errors.New("no such user")
	}

	assertion, session, err := rp.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	if len(assertion.Response.AllowedCredentials) != 0 {
		t.Fatal("a discoverable login lists credentials")
	}
	response, err := a.Get(marshal(t, assertion))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.FinishDiscoverableLogin(handler, *session, httptest.NewRequest("POST", "/", strings.NewReader(response)))
	if err != nil {
		t.Fatalf("FinishDiscoverableLogin: %v", describe(err))
	}
	// The newest discoverable credential answers: bob's.
	if !bytes.Equal(cred.ID, bobCred.ID) {
		t.Fatal("another credential answered")
	}

	// And through the JSON parser with ValidatePasskeyLogin, which names the user.
	aliceCred := a.Credentials()[0]
	assertion, session, _ = rp.BeginDiscoverableLogin()
	response, err = a.Get(marshal(t, assertion), passkeytest.WithCredential(aliceCred))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(strings.NewReader(response))
	if err != nil {
		t.Fatal(describe(err))
	}
	found, _, err := rp.ValidatePasskeyLogin(handler, *session, parsed)
	if err != nil || found.WebAuthnName() != "alice" {
		t.Fatalf("ValidatePasskeyLogin: %v", err)
	}

	t.Run("another user's handle", func(t *testing.T) {
		assertion, session, _ := rp.BeginDiscoverableLogin()
		response, err := a.Get(marshal(t, assertion), passkeytest.WithCredential(aliceCred), passkeytest.WithUserHandle(bob.id))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := protocol.ParseCredentialRequestResponseBody(strings.NewReader(response))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = rp.ValidatePasskeyLogin(handler, *session, parsed)
		wantRefused(t, err, "Unable to find the credential")
	})
	t.Run("no handle", func(t *testing.T) {
		assertion, session, _ := rp.BeginDiscoverableLogin()
		response, err := a.Get(marshal(t, assertion), passkeytest.WithUserHandle(nil))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := protocol.ParseCredentialRequestResponseBody(strings.NewReader(response))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = rp.ValidatePasskeyLogin(handler, *session, parsed)
		wantRefused(t, err, "blank User Handle")
	})
}

func TestNonDiscoverableCredentialsNeedAnAllowList(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged))
	if a.Credentials()[0].Discoverable() {
		t.Fatal("residentKey discouraged made a discoverable credential")
	}
	assertion, _, _ := rp.BeginDiscoverableLogin()
	if _, err := a.Get(marshal(t, assertion)); !errors.Is(err, passkeytest.ErrNoCredential) {
		t.Fatalf("discoverable get: %v, want ErrNoCredential", err)
	}
	if _, err := login(t, rp, a, alice, nil); err != nil {
		t.Fatalf("login with allowCredentials: %v", describe(err))
	}
}

// go-webauthn v0.18 does not fail a login whose counter did not grow: it
// returns the credential with Authenticator.CloneWarning set and SignCount
// left at the stored value. keycard must check CloneWarning itself.
func TestSignCountRegressionSetsCloneWarningWithoutAnError(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, discoverable...)

	cred, err := login(t, rp, a, alice, nil, passkeytest.WithSignCount(5))
	if err != nil || cred.Authenticator.SignCount != 5 || cred.Authenticator.CloneWarning {
		t.Fatalf("count 5: %v, %+v", err, cred)
	}
	for _, count := range []uint32{3, 5, 0} {
		got, err := login(t, rp, a, alice, nil, passkeytest.WithSignCount(count))
		if err != nil {
			t.Fatalf("count %d after 5: the library returned an error: %v", count, describe(err))
		}
		if !got.Authenticator.CloneWarning || got.Authenticator.SignCount != 5 {
			t.Fatalf("count %d after 5: clone warning %v, sign count %d", count, got.Authenticator.CloneWarning, got.Authenticator.SignCount)
		}
		// Cleared so that the next check sees only its own warning.
		alice.credentials[0].Authenticator.CloneWarning = false
	}
	got, err := login(t, rp, a, alice, nil, passkeytest.WithSignCount(6))
	if err != nil || got.Authenticator.CloneWarning || got.Authenticator.SignCount != 6 {
		t.Fatalf("count 6 after 5: %v, clone warning %v", err, got.Authenticator.CloneWarning)
	}
}

func TestZeroSignCountIsNoRegression(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	a.ZeroSignCount = true
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, discoverable...)
	for range 3 {
		cred, err := login(t, rp, a, alice, nil)
		if err != nil || cred.Authenticator.CloneWarning || cred.Authenticator.SignCount != 0 {
			t.Fatalf("counter-less authenticator: %v, clone warning %v", err, cred.Authenticator.CloneWarning)
		}
	}
}

func TestClonedAuthenticatorIsDetected(t *testing.T) {
	rp := newRP(t)
	original := passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, original, alice, discoverable...)
	clone := original.Clone()
	if len(clone.Credentials()) != 1 || clone.Credentials()[0] == original.Credentials()[0] {
		t.Fatal("the clone does not hold its own copy of the credential")
	}

	if cred, err := login(t, rp, original, alice, nil); err != nil || cred.Authenticator.CloneWarning {
		t.Fatalf("original: %v", err)
	}
	cred, err := login(t, rp, clone, alice, nil)
	if err != nil {
		t.Fatalf("clone: %v", describe(err))
	}
	if !cred.Authenticator.CloneWarning {
		t.Fatal("the clone's repeated counter raised no clone warning")
	}
	if original.Credentials()[0].SignCount() != 1 || clone.Credentials()[0].SignCount() != 1 {
		t.Fatal("the counters did not diverge from a shared start")
	}
}

func TestWrongOriginIsRefused(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	_, err := register(t, rp, a, alice, discoverable, passkeytest.WithOrigin("https://evil.example"))
	wantRefused(t, err, "Error validating origin")

	mustRegister(t, rp, a, alice, discoverable...)
	_, err = login(t, rp, a, alice, nil, passkeytest.WithOrigin("http://localhost:8081"))
	wantRefused(t, err, "Error validating origin")
}

func TestWrongRPIDIsRefused(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	_, err := register(t, rp, a, alice, discoverable, passkeytest.WithRPID("evil.example"))
	wantRefused(t, err, "RP Hash mismatch")

	mustRegister(t, rp, a, alice, discoverable...)
	_, err = login(t, rp, a, alice, nil, passkeytest.WithRPID("evil.example"))
	wantRefused(t, err, "RP Hash mismatch")
}

func TestUserVerificationOffIsRefusedWhenRequired(t *testing.T) {
	required := func(c *webauthn.Config) {
		c.AuthenticatorSelection = protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}
	}
	rp := newRP(t, required)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	_, err := register(t, rp, a, alice, discoverable, passkeytest.WithoutUserVerification())
	wantRefused(t, err, "User verification required")

	cred := mustRegister(t, rp, a, alice, discoverable...)
	if !cred.Flags.UserVerified {
		t.Fatal("UV flag not set")
	}
	_, err = login(t, rp, a, alice, []webauthn.LoginOption{webauthn.WithUserVerification(protocol.VerificationRequired)}, passkeytest.WithoutUserVerification())
	wantRefused(t, err, "User verification required")

	// Preferred (the default) accepts a touch-only assertion.
	if _, err := login(t, newRP(t), a, alice, nil, passkeytest.WithoutUserVerification()); err != nil {
		t.Fatalf("UV preferred: %v", describe(err))
	}
}

func TestReplayedOrAlteredResponsesAreRefused(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, discoverable...)

	assertion, _, _ := rp.BeginLogin(alice)
	old, err := a.Get(marshal(t, assertion))
	if err != nil {
		t.Fatal(err)
	}
	_, session, _ := rp.BeginLogin(alice)
	parsed, err := protocol.ParseCredentialRequestResponseBody(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rp.ValidateLogin(alice, *session, parsed)
	wantRefused(t, err, "Error validating challenge")

	assertion, session, _ = rp.BeginLogin(alice)
	response, err := a.Get(marshal(t, assertion))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(response), &body); err != nil {
		t.Fatal(err)
	}
	sig := body["response"].(map[string]any)["signature"].(string)
	flipped := []byte(sig)
	flipped[10] ^= 'A' ^ 'B'
	if flipped[10] == sig[10] {
		flipped[10] = 'C'
	}
	body["response"].(map[string]any)["signature"] = string(flipped)
	parsed, err = protocol.ParseCredentialRequestResponseBody(strings.NewReader(marshal(t, body)))
	if err == nil {
		_, err = rp.ValidateLogin(alice, *session, parsed)
	}
	if err == nil {
		t.Fatal("an altered signature verified")
	}
}

func TestCredentialOutsideTheAllowListIsRefused(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice, mallory := newUser("alice"), newUser("mallory")
	mustRegister(t, rp, a, alice, discoverable...)
	mustRegister(t, rp, a, mallory, discoverable...)
	malloryCred := a.Credentials()[1]
	_, err := login(t, rp, a, alice, nil, passkeytest.WithCredential(malloryCred))
	wantRefused(t, err, "not owned by the user")
}

func TestBackupFlagsReachTheLibrary(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	a.BackupEligible, a.BackupState = true, true
	alice := newUser("alice")
	cred := mustRegister(t, rp, a, alice, discoverable...)
	if !cred.Flags.BackupEligible || !cred.Flags.BackupState {
		t.Fatalf("flags %+v", cred.Flags)
	}
	if _, err := login(t, rp, a, alice, nil); err != nil {
		t.Fatalf("login of a synced passkey: %v", describe(err))
	}
}

func TestExcludedCredentialsAndAlgorithms(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, discoverable...)

	creation, _, err := rp.BeginRegistration(alice, webauthn.WithExclusions(webauthn.Credentials(alice.credentials).CredentialDescriptors()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Create(marshal(t, creation)); !errors.Is(err, passkeytest.ErrExcluded) {
		t.Fatalf("excluded credential: %v, want ErrExcluded", err)
	}
	if _, _, err := passkeytest.New(origin).Create(marshal(t, creation)); err != nil {
		t.Fatalf("another authenticator may register: %v", err)
	}

	creation, _, err = rp.BeginRegistration(alice, webauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: -257}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Create(marshal(t, creation)); !errors.Is(err, passkeytest.ErrUnsupportedAlgorithm) {
		t.Fatalf("RS256 only: %v, want ErrUnsupportedAlgorithm", err)
	}
}

func TestCredPropsExtensionIsAnswered(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	creation, session, err := rp.BeginRegistration(alice, append(discoverable, webauthn.WithExtensions(webauthn.WithExtensionCredProps()))...)
	if err != nil {
		t.Fatal(err)
	}
	response, _, err := a.Create(marshal(t, creation))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(response, `"credProps":{"rk":true}`) {
		t.Fatalf("no credProps output in %s", response)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(strings.NewReader(response))
	if err != nil {
		t.Fatal(describe(err))
	}
	if _, err := rp.CreateCredential(alice, *session, parsed); err != nil {
		t.Fatalf("CreateCredential: %v", describe(err))
	}
}
