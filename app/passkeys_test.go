package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keycard/keycard/app"
	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/config"
	"github.com/keycard/keycard/passkeytest"
)

// Passkeys through HTTP: every ceremony is driven by passkeytest, a
// software authenticator that answers keycard's options JSON with the
// PublicKeyCredential JSON a browser would send. A development server on
// the default KEYCARD_ADDR has RP ID localhost and accepts the origin
// http://localhost:8080.

const passkeyOrigin = "http://localhost:8080"

const (
	beginPasskeyRegistrationMutation  = `mutation { beginPasskeyRegistration { challengeId options } }`
	finishPasskeyRegistrationMutation = `mutation Finish($challengeId: ID!, $credential: String!, $name: String) {
  finishPasskeyRegistration(challengeId: $challengeId, credential: $credential, name: $name) { id name createdAt lastUsedAt }
}`
	passkeysQuery              = `query { passkeys { id name createdAt lastUsedAt } }`
	removePasskeyMutation      = `mutation Remove($id: ID!) { removePasskey(id: $id) }`
	beginPasskeyLoginMutation  = `mutation Begin($username: String) { beginPasskeyLogin(username: $username) { challengeId options } }`
	finishPasskeyLoginMutation = `mutation Finish($challengeId: ID!, $credential: String!) {
  finishPasskeyLogin(challengeId: $challengeId, credential: $credential) { accessToken refreshToken tokenType expiresIn user { id username } }
}`
)

type passkeyChallenge struct {
	ChallengeID string `json:"challengeId"`
	Options     string `json:"options"`
}

type passkeyView struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
}

func (s *server) beginPasskeyRegistration(t testing.TB, token string) passkeyChallenge {
	t.Helper()
	resp := s.gql(t, token, beginPasskeyRegistrationMutation, nil)
	expectOK(t, resp)
	var c passkeyChallenge
	resp.into(t, "beginPasskeyRegistration", &c)
	return c
}

func (s *server) finishPasskeyRegistration(t testing.TB, token, challengeID, credential string, name any) *response {
	t.Helper()
	return s.gql(t, token, finishPasskeyRegistrationMutation, map[string]any{"challengeId": challengeID, "credential": credential, "name": name})
}

// addPasskey registers a new credential of a with the user of token.
func (s *server) addPasskey(t testing.TB, token string, a *passkeytest.Authenticator, name string) passkeyView {
	t.Helper()
	c := s.beginPasskeyRegistration(t, token)
	credential, _, err := a.Create(c.Options)
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	resp := s.finishPasskeyRegistration(t, token, c.ChallengeID, credential, name)
	expectOK(t, resp)
	var p passkeyView
	resp.into(t, "finishPasskeyRegistration", &p)
	return p
}

func (s *server) passkeys(t testing.TB, token string) []passkeyView {
	t.Helper()
	resp := s.gql(t, token, passkeysQuery, nil)
	expectOK(t, resp)
	var list []passkeyView
	resp.into(t, "passkeys", &list)
	return list
}

// beginPasskeyLogin begins a login, username-first unless username is nil.
func (s *server) beginPasskeyLogin(t testing.TB, username any) passkeyChallenge {
	t.Helper()
	resp := s.gql(t, "", beginPasskeyLoginMutation, map[string]any{"username": username})
	expectOK(t, resp)
	var c passkeyChallenge
	resp.into(t, "beginPasskeyLogin", &c)
	return c
}

func (s *server) finishPasskeyLogin(t testing.TB, challengeID, credential string) *response {
	t.Helper()
	return s.gql(t, "", finishPasskeyLoginMutation, map[string]any{"challengeId": challengeID, "credential": credential})
}

// passkeyLogin signs in with a's passkey (username-first unless username is
// nil) and returns keycard's answer.
func (s *server) passkeyLogin(t testing.TB, a *passkeytest.Authenticator, username any, opts ...passkeytest.Option) *response {
	t.Helper()
	c := s.beginPasskeyLogin(t, username)
	credential, err := a.Get(c.Options, opts...)
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	return s.finishPasskeyLogin(t, c.ChallengeID, credential)
}

func (s *server) mustPasskeyLogin(t testing.TB, a *passkeytest.Authenticator, username any, opts ...passkeytest.Option) authPayload {
	t.Helper()
	resp := s.passkeyLogin(t, a, username, opts...)
	expectOK(t, resp)
	var p authPayload
	resp.into(t, "finishPasskeyLogin", &p)
	return p
}

