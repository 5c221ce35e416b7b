package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Passkeys are WebAuthn credentials: a key pair held by an authenticator
// (a phone, a laptop's platform authenticator, a security key) whose
// public half keycard keeps. A login with one is a complete login, with no
// password and no second factor asked for (amr "hwk"). The protocol work
// (options, attestation and assertion checks) is a RelyingParty's; this
// domain keeps the rules around it: challenges that are single use, expire
// by keycard's clock and answer only the ceremony and user they were
// issued for; signature counters that must grow; removal ending the other
// sessions. Registration is in passkey_registration.go, login in
// passkey_login.go.

// Passkey is a WebAuthn credential registered to a user.
type Passkey struct {
	ID     string
	UserID string
	// Name is the user's label for it ("work laptop").
	Name string
	// CredentialID is the authenticator's id of the credential, unique
	// across every user.
	CredentialID []byte
	// SignCount is the signature counter the authenticator reported last;
	// 0 for one that keeps none (synced passkeys).
	SignCount uint32
	// Record is what the relying party keeps to verify the credential's
	// assertions (public key, flags, transports); opaque to the domain.
	Record     []byte
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// PasskeyPurpose names the ceremony a challenge was issued for: it answers
// that ceremony only.
type PasskeyPurpose string

const (
	PasskeyRegistration PasskeyPurpose = "registration"
	PasskeyLogin        PasskeyPurpose = "login"
)

// PasskeyChallenge is a ceremony begun and not yet finished, kept on the
// server (never in the client's hands) until it is finished once or
// expires.
type PasskeyChallenge struct {
	ID      string
	Purpose PasskeyPurpose
	// UserID is whom the ceremony is for: the user registering, or the
	// user named at a username-first login (a random id that is nobody's
	// when the name has no passkeys). Empty for a discoverable login.
	UserID string
	// State is the relying party's record of the ceremony: the challenge
	// bytes and what the answer is checked against.
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PasskeyCeremony is what a begun ceremony gives the client: the id to
// finish it with and the options for navigator.credentials.
type PasskeyCeremony struct {
	ChallengeID string
	// Options is the JSON of PublicKeyCredentialCreationOptions or
	// PublicKeyCredentialRequestOptions (the publicKey member of what
	// navigator.credentials.create/get take), as
	// PublicKeyCredential.parseCreationOptionsFromJSON and
	// parseRequestOptionsFromJSON read it.
	Options string
}

// PasskeyUser is a user as the WebAuthn ceremonies name them.
type PasskeyUser struct {
	// Handle is user.id of the ceremonies: the 16 bytes of the user's id,
	// stable and carrying nothing personal (WebAuthn Level 3 §14.6.1).
	Handle []byte
	Name   string
}

// Ceremony is a ceremony the relying party began: the options for the
// browser and the state it needs to check the answer.
type Ceremony struct {
	Options string
	State   []byte
}

// Assertion is a browser's answer to a login ceremony, read but not
// verified: which credential answered and the user handle it claims.
type Assertion interface {
	CredentialID() []byte
	UserHandle() []byte
}

// VerifiedAssertion is what a verified assertion changes about its passkey.
type VerifiedAssertion struct {
	// SignCount is the counter the authenticator reported, whatever it is:
	// the domain decides what a regression is.
	SignCount uint32
	Record    []byte
}

// RelyingParty does the WebAuthn protocol work of the passkey ceremonies:
// the options for navigator.credentials.create() and get(), and every
// check of what the browser answers (challenge, type, origin, RP ID hash,
// user presence and verification, attestation, signature). Package passkey
// implements it over go-webauthn. Its errors are reasons to refuse, for
// the log: they never reach a client.
type RelyingParty interface {
	// BeginRegistration makes creation options for user that exclude the
	// credentials already registered.
	BeginRegistration(user PasskeyUser, registered []*Passkey) (Ceremony, error)
	// FinishRegistration checks response (the credential's JSON) against
	// state and returns the new credential: CredentialID, SignCount and
	// Record set.
	FinishRegistration(user PasskeyUser, state []byte, response string) (*Passkey, error)
	// BeginLogin makes request options: for the user with handle, listing
	// registered; with no handle, for a discoverable credential of anyone.
	BeginLogin(handle []byte, registered []*Passkey) (Ceremony, error)
	// ParseAssertion reads an assertion's JSON.
	ParseAssertion(response string) (Assertion, error)
	// VerifyAssertion checks a against state, for user whose passkeys are
	// registered (the one that answered among them).
	VerifyAssertion(user PasskeyUser, registered []*Passkey, state []byte, a Assertion) (*VerifiedAssertion, error)
}

const (
	// PasskeyChallengeTTL is how long a begun ceremony may be finished,
	// and the timeout its options give the browser.
	PasskeyChallengeTTL = 5 * time.Minute
	// MaxPasskeysPerUser bounds one account's passkeys: more than anyone
	// carries devices, few enough for every option list.
	MaxPasskeysPerUser = 20
	// maxPasskeyName is the longest passkey name, in characters.
	maxPasskeyName = 64
	// maxCredentialJSON bounds the credential JSON read: a credential
	// with attestation "none" is a couple of KiB.
	maxCredentialJSON = 16 << 10
	// defaultPasskeyName names a passkey registered without a name.
	defaultPasskeyName = "Passkey"
)

// passkeyHandle is the user handle of userID: its 16 bytes.
func passkeyHandle(userID string) []byte {
	id, err := uuid.Parse(userID)
	if err != nil {
		return []byte(userID) // not a keycard id; never matches one
	}
	return id[:]
}

func passkeyUser(u *User) PasskeyUser {
	return PasskeyUser{Handle: passkeyHandle(u.ID), Name: u.Username}
}

// relyingParty is the configured relying party, or the error that every
// ceremony answers without one (production without
// KEYCARD_WEBAUTHN_RP_ID).
func (s *Service) relyingParty() (RelyingParty, error) {
	if s.opts.RelyingParty == nil {
		return nil, ErrPasskeysOff
	}
	return s.opts.RelyingParty, nil
}

// beginCeremony stores a begun ceremony as a challenge for purpose and
// userID and returns what the client needs to finish it.
func (s *Service) beginCeremony(ctx context.Context, purpose PasskeyPurpose, userID string, c Ceremony) (*PasskeyCeremony, error) {
	now := s.clock()
	challenge := &PasskeyChallenge{
		// Random, not time-ordered: whoever could guess another's id
		// could spend that ceremony before its owner finishes it.
		ID:        uuid.NewString(),
		Purpose:   purpose,
		UserID:    userID,
		State:     c.State,
		CreatedAt: now,
		ExpiresAt: now.Add(PasskeyChallengeTTL),
	}
	if err := s.store.CreatePasskeyChallenge(ctx, challenge); err != nil {
		return nil, err
	}
	return &PasskeyCeremony{ChallengeID: challenge.ID, Options: c.Options}, nil
}

// takeChallenge spends the challenge id for purpose (and, unless userID is
// empty, for that user). It is gone after this call whether or not the
// ceremony then succeeds: an answer is checked against a challenge once.
func (s *Service) takeChallenge(ctx context.Context, id string, purpose PasskeyPurpose, userID string) (*PasskeyChallenge, error) {
	if !validID(id) {
		return nil, ErrPasskeyChallenge
	}
	challenge, err := s.store.TakePasskeyChallenge(ctx, id, purpose, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrPasskeyChallenge
	}
	if err != nil {
		return nil, err
	}
	// keycard's clock decides, not the relying party's: one clock for
	// every expiry, and tests can move it.
	if !s.clock().Before(challenge.ExpiresAt) {
		return nil, ErrPasskeyChallenge
	}
	return challenge, nil
}

// checkCredentialJSON refuses what cannot be a credential before anything
// parses it.
func checkCredentialJSON(response string) error {
	if response == "" || len(response) > maxCredentialJSON {
		return ErrPasskeyRefused
	}
	return nil
}

// passkeyName is the name to store: trimmed, the default when empty.
func passkeyName(name *string) (string, error) {
	if name == nil || strings.TrimSpace(*name) == "" {
		return defaultPasskeyName, nil
	}
	n := strings.TrimSpace(*name)
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > maxPasskeyName {
		return "", Invalid("name", "a passkey name is 1 to %d characters", maxPasskeyName)
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "", Invalid("name", "a passkey name may not contain control characters")
		}
	}
	return n, nil
}

// passkeyDetail is the audit detail of an event about p: its id and name,
// neither of them secret.
func passkeyDetail(p *Passkey) string {
	return clip(fmt.Sprintf("passkey %s %q", p.ID, p.Name), 255)
}

// Passkeys lists the caller's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, c *Claims) ([]*Passkey, error) {
	return s.store.Passkeys(ctx, c.UserID())
}

