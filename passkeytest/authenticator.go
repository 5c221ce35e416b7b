package passkeytest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
)

// Errors a browser would report as a DOMException.
var (
	// ErrNoCredential: no credential of the RP fits the options
	// (NotAllowedError).
	ErrNoCredential = errors.New("passkeytest: no credential for these options")
	// ErrExcluded: the authenticator holds a credential that
	// excludeCredentials lists (InvalidStateError).
	ErrExcluded = errors.New("passkeytest: the authenticator already holds an excluded credential")
	// ErrUnsupportedAlgorithm: pubKeyCredParams does not offer ES256
	// (NotSupportedError).
	ErrUnsupportedAlgorithm = errors.New("passkeytest: pubKeyCredParams does not offer ES256 (-7)")
)

// Authenticator flags (authenticator data, WebAuthn Level 3).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backup state
	flagAT = 0x40 // attested credential data included
)

// coseES256 is the COSE algorithm identifier of ECDSA P-256 with SHA-256.
const coseES256 = -7

var b64 = base64.RawURLEncoding

// Authenticator holds credentials and answers ceremonies for the page at
// Origin. Set its fields before the first ceremony; its methods are safe
// for concurrent use.
type Authenticator struct {
	// Origin is the origin of the calling page, as clientDataJSON reports
	// it, e.g. "http://localhost:8080". Its host is the RP ID when the
	// options name none.
	Origin string
	// Attachment is reported as authenticatorAttachment: "platform" when
	// empty, or "cross-platform" (a security key).
	Attachment string
	// BackupEligible and BackupState set the BE and BS flags of the
	// credentials created from then on, and of their assertions: a synced
	// passkey has both.
	BackupEligible, BackupState bool
	// ZeroSignCount: the authenticator keeps no signature counter and
	// reports 0 every time, as synced passkeys do.
	ZeroSignCount bool

	mu          sync.Mutex
	credentials []*Credential // oldest first
}

// New returns an authenticator with no credentials for the page at origin.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin}
}

// Clone returns a second authenticator holding copies of the same
// credentials (same keys, same counters); from then on the two count
// separately, as a cloned security key and its original do, so the next
// assertions of both report the same counter.
func (a *Authenticator) Clone() *Authenticator {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := &Authenticator{
		Origin:         a.Origin,
		Attachment:     a.Attachment,
		BackupEligible: a.BackupEligible,
		BackupState:    a.BackupState,
		ZeroSignCount:  a.ZeroSignCount,
	}
	for _, cred := range a.credentials {
		dup := *cred
		dup.owner = c
		c.credentials = append(c.credentials, &dup)
	}
	return c
}

// Credentials lists the authenticator's credentials, oldest first.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.credentials)
}

// Credential is one key pair held by an Authenticator.
type Credential struct {
	owner        *Authenticator
	id           []byte
	rpID         string
	userHandle   []byte
	userName     string
	discoverable bool
	flags        byte // BE and BS
	key          *ecdsa.PrivateKey
	signCount    uint32
}

// RawID is the credential id.
func (c *Credential) RawID() []byte { return slices.Clone(c.id) }

// ID is the credential id in base64url, as the JSON "id" carries it.
func (c *Credential) ID() string { return b64.EncodeToString(c.id) }

// RPID is the relying party the credential was created for.
func (c *Credential) RPID() string { return c.rpID }

// UserHandle is the user.id of the creation options.
func (c *Credential) UserHandle() []byte { return slices.Clone(c.userHandle) }

// UserName is the user.name of the creation options.
func (c *Credential) UserName() string { return c.userName }

// Discoverable reports a client-side discoverable (resident) credential,
// one that get() finds without allowCredentials.
func (c *Credential) Discoverable() bool { return c.discoverable }

// PublicKey is the credential's public key.
func (c *Credential) PublicKey() *ecdsa.PublicKey { return &c.key.PublicKey }

// SignCount is the counter the last response reported.
func (c *Credential) SignCount() uint32 {
	c.owner.mu.Lock()
	defer c.owner.mu.Unlock()
	return c.signCount
}

// Option changes one ceremony.
type Option func(*ceremony)