// expectField fails unless resp is one BAD_USER_INPUT error on field.
func expectField(t testing.TB, resp *response, field string) {
	t.Helper()
	expectCode(t, resp, "BAD_USER_INPUT")
	if resp.field() != field {
		t.Fatalf("BAD_USER_INPUT on %q, want %q: %s", resp.field(), field, resp.Body)
	}
}

// expectRefused fails unless resp is the one answer every refused passkey
// credential gets.
func expectRefused(t testing.TB, resp *response) {
	t.Helper()
	expectField(t, resp, "credential")
	if msg := resp.Errors[0].Message; msg != "the passkey could not be verified" {
		t.Fatalf("refusal message %q tells more than that the passkey did not verify", msg)
	}
}

// options decodes an options JSON.
func options(t testing.TB, raw string) map[string]any {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		t.Fatalf("options are not JSON: %v: %s", err, raw)
	}
	return o
}

// listedIDs are the credential ids of a descriptor list in options.
func listedIDs(o map[string]any, key string) []string {
	list, _ := o[key].([]any)
	ids := make([]string, 0, len(list))
	for _, d := range list {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

func credentialIDs(a ...*passkeytest.Authenticator) []string {
	var ids []string
	for _, auth := range a {
		for _, c := range auth.Credentials() {
			ids = append(ids, c.ID())
		}
	}
	slices.Sort(ids)
	return ids
}

func TestPasskeysRegisterListAndSignIn(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "olga")
		reg := s.register(t, "alice", "open-sesame-42")
		phone, laptop := passkeytest.New(passkeyOrigin), passkeytest.New(passkeyOrigin)

		first := s.addPasskey(t, reg.AccessToken, phone, "phone")
		s.clock.Advance(time.Second)
		second := s.addPasskey(t, reg.AccessToken, laptop, "")
		if first.Name != "phone" || second.Name != "Passkey" || first.LastUsedAt != nil || first.ID == second.ID {
			t.Fatalf("registered %+v and %+v", first, second)
		}
		if phone.Credentials()[0].UserName() != "alice" || !phone.Credentials()[0].Discoverable() {
			t.Fatal("the credential is not a discoverable one for alice")
		}
		if got := s.passkeys(t, reg.AccessToken); len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID {
			t.Fatalf("passkeys = %+v, want phone then laptop", got)
		}

		// Username-first: the options list both passkeys, the phone answers.
		c := s.beginPasskeyLogin(t, "ALICE")
		o := options(t, c.Options)
		if got, want := listedIDs(o, "allowCredentials"), credentialIDs(phone, laptop); !slices.Equal(got, want) {
			t.Fatalf("allowCredentials %v, want %v", got, want)
		}
		if o["userVerification"] != "required" || o["rpId"] != "localhost" {
			t.Fatalf("request options %s", c.Options)
		}
		credential, err := phone.Get(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		resp := s.finishPasskeyLogin(t, c.ChallengeID, credential)
		expectOK(t, resp)
		var byName authPayload
		resp.into(t, "finishPasskeyLogin", &byName)
		if byName.User.ID != reg.User.ID || byName.TokenType != "Bearer" || byName.refresh() == "" {
			t.Fatalf("signed in as %+v", byName)
		}
		if amr := claimsOf(t, byName.AccessToken)["amr"]; !slices.Equal(toStrings(amr), []string{"hwk"}) {
			t.Fatalf("amr %v, want [hwk]", amr)
		}
		expectOK(t, s.me(t, byName.AccessToken))
		expectOK(t, s.refresh(t, byName.refresh()))

		// Discoverable: no username, the laptop's passkey names its user.
		s.clock.Advance(time.Second)
		discovered := s.mustPasskeyLogin(t, laptop, nil)
		if discovered.User.Username != "alice" {
			t.Fatalf("discoverable login signed in %+v", discovered.User)
		}
		listed := s.passkeys(t, discovered.AccessToken)
		if listed[0].LastUsedAt == nil || listed[1].LastUsedAt == nil || *listed[1].LastUsedAt == *listed[0].LastUsedAt {
			t.Fatalf("lastUsedAt not recorded per passkey: %+v", listed)
		}

		want := []string{"PASSKEY_LOGIN", "REFRESH", "PASSKEY_LOGIN", "PASSKEY_ADDED", "PASSKEY_ADDED", "REGISTER"}
		if kinds := waitKinds(t, s, admin.AccessToken, reg.User.ID, len(want)); !slices.Equal(kinds, want) {
			t.Fatalf("audit %v, want %v", kinds, want)
		}
	})
}

