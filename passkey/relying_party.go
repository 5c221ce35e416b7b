// Package passkey is keycard's WebAuthn relying party: it implements
// auth.RelyingParty with github.com/go-webauthn/webauthn, making the
// options of navigator.credentials.create() and get() and checking what the
// browser answers. What keycard decides around the ceremonies (challenges,
// signature counters, sessions) is auth's; this package holds only the
// protocol, and the format of the record it keeps per credential.
//
// It may import auth (the interface it implements and its types) and
// go-webauthn, nothing else of keycard. Its tests run it against
// passkeytest, a software authenticator written without go-webauthn.
//
// The choices, made once here for every ceremony:
//   - user verification required, at registration and login: a passkey
//     login is a complete login, so the authenticator must have checked
//     its user (PIN, biometric), not only their presence;
//   - discoverable credentials required (residentKey "required"), so that
//     every passkey also signs in without a username;
//   - attestation "none": keycard trusts any authenticator model, and
//     asking for more would only identify the user's device;
//   - no expiry of go-webauthn's own (it would read time.Now): keycard's
//     challenges expire by keycard's clock.
package passkey

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keycard/keycard/auth"
)

// Config is the relying party's identity.
type Config struct {
	// RPID is the relying party id: the domain credentials are bound to
	// (example.com serves login.example.com too). Browsers answer only
	// pages whose host is it or a subdomain of it.
	RPID string
	// RPName is shown by some browsers in their passkey dialogs.
	RPName string
	// Origins are the page origins (scheme://host[:port]) ceremonies may
	// come from; an answer naming any other is refused (phishing, a
	// relayed ceremony).
	Origins []string
}

// RelyingParty implements auth.RelyingParty.
type RelyingParty struct {
	webauthn *webauthn.WebAuthn
}

var _ auth.RelyingParty = (*RelyingParty)(nil)

// New checks cfg and returns the relying party.
func New(cfg Config) (*RelyingParty, error) {
	if cfg.RPID == "" || len(cfg.Origins) == 0 {
		return nil, errors.New("passkey: an RP ID and at least one origin are required")
	}
	for _, origin := range cfg.Origins {
		if err := checkOrigin(cfg.RPID, origin); err != nil {
			return nil, err
		}
	}
	if cfg.RPName == "" {
		cfg.RPName = "keycard"
	}
	timeout := webauthn.TimeoutConfig{Timeout: auth.PasskeyChallengeTTL, TimeoutUVD: auth.PasskeyChallengeTTL}
	w, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPName,
		RPOrigins:             cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		// Enforce stays false: the options carry the timeout, and
		// keycard's clock expires the challenge.
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &RelyingParty{webauthn: w}, nil
}

// checkOrigin wants an origin whose host is the RP ID or a subdomain of
// it: a browser refuses a ceremony anywhere else, so such an origin is a
// configuration mistake.
func checkOrigin(rpID, origin string) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("passkey: %q is not an origin such as https://app.example.com", origin)
	}
	host := u.Hostname()
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("passkey: origin %s is not on the RP ID %s or a subdomain of it", origin, rpID)
	}
	return nil
}

// user is a keycard user and their passkeys as go-webauthn sees them.
type user struct {
	auth.PasskeyUser
	credentials []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.Handle }