// RemovePasskey deletes one of the caller's passkeys. It reports false for
// an id that is not one of theirs (another user's is treated exactly like
// an unknown one). Removing one ends every other session of the user — the
// passkey may be removed because its device was lost, and whoever holds the
// device may have signed in with it — and bumps the credential version, so
// that nothing checked before the removal acts after it.
func (s *Service) RemovePasskey(ctx context.Context, c *Claims, id string, client Client) (bool, error) {
	if !validID(id) {
		return false, nil
	}
	userID := c.UserID()
	now := s.clock()
	var (
		removed *Passkey
		revoked []Revocation
	)
	err := s.store.Tx(ctx, func(tx Store) error {
		removed, revoked = nil, nil
		// Locks the user's row: a login with the passkey that checked it
		// before the removal commits first or not at all.
		credential, err := tx.Credential(ctx, userID)
		if errors.Is(err, ErrNotFound) {
			return ErrNotAuthenticated
		}
		if err != nil {
			return err
		}
		removed, err = tx.DeletePasskey(ctx, userID, id)
		if errors.Is(err, ErrNotFound) {
			removed = nil
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.ChangeCredential(ctx, userID, credential.Version, ""); err != nil {
			return err
		}
		live, err := tx.SessionsBeyond(ctx, userID, 0, now)
		if err != nil {
			return err
		}
		// Never nil: RevokeSessions takes nil for every session, the
		// caller's included.
		others := make([]string, 0, len(live))
		for _, sid := range live {
			if sid != c.SessionID {
				others = append(others, sid)
			}
		}
		if revoked, err = tx.RevokeSessions(ctx, userID, others, now, now.Add(s.tokens.MaxLifetime())); err != nil {
			return err
		}
		e := newEvent(EventPasskeyRemoved, userID, "", c.SessionID, client, now)
		e.Detail = passkeyDetail(removed)
		return tx.RecordEvent(ctx, e)
	})
	if err != nil {
		return false, err
	}
	s.remember(revoked)
	return removed != nil, nil
}