// waitKinds waits for n events of the user (refresh is recorded in the
// background) and returns their kinds, newest first.
func waitKinds(t testing.TB, s *server, adminToken, userID string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		kinds := s.kinds(t, adminToken, userID)
		if len(kinds) >= n || time.Now().After(deadline) {
			return kinds
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestPasskeyCreationOptionsAskForADiscoverableVerifiedCredentialAndExcludeRegisteredOnes(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "alice", "open-sesame-42")
	phone := passkeytest.New(passkeyOrigin)
	s.addPasskey(t, reg.AccessToken, phone, "phone")

	c := s.beginPasskeyRegistration(t, reg.AccessToken)
	o := options(t, c.Options)
	// The bare PublicKeyCredentialCreationOptionsJSON, as
	// PublicKeyCredential.parseCreationOptionsFromJSON and
	// @simplewebauthn/browser take it: no {publicKey: ...} wrapper.
	if _, wrapped := o["publicKey"]; wrapped {
		t.Fatalf("options are wrapped: %s", c.Options)
	}
	selection, _ := o["authenticatorSelection"].(map[string]any)
	if selection["residentKey"] != "required" || selection["userVerification"] != "required" {
		t.Fatalf("authenticatorSelection %v", selection)
	}
	rp, _ := o["rp"].(map[string]any)
	user, _ := o["user"].(map[string]any)
	handle, err := base64.RawURLEncoding.DecodeString(user["id"].(string))
	if rp["id"] != "localhost" || rp["name"] != "keycard" || user["name"] != "alice" || len(handle) != 16 || o["timeout"] != float64(300000) {
		t.Fatalf("creation options %s", c.Options)
	}
	if err != nil || strings.Contains(string(handle), "alice") {
		t.Fatalf("user handle %q", handle)
	}
	if got := listedIDs(o, "excludeCredentials"); !slices.Equal(got, credentialIDs(phone)) {
		t.Fatalf("excludeCredentials %v, want the phone's passkey", got)
	}
	// The phone already holds one: it declines, as a browser's
	// InvalidStateError.
	if _, _, err := phone.Create(c.Options); !errors.Is(err, passkeytest.ErrExcluded) {
		t.Fatalf("the phone registered a second passkey: %v", err)
	}
}

func TestRemovedPasskeyIsRefusedAndRemovalEndsTheOtherSessions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "olga")
		reg := s.register(t, "alice", "open-sesame-42")
		bob := s.register(t, "bob", "open-sesame-42")
		phone, laptop := passkeytest.New(passkeyOrigin), passkeytest.New(passkeyOrigin)
		lost := s.addPasskey(t, reg.AccessToken, phone, "lost phone")
		s.addPasskey(t, reg.AccessToken, laptop, "laptop")
		other := s.mustPasskeyLogin(t, phone, nil) // the finder signed in with it
		here := s.login(t, "alice", "open-sesame-42")

		for name, id := range map[string]string{"garbage": "not-an-id", "unknown": "0190d2b4-0000-7000-8000-000000000000", "its id as bob": lost.ID} {
			token := here.AccessToken
			if name == "its id as bob" {
				token = bob.AccessToken
			}
			resp := s.gql(t, token, removePasskeyMutation, map[string]any{"id": id})
			expectOK(t, resp)
			if string(resp.Data["removePasskey"]) != "false" {
				t.Fatalf("%s: removePasskey = %s", name, resp.Data["removePasskey"])
			}
		}
		expectOK(t, s.me(t, other.AccessToken)) // nothing was removed yet

		resp := s.gql(t, here.AccessToken, removePasskeyMutation, map[string]any{"id": lost.ID})
		expectOK(t, resp)
		if string(resp.Data["removePasskey"]) != "true" {
			t.Fatalf("removePasskey = %s", resp.Data["removePasskey"])
		}
		// Every other session ended, the one that removed it lives on.
		expectCode(t, s.me(t, other.AccessToken), "UNAUTHENTICATED")
		expectCode(t, s.refresh(t, other.refresh()), "UNAUTHENTICATED")
		expectCode(t, s.me(t, reg.AccessToken), "UNAUTHENTICATED")
		expectOK(t, s.me(t, here.AccessToken))
		expectOK(t, s.me(t, bob.AccessToken))
		if got := s.passkeys(t, here.AccessToken); len(got) != 1 || got[0].Name != "laptop" {
			t.Fatalf("passkeys after removal: %+v", got)
		}

		// The removed passkey signs in neither by name nor discoverably.
		expectRefused(t, s.passkeyLogin(t, phone, nil))
		c := s.beginPasskeyLogin(t, "alice")
		credential, err := phone.Get(c.Options, passkeytest.WithCredential(phone.Credentials()[0]))
		if err != nil {
			t.Fatal(err)
		}
		expectRefused(t, s.finishPasskeyLogin(t, c.ChallengeID, credential))
		s.mustPasskeyLogin(t, laptop, "alice")

		resp = s.gql(t, here.AccessToken, removePasskeyMutation, map[string]any{"id": lost.ID})
		expectOK(t, resp)
		if string(resp.Data["removePasskey"]) != "false" {
			t.Fatal("a removed passkey was removed twice")
		}
		kinds := s.kinds(t, admin.AccessToken, reg.User.ID)
		if !slices.Contains(kinds, "PASSKEY_REMOVED") {
			t.Fatalf("no PASSKEY_REMOVED event: %v", kinds)
		}
	})
}

