package passkeytest_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/keycard/keycard/passkeytest"
)

func TestBareOptionsAreAcceptedToo(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	creation, session, err := rp.BeginRegistration(alice, discoverable...)
	if err != nil {
		t.Fatal(err)
	}
	response, _, err := a.Create(marshal(t, creation.Response))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(strings.NewReader(response))
	if err != nil {
		t.Fatal(describe(err))
	}
	if _, err := rp.CreateCredential(alice, *session, parsed); err != nil {
		t.Fatal(describe(err))
	}
}

func TestMalformedOptionsAreRefused(t *testing.T) {
	a := passkeytest.New(origin)
	for name, options := range map[string]string{
		"not JSON":         `{"publicKey":`,
		"no challenge":     `{"rp":{"id":"localhost"},"user":{"id":"dXNlcg","name":"u"}}`,
		"bad challenge":    `{"challenge":"***","user":{"id":"dXNlcg"}}`,
		"no user id":       `{"challenge":"Y2hhbGxlbmdlY2hhbGxlbmdl"}`,
		"user id too long": `{"challenge":"Y2hhbGxlbmdlY2hhbGxlbmdl","user":{"id":"` + strings.Repeat("QUFB", 22) + `"}}`,
		"wrongly typed rp": `{"challenge":"Y2hhbGxlbmdlY2hhbGxlbmdl","rp":"localhost","user":{"id":"dXNlcg"}}`,
	} {
		if _, _, err := a.Create(options); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := a.Get(`{"challenge":""}`); err == nil {
		t.Error("get without a challenge: accepted")
	}
	if _, err := passkeytest.New("not a url").Get(`{"challenge":"Y2hhbGxlbmdl"}`); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("no RP ID from the options nor the origin: %v", err)
	}
}

func TestWithCredentialOfAnotherAuthenticatorIsRefused(t *testing.T) {
	rp := newRP(t)
	a, b := passkeytest.New(origin), passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, discoverable...)
	if _, err := b.Get(`{"challenge":"Y2hhbGxlbmdl"}`, passkeytest.WithCredential(a.Credentials()[0])); err == nil {
		t.Fatal("accepted")
	}
}

// Tests race ceremonies (two logins at once); each assertion must still
// get its own counter value.
func TestConcurrentAssertionsCountOnce(t *testing.T) {
	rp := newRP(t)
	a := passkeytest.New(origin)
	alice := newUser("alice")
	mustRegister(t, rp, a, alice, discoverable...)
	assertion, _, err := rp.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	options := marshal(t, assertion)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if _, err := a.Get(options); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := a.Credentials()[0].SignCount(); got != 80 {
		t.Fatalf("counter %d after 80 assertions", got)
	}
}