func (u *user) WebAuthnName() string                       { return u.Name }
func (u *user) WebAuthnDisplayName() string                { return u.Name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

func newUser(pu auth.PasskeyUser, registered []*auth.Passkey) (*user, error) {
	u := &user{PasskeyUser: pu}
	for _, p := range registered {
		cred, err := credential(p)
		if err != nil {
			return nil, err
		}
		u.credentials = append(u.credentials, cred)
	}
	return u, nil
}

func descriptors(registered []*auth.Passkey) ([]protocol.CredentialDescriptor, error) {
	out := make([]protocol.CredentialDescriptor, 0, len(registered))
	for _, p := range registered {
		cred, err := credential(p)
		if err != nil {
			return nil, err
		}
		out = append(out, cred.Descriptor())
	}
	return out, nil
}

// BeginRegistration implements auth.RelyingParty.
func (rp *RelyingParty) BeginRegistration(pu auth.PasskeyUser, registered []*auth.Passkey) (auth.Ceremony, error) {
	exclude, err := descriptors(registered)
	if err != nil {
		return auth.Ceremony{}, err
	}
	creation, session, err := rp.webauthn.BeginRegistration(&user{PasskeyUser: pu}, webauthn.WithExclusions(exclude))
	if err != nil {
		return auth.Ceremony{}, fmt.Errorf("passkey: begin registration: %w", describe(err))
	}
	return ceremony(creation.Response, session)
}

// FinishRegistration implements auth.RelyingParty.
func (rp *RelyingParty) FinishRegistration(pu auth.PasskeyUser, state []byte, response string) (*auth.Passkey, error) {
	session, err := readState(state)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(response))
	if err != nil {
		return nil, describe(err)
	}
	cred, err := rp.webauthn.CreateCredential(&user{PasskeyUser: pu}, session, parsed)
	if err != nil {
		return nil, describe(err)
	}
	record, err := newRecord(cred)
	if err != nil {
		return nil, err
	}
	return &auth.Passkey{CredentialID: cred.ID, SignCount: cred.Authenticator.SignCount, Record: record}, nil
}

// BeginLogin implements auth.RelyingParty.
func (rp *RelyingParty) BeginLogin(handle []byte, registered []*auth.Passkey) (auth.Ceremony, error) {
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
		err       error
	)
	if len(handle) == 0 {
		assertion, session, err = rp.webauthn.BeginDiscoverableLogin()
	} else {
		var u *user
		if u, err = newUser(auth.PasskeyUser{Handle: handle}, registered); err != nil {
			return auth.Ceremony{}, err
		}
		assertion, session, err = rp.webauthn.BeginLogin(u)
	}
	if err != nil {
		return auth.Ceremony{}, fmt.Errorf("passkey: begin login: %w", describe(err))
	}
	return ceremony(assertion.Response, session)
}

// assertion is a parsed auth.Assertion.
type assertion struct {
	parsed *protocol.ParsedCredentialAssertionData
}

func (a *assertion) CredentialID() []byte { return a.parsed.RawID }
func (a *assertion) UserHandle() []byte   { return a.parsed.Response.UserHandle }

// ParseAssertion implements auth.RelyingParty.
func (rp *RelyingParty) ParseAssertion(response string) (auth.Assertion, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(response))
	if err != nil {
		return nil, describe(err)
	}
	return &assertion{parsed: parsed}, nil
}

// VerifyAssertion implements auth.RelyingParty.
func (rp *RelyingParty) VerifyAssertion(pu auth.PasskeyUser, registered []*auth.Passkey, state []byte, a auth.Assertion) (*auth.VerifiedAssertion, error) {
	parsed, ok := a.(*assertion)
	if !ok {
		return nil, errors.New("passkey: the assertion was not parsed by this relying party")
	}
	session, err := readState(state)
	if err != nil {
		return nil, err
	}
	u, err := newUser(pu, registered)
	if err != nil {
		return nil, err
	}
	var cred *webauthn.Credential
	if len(session.UserID) == 0 {
		// Discoverable: the domain already found the user by the
		// credential id and checked the handle; the library checks it
		// again against the user it is given.
		cred, err = rp.webauthn.ValidateDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) { return u, nil }, session, parsed.parsed)
	} else {
		cred, err = rp.webauthn.ValidateLogin(u, session, parsed.parsed)
	}
	if err != nil {
		return nil, describe(err)
	}
	record, err := newRecord(cred)
	if err != nil {
		return nil, err
	}
	// The counter as the authenticator reported it: on a regression
	// go-webauthn keeps the stored one and only sets CloneWarning, and
	// the domain decides.
	return &auth.VerifiedAssertion{SignCount: parsed.parsed.Response.AuthenticatorData.Counter, Record: record}, nil
}

// describe keeps the library's detail, which its Error() leaves out, for
// the log.
func describe(err error) error {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		detail := perr.Type + ": " + perr.Details
		if perr.DevInfo != "" {
			detail += " (" + perr.DevInfo + ")"
		}
		return errors.New(detail)
	}
	return err
}