func TestPasskeySignCountRegressionIsRefusedAndAudited(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		admin := s.admin(t, "olga")
		reg := s.register(t, "alice", "open-sesame-42")
		key := passkeytest.New(passkeyOrigin)
		key.Attachment = "cross-platform"
		s.addPasskey(t, reg.AccessToken, key, "security key")
		clone := key.Clone()

		s.mustPasskeyLogin(t, key, "alice") // counter 1
		// The copy's counter is 1 too: not greater than the stored 1.
		expectRefused(t, s.passkeyLogin(t, clone, "alice"))
		expectRefused(t, s.passkeyLogin(t, clone, nil, passkeytest.WithSignCount(0)))
		// The genuine key counts on and still signs in.
		s.mustPasskeyLogin(t, key, nil)                 // counter 2
		expectRefused(t, s.passkeyLogin(t, clone, nil)) // the copy counts 1 after its 0

		var regressions []eventNode
		for _, e := range s.events(t, admin.AccessToken, map[string]any{"userId": reg.User.ID, "kind": "PASSKEY_SIGN_COUNT_REGRESSED"}).Edges {
			regressions = append(regressions, e.Node)
		}
		if len(regressions) != 3 {
			t.Fatalf("%d PASSKEY_SIGN_COUNT_REGRESSED events, want 3", len(regressions))
		}
		if d := regressions[2].Detail; d == nil || !strings.Contains(*d, "counter 1 after 1") || !strings.Contains(*d, "security key") {
			t.Fatalf("detail %v", d)
		}
		logins := 0
		for _, k := range s.kinds(t, admin.AccessToken, reg.User.ID) {
			if k == "PASSKEY_LOGIN" {
				logins++
			}
		}
		if logins != 2 {
			t.Fatalf("%d passkey logins recorded, want 2", logins)
		}
	})
}

func TestPasskeyWithoutACounterSignsInAgainAndAgain(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "alice", "open-sesame-42")
	synced := passkeytest.New(passkeyOrigin)
	synced.ZeroSignCount, synced.BackupEligible, synced.BackupState = true, true, true
	s.addPasskey(t, reg.AccessToken, synced, "synced")
	for range 3 {
		s.mustPasskeyLogin(t, synced, nil)
	}
}