type ceremony struct {
	origin            string
	rpID              string // signed for, when not the options' RP ID
	noUV              bool
	signCount         *uint32
	credential        *Credential
	userHandle        []byte
	replaceUserHandle bool
}

// WithOrigin makes clientDataJSON report origin instead of the
// authenticator's: the response of another page.
func WithOrigin(origin string) Option { return func(c *ceremony) { c.origin = origin } }

// WithRPID signs for rpID (its hash goes into the authenticator data)
// instead of the RP ID of the options; credentials are still looked up
// under the options' RP ID.
func WithRPID(rpID string) Option { return func(c *ceremony) { c.rpID = rpID } }

// WithoutUserVerification leaves the UV flag off: the user touched the
// authenticator but gave no PIN or biometric.
func WithoutUserVerification() Option { return func(c *ceremony) { c.noUV = true } }

// WithSignCount reports n as the signature counter (and keeps counting
// from n), e.g. a value at or below the last one to test a regression.
func WithSignCount(n uint32) Option { return func(c *ceremony) { c.signCount = &n } }

// WithCredential makes get() use cred, even when allowCredentials does not
// list it or it is not discoverable.
func WithCredential(cred *Credential) Option { return func(c *ceremony) { c.credential = cred } }

// WithUserHandle makes get() report handle as userHandle (nil: none),
// instead of the credential's own handle.
func WithUserHandle(handle []byte) Option {
	return func(c *ceremony) { c.userHandle, c.replaceUserHandle = handle, true }
}

func (a *Authenticator) newCeremony(opts []Option) *ceremony {
	c := &ceremony{origin: a.Origin}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// defaultRPID is what a browser uses when the options name no RP ID: the
// host of the calling page.
func (c *ceremony) defaultRPID() (string, error) {
	u, err := url.Parse(c.origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("passkeytest: origin %q has no host and the options name no RP ID", c.origin)
	}
	return u.Hostname(), nil
}

func (a *Authenticator) attachment() string {
	if a.Attachment == "" {
		return "platform"
	}
	return a.Attachment
}

// clientDataJSON is CollectedClientData as a browser serialises it: type,
// challenge, origin, crossOrigin, in that order. challenge is re-encoded
// from its bytes, as a browser does.
func clientDataJSON(typ string, challenge []byte, origin string) []byte {
	out, _ := json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, b64.EncodeToString(challenge), origin, false})
	return out
}

// authenticatorData is rpIdHash || flags || signCount (big-endian), then
// the attested credential data, if any.
func authenticatorData(rpID string, flags byte, signCount uint32, attested []byte) []byte {
	hash := sha256.Sum256([]byte(rpID))
	out := append(hash[:], flags)
	out = binary.BigEndian.AppendUint32(out, signCount)
	return append(out, attested...)
}

// decodeBase64URL reads the base64url of the options JSON, padded or not,
// as the browser's parseCreationOptionsFromJSON does.
func decodeBase64URL(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(trimPadding(s))
	if err != nil {
		return nil, fmt.Errorf("passkeytest: %s is not base64url: %v", field, err)
	}
	return b, nil
}

func trimPadding(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

// publicKeyOptions unwraps {"publicKey": {...}} (a CredentialCreationOptions
// or CredentialRequestOptions, as go-webauthn serialises its Begin
// results) or takes the bare PublicKeyCredential*Options.
func publicKeyOptions(optionsJSON string, into any) error {
	var wrapper struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(optionsJSON), &wrapper); err != nil {
		return fmt.Errorf("passkeytest: options are not JSON: %v", err)
	}
	raw := json.RawMessage(optionsJSON)
	if len(wrapper.PublicKey) > 0 {
		raw = wrapper.PublicKey
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("passkeytest: options: %v", err)
	}
	return nil
}

type credentialDescriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func listed(id []byte, list []credentialDescriptor) bool {
	for _, d := range list {
		if raw, err := decodeBase64URL("credential id", d.ID); err == nil && string(raw) == string(id) {
			return true
		}
	}
	return false
}

// userVerified: an authenticator that can verify does so unless the RP
// discourages it or the test turned it off.
func (c *ceremony) userVerified(requirement string) bool {
	return !c.noUV && requirement != "discouraged"
}
