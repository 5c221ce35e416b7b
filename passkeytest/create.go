package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// creationOptions is the part of PublicKeyCredentialCreationOptions that
// an authenticator acts on.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        string `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials     []credentialDescriptor `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		ResidentKey        string `json:"residentKey"`
		RequireResidentKey bool   `json:"requireResidentKey"`
		UserVerification   string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Extensions struct {
		CredProps bool `json:"credProps"`
	} `json:"extensions"`
}

// registrationResponse is RegistrationResponseJSON, what
// PublicKeyCredential.toJSON() gives after create().
type registrationResponse struct {
	ID                      string         `json:"id"`
	RawID                   string         `json:"rawId"`
	Type                    string         `json:"type"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment"`
	Response                attestation    `json:"response"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults"`
}

type attestation struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
}

// Create answers navigator.credentials.create(): optionsJSON is the
// options ({"publicKey": {...}} or the bare options), the result is the
// credential's JSON, which keycard's finishPasskeyRegistration takes as
// is, and the new credential.
func (a *Authenticator) Create(optionsJSON string, opts ...Option) (string, *Credential, error) {
	var o creationOptions
	if err := publicKeyOptions(optionsJSON, &o); err != nil {
		return "", nil, err
	}
	c := a.newCeremony(opts)
	challenge, err := decodeBase64URL("challenge", o.Challenge)
	if err != nil {
		return "", nil, err
	}
	if len(challenge) == 0 {
		return "", nil, errors.New("passkeytest: the options have no challenge")
	}
	userHandle, err := decodeBase64URL("user.id", o.User.ID)
	if err != nil {
		return "", nil, err
	}
	if len(userHandle) == 0 || len(userHandle) > 64 {
		return "", nil, fmt.Errorf("passkeytest: user.id is %d bytes, must be 1 to 64", len(userHandle))
	}
	if !offersES256(o) {
		return "", nil, ErrUnsupportedAlgorithm
	}
	rpID := o.RP.ID
	if rpID == "" {
		if rpID, err = c.defaultRPID(); err != nil {
			return "", nil, err
		}
	}
	signedRPID := rpID
	if c.rpID != "" {
		signedRPID = c.rpID
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	point, err := key.PublicKey.Bytes()
	if err != nil {
		return "", nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", nil, err
	}
	sel := o.AuthenticatorSelection
	cred := &Credential{
		owner:        a,
		id:           make([]byte, 32),
		rpID:         rpID,
		userHandle:   userHandle,
		userName:     o.User.Name,
		discoverable: sel.ResidentKey == "required" || sel.ResidentKey == "preferred" || sel.RequireResidentKey,
		key:          key,
	}
	rand.Read(cred.id)
	if a.BackupEligible {
		cred.flags |= flagBE
	}
	if a.BackupState {
		cred.flags |= flagBS
	}
	if c.signCount != nil && !a.ZeroSignCount {
		cred.signCount = *c.signCount
	}

	flags := flagUP | flagAT | cred.flags
	if c.userVerified(sel.UserVerification) {
		flags |= flagUV
	}
	// Attested credential data: AAGUID (zero: attestation "none" does not
	// identify the model), credential id length and id, COSE public key.
	attested := make([]byte, 16)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(cred.id)))
	attested = append(attested, cred.id...)
	attested = append(attested, coseKeyES256(point)...)
	authData := authenticatorData(signedRPID, flags, cred.signCount, attested)

	a.mu.Lock()
	for _, held := range a.credentials {
		if held.rpID == rpID && listed(held.id, o.ExcludeCredentials) {
			a.mu.Unlock()
			return "", nil, ErrExcluded
		}
	}
	a.credentials = append(a.credentials, cred)
	a.mu.Unlock()

	transports := []string{"internal"}
	if a.attachment() == "cross-platform" {
		transports = []string{"usb"}
	}
	extensions := map[string]any{}
	if o.Extensions.CredProps {
		extensions["credProps"] = map[string]bool{"rk": cred.discoverable}
	}
	out, err := json.Marshal(registrationResponse{
		ID:                      cred.ID(),
		RawID:                   cred.ID(),
		Type:                    "public-key",
		AuthenticatorAttachment: a.attachment(),
		Response: attestation{
			ClientDataJSON:     b64.EncodeToString(clientDataJSON("webauthn.create", challenge, c.origin)),
			AttestationObject:  b64.EncodeToString(attestationObjectNone(authData)),
			AuthenticatorData:  b64.EncodeToString(authData),
			Transports:         transports,
			PublicKey:          b64.EncodeToString(spki),
			PublicKeyAlgorithm: coseES256,
		},
		ClientExtensionResults: extensions,
	})
	if err != nil {
		return "", nil, err
	}
	return string(out), cred, nil
}

// offersES256: an empty pubKeyCredParams stands for ES256 and RS256, as
// in a browser.
func offersES256(o creationOptions) bool {
	if len(o.PubKeyCredParams) == 0 {
		return true
	}
	for _, p := range o.PubKeyCredParams {
		if p.Type == "public-key" && p.Alg == coseES256 {
			return true
		}
	}
	return false
}