func TestPasskeyChallengesAreSingleUseAndExpireAfterFiveMinutes(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "alice", "open-sesame-42")
		phone := passkeytest.New(passkeyOrigin)

		// Registration: 4m59s is in time, 5m is too late.
		c := s.beginPasskeyRegistration(t, reg.AccessToken)
		credential, _, err := phone.Create(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(auth.PasskeyChallengeTTL)
		expectField(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, credential, nil), "challengeId")
		phone = passkeytest.New(passkeyOrigin)
		c = s.beginPasskeyRegistration(t, reg.AccessToken)
		credential, _, _ = phone.Create(c.Options)
		s.clock.Advance(auth.PasskeyChallengeTTL - time.Second)
		expectOK(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, credential, "phone"))
		expectField(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, credential, "phone"), "challengeId")

		// Login: one answer per challenge, and none after five minutes.
		c = s.beginPasskeyLogin(t, nil)
		credential, err = phone.Get(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		expectOK(t, s.finishPasskeyLogin(t, c.ChallengeID, credential))
		expectField(t, s.finishPasskeyLogin(t, c.ChallengeID, credential), "challengeId")
		fresh, _ := phone.Get(c.Options)
		expectField(t, s.finishPasskeyLogin(t, c.ChallengeID, fresh), "challengeId")

		c = s.beginPasskeyLogin(t, "alice")
		credential, _ = phone.Get(c.Options)
		s.clock.Advance(auth.PasskeyChallengeTTL)
		expectField(t, s.finishPasskeyLogin(t, c.ChallengeID, credential), "challengeId")

		// A challenge answers only its own ceremony.
		reg = s.login(t, "alice", "open-sesame-42") // the first token expired meanwhile
		login := s.beginPasskeyLogin(t, nil)
		expectField(t, s.finishPasskeyRegistration(t, reg.AccessToken, login.ChallengeID, credential, nil), "challengeId")
		registration := s.beginPasskeyRegistration(t, reg.AccessToken)
		expectField(t, s.finishPasskeyLogin(t, registration.ChallengeID, credential), "challengeId")
		expectField(t, s.finishPasskeyLogin(t, "not-a-challenge", credential), "challengeId")
		expectField(t, s.finishPasskeyLogin(t, "0190d2b4-0000-7000-8000-000000000000", credential), "challengeId")
		// Neither was spent by the other ceremony's attempt.
		credential, _ = phone.Get(login.Options)
		expectOK(t, s.finishPasskeyLogin(t, login.ChallengeID, credential))
	}, withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "24h"))
}

func TestPasskeyFromAnotherOriginOrRPOrWithoutUserVerificationIsRefused(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "alice", "open-sesame-42")
		phone := passkeytest.New(passkeyOrigin)
		refusedRegistration := map[string][]passkeytest.Option{
			"another origin":       {passkeytest.WithOrigin("https://evil.example")},
			"another port":         {passkeytest.WithOrigin("http://localhost:8081")},
			"another RP":           {passkeytest.WithRPID("evil.example")},
			"no user verification": {passkeytest.WithoutUserVerification()},
		}
		for name, opts := range refusedRegistration {
			c := s.beginPasskeyRegistration(t, reg.AccessToken)
			credential, _, err := passkeytest.New(passkeyOrigin).Create(c.Options, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("registration from "+name, func(t *testing.T) {
				expectRefused(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, credential, nil))
			})
		}
		if got := s.passkeys(t, reg.AccessToken); len(got) != 0 {
			t.Fatalf("refused registrations stored %d passkeys", len(got))
		}

		s.addPasskey(t, reg.AccessToken, phone, "phone")
		for name, opts := range refusedRegistration {
			t.Run("login from "+name, func(t *testing.T) {
				expectRefused(t, s.passkeyLogin(t, phone, nil, opts...))
			})
		}
		t.Run("garbage", func(t *testing.T) {
			c := s.beginPasskeyLogin(t, nil)
			expectRefused(t, s.finishPasskeyLogin(t, c.ChallengeID, `{"id":"x"}`))
			c = s.beginPasskeyLogin(t, nil)
			expectRefused(t, s.finishPasskeyLogin(t, c.ChallengeID, "not json"))
			r := s.beginPasskeyRegistration(t, reg.AccessToken)
			expectRefused(t, s.finishPasskeyRegistration(t, reg.AccessToken, r.ChallengeID, `{}`, nil))
		})
		s.mustPasskeyLogin(t, phone, nil)
	})
}

