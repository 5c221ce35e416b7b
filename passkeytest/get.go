package passkeytest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
)

// requestOptions is the part of PublicKeyCredentialRequestOptions that an
// authenticator acts on.
type requestOptions struct {
	Challenge        string                 `json:"challenge"`
	RPID             string                 `json:"rpId"`
	AllowCredentials []credentialDescriptor `json:"allowCredentials"`
	UserVerification string                 `json:"userVerification"`
}

// authenticationResponse is AuthenticationResponseJSON, what
// PublicKeyCredential.toJSON() gives after get().
type authenticationResponse struct {
	ID                      string         `json:"id"`
	RawID                   string         `json:"rawId"`
	Type                    string         `json:"type"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment"`
	Response                assertion      `json:"response"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults"`
}

type assertion struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

// Get answers navigator.credentials.get(): optionsJSON is the options
// ({"publicKey": {...}} or the bare options), the result is the
// assertion's JSON, which keycard's finishPasskeyLogin takes as is. Each
// assertion advances the credential's counter by one (see ZeroSignCount
// and WithSignCount).
func (a *Authenticator) Get(optionsJSON string, opts ...Option) (string, error) {
	var o requestOptions
	if err := publicKeyOptions(optionsJSON, &o); err != nil {
		return "", err
	}
	c := a.newCeremony(opts)
	challenge, err := decodeBase64URL("challenge", o.Challenge)
	if err != nil {
		return "", err
	}
	if len(challenge) == 0 {
		return "", errors.New("passkeytest: the options have no challenge")
	}
	rpID := o.RPID
	if rpID == "" {
		if rpID, err = c.defaultRPID(); err != nil {
			return "", err
		}
	}
	signedRPID := rpID
	if c.rpID != "" {
		signedRPID = c.rpID
	}

	if c.credential != nil && c.credential.owner != a {
		return "", errors.New("passkeytest: WithCredential names a credential of another authenticator")
	}
	a.mu.Lock()
	cred := c.credential
	if cred == nil {
		cred = a.pick(rpID, o.AllowCredentials)
	}
	if cred == nil {
		a.mu.Unlock()
		return "", ErrNoCredential
	}
	switch {
	case a.ZeroSignCount:
		cred.signCount = 0
	case c.signCount != nil:
		cred.signCount = *c.signCount
	default:
		cred.signCount++
	}
	signCount := cred.signCount
	a.mu.Unlock()

	flags := flagUP | cred.flags
	if c.userVerified(o.UserVerification) {
		flags |= flagUV
	}
	authData := authenticatorData(signedRPID, flags, signCount, nil)
	clientData := clientDataJSON("webauthn.get", challenge, c.origin)
	clientDataHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(authData, clientDataHash[:]...))
	signature, err := ecdsa.SignASN1(rand.Reader, cred.key, digest[:])
	if err != nil {
		return "", err
	}

	// An authenticator returns the user handle of a discoverable
	// credential; for others it may return none (WebAuthn Level 3).
	var userHandle []byte
	if cred.discoverable {
		userHandle = cred.userHandle
	}
	if c.replaceUserHandle {
		userHandle = c.userHandle
	}
	out, err := json.Marshal(authenticationResponse{
		ID:                      cred.ID(),
		RawID:                   cred.ID(),
		Type:                    "public-key",
		AuthenticatorAttachment: a.attachment(),
		Response: assertion{
			ClientDataJSON:    b64.EncodeToString(clientData),
			AuthenticatorData: b64.EncodeToString(authData),
			Signature:         b64.EncodeToString(signature),
			UserHandle:        b64.EncodeToString(userHandle),
		},
		ClientExtensionResults: map[string]any{},
	})
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// pick is the newest credential of rpID that allow lists or, with no list,
// the newest discoverable one. a.mu is held.
func (a *Authenticator) pick(rpID string, allow []credentialDescriptor) *Credential {
	for i := len(a.credentials) - 1; i >= 0; i-- {
		cred := a.credentials[i]
		if cred.rpID != rpID {
			continue
		}
		if len(allow) > 0 && listed(cred.id, allow) || len(allow) == 0 && cred.discoverable {
			return cred
		}
	}
	return nil
}