func TestPasskeyChallengeOfOneUserIsRefusedToAnother(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		alice := s.register(t, "alice", "open-sesame-42")
		bob := s.register(t, "bob", "open-sesame-42")
		alicePhone, bobPhone := passkeytest.New(passkeyOrigin), passkeytest.New(passkeyOrigin)

		// Bob cannot finish (nor spend) alice's registration.
		c := s.beginPasskeyRegistration(t, alice.AccessToken)
		credential, _, err := bobPhone.Create(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		expectField(t, s.finishPasskeyRegistration(t, bob.AccessToken, c.ChallengeID, credential, nil), "challengeId")
		if got := s.passkeys(t, bob.AccessToken); len(got) != 0 {
			t.Fatal("bob registered a passkey with alice's challenge")
		}
		credential, _, _ = alicePhone.Create(c.Options)
		expectOK(t, s.finishPasskeyRegistration(t, alice.AccessToken, c.ChallengeID, credential, "alice's"))
		s.addPasskey(t, bob.AccessToken, bobPhone, "bob's")

		// A login begun for alice is not finished by bob's passkey.
		c = s.beginPasskeyLogin(t, "alice")
		credential, err = bobPhone.Get(c.Options, passkeytest.WithCredential(bobPhone.Credentials()[0]))
		if err != nil {
			t.Fatal(err)
		}
		expectRefused(t, s.finishPasskeyLogin(t, c.ChallengeID, credential))
		// Nor does bob's passkey sign in as alice by claiming her handle.
		handle := alicePhone.Credentials()[0].UserHandle()
		expectRefused(t, s.passkeyLogin(t, bobPhone, nil, passkeytest.WithUserHandle(handle)))
		// Nor alice's passkey without a handle, discoverably.
		expectRefused(t, s.passkeyLogin(t, alicePhone, nil, passkeytest.WithUserHandle(nil)))

		if got := s.mustPasskeyLogin(t, bobPhone, nil); got.User.Username != "bob" {
			t.Fatalf("bob's passkey signed in %s", got.User.Username)
		}
	})
}

func TestPasskeyLoginDoesNotTellWhichUsernamesExist(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		alice := s.register(t, "alice", "open-sesame-42")
		s.register(t, "carol", "open-sesame-42") // no passkeys
		phone := passkeytest.New(passkeyOrigin)
		s.addPasskey(t, alice.AccessToken, phone, "phone")

		shape := func(username any) []string {
			c := s.beginPasskeyLogin(t, username)
			return slices.Sorted(maps.Keys(options(t, c.Options)))
		}
		nobody, carol, discoverable := shape("nobody"), shape("carol"), shape(nil)
		if !slices.Equal(nobody, carol) || !slices.Equal(carol, discoverable) || slices.Contains(carol, "allowCredentials") {
			t.Fatalf("options of an unknown name %v, of a name without passkeys %v, discoverable %v", nobody, carol, discoverable)
		}
		for _, name := range []string{"nobody", "carol", "not a name!"} {
			c := s.beginPasskeyLogin(t, name)
			credential, err := phone.Get(c.Options)
			if err != nil {
				t.Fatal(err)
			}
			// alice's discoverable passkey answers; it is not the named
			// account's.
			expectRefused(t, s.finishPasskeyLogin(t, c.ChallengeID, credential))
		}
	})
}

// Two finishes of one challenge at once: the challenge is spent by the
// first, so exactly one signs in.
func TestConcurrentPasskeyLoginsWithOneChallengeHaveOneWinner(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, s *server) {
		reg := s.register(t, "alice", "open-sesame-42")
		phone := passkeytest.New(passkeyOrigin)
		s.addPasskey(t, reg.AccessToken, phone, "phone")
		for round := range 3 {
			c := s.beginPasskeyLogin(t, nil)
			const racers = 8
			answers := make([]string, racers)
			for i := range answers {
				// Each racer its own assertion (rising counters), all
				// for the one challenge.
				var err error
				if answers[i], err = phone.Get(c.Options); err != nil {
					t.Fatal(err)
				}
			}
			responses := make([]*response, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					responses[i] = s.finishPasskeyLogin(t, c.ChallengeID, answers[i])
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for _, resp := range responses {
				switch {
				case len(resp.Errors) == 0:
					won++
				case resp.code() == "BAD_USER_INPUT" && resp.field() == "challengeId":
				default:
					t.Errorf("round %d: %s", round, resp.Body)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d logins with one challenge, want 1", round, won)
			}
		}
	})
}

func TestPasskeyOperationsNeedASignedInUserAndValidInput(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	expectCode(t, s.gql(t, "", beginPasskeyRegistrationMutation, nil), "UNAUTHENTICATED")
	expectCode(t, s.gql(t, "", passkeysQuery, nil), "UNAUTHENTICATED")
	expectCode(t, s.gql(t, "", removePasskeyMutation, map[string]any{"id": "x"}), "UNAUTHENTICATED")
	expectCode(t, s.finishPasskeyRegistration(t, "", "x", "{}", nil), "UNAUTHENTICATED")

	reg := s.register(t, "alice", "open-sesame-42")
	phone := passkeytest.New(passkeyOrigin)
	c := s.beginPasskeyRegistration(t, reg.AccessToken)
	credential, _, _ := phone.Create(c.Options)
	for _, name := range []string{strings.Repeat("x", 65), "tab\there"} {
		expectField(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, credential, name), "name")
	}
	expectRefused(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, strings.Repeat("x", 20<<10), nil))
	// Input refused before the challenge was looked at leaves it usable.
	if p := s.passkeys(t, reg.AccessToken); len(p) != 0 {
		t.Fatal("stored")
	}
	expectOK(t, s.finishPasskeyRegistration(t, reg.AccessToken, c.ChallengeID, credential, "  "+strings.Repeat("é", 64)+" "))
}

func TestAccountHasAtMostTwentyPasskeys(t *testing.T) {
	t.Parallel()
	s := startSQLite(t, withEnv("KEYCARD_REVOCATION_MAX_STALENESS", "24h"))
	reg := s.register(t, "alice", "open-sesame-42")
	for range auth.MaxPasskeysPerUser {
		s.addPasskey(t, reg.AccessToken, passkeytest.New(passkeyOrigin), "")
		s.clock.Advance(3 * time.Second) // within the rate limit of 20 a minute
	}
	resp := s.gql(t, reg.AccessToken, beginPasskeyRegistrationMutation, nil)
	expectCode(t, resp, "BAD_USER_INPUT")
	if !strings.Contains(resp.Errors[0].Message, "at most 20") {
		t.Fatalf("message %q", resp.Errors[0].Message)
	}
}

// Production has no default relying party: without KEYCARD_WEBAUTHN_RP_ID
// and KEYCARD_WEBAUTHN_ORIGINS passkeys answer UNAVAILABLE, and a database
// with passkeys registered refuses to start (their owners would be locked
// out of passkey login by a configuration slip).
func TestProductionWithoutRelyingPartyTurnsPasskeysOff(t *testing.T) {
	t.Parallel()
	storetestEach(t, func(t *testing.T, dbURL string) {
		production := startServer(t, dbURL, withEnv("KEYCARD_ENV", "production"))
		reg := production.register(t, "alice", "open-sesame-42")
		expectCode(t, production.gql(t, "", beginPasskeyLoginMutation, nil), "UNAVAILABLE")
		expectCode(t, production.gql(t, reg.AccessToken, beginPasskeyRegistrationMutation, nil), "UNAVAILABLE")
		expectCode(t, production.finishPasskeyLogin(t, "x", "{}"), "UNAVAILABLE")
		if p := production.passkeys(t, reg.AccessToken); len(p) != 0 {
			t.Fatalf("%d passkeys", len(p))
		}
		production.stop()

		// Configured, a passkey is registered...
		configured := startServer(t, dbURL, withEnv("KEYCARD_ENV", "production"),
			withEnv("KEYCARD_WEBAUTHN_RP_ID", "keycard.test"), withEnv("KEYCARD_WEBAUTHN_ORIGINS", "https://app.keycard.test"))
		phone := passkeytest.New("https://app.keycard.test")
		login := configured.login(t, "alice", "open-sesame-42")
		configured.addPasskey(t, login.AccessToken, phone, "phone")
		configured.mustPasskeyLogin(t, phone, nil)
		configured.stop()

		// ...and the relying party must not go missing.
		cfg, err := config.LoadEnv(func(name string) (string, bool) {
			v, ok := map[string]string{
				"KEYCARD_ENV": "production", "KEYCARD_DATABASE_URL": dbURL, "KEYCARD_JWT_SECRET": testSecret,
				"KEYCARD_PUBLIC_URL": productionURL,
			}[name]
			return v, ok
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.New(context.Background(), cfg, app.Options{NoBackground: true, PasswordParams: &cheapArgon2})
		if err == nil || !strings.Contains(err.Error(), "KEYCARD_WEBAUTHN_RP_ID") {
			t.Fatalf("production started without a relying party for its passkeys: %v", err)
		}
	})
}
