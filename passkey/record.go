package passkey

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keycard/keycard/auth"
)

// record is what keycard keeps of a credential to verify its assertions:
// this package's own format, versioned, so that a go-webauthn upgrade that
// reshapes its Credential cannot make stored passkeys unreadable. The
// counter is not in it: auth keeps that in its own column.
type record struct {
	Version           int      `json:"v"`
	PublicKey         []byte   `json:"publicKey"`
	AttestationType   string   `json:"attestationType,omitempty"`
	AttestationFormat string   `json:"attestationFormat,omitempty"`
	Transports        []string `json:"transports,omitempty"`
	// Flags is the authenticator data flags byte as last recorded (UV
	// latched from registration, BE fixed, BS as last seen).
	Flags      byte   `json:"flags"`
	AAGUID     []byte `json:"aaguid,omitempty"`
	Attachment string `json:"attachment,omitempty"`
}

const recordVersion = 1

func newRecord(c *webauthn.Credential) ([]byte, error) {
	transports := make([]string, len(c.Transport))
	for i, t := range c.Transport {
		transports[i] = string(t)
	}
	return json.Marshal(record{
		Version:           recordVersion,
		PublicKey:         c.PublicKey,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Transports:        transports,
		Flags:             byte(c.Flags.ProtocolValue()),
		AAGUID:            c.Authenticator.AAGUID,
		Attachment:        string(c.Authenticator.Attachment),
	})
}

// credential rebuilds go-webauthn's credential from a stored passkey.
func credential(p *auth.Passkey) (webauthn.Credential, error) {
	var r record
	if err := json.Unmarshal(p.Record, &r); err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey %s: unreadable record: %w", p.ID, err)
	}
	if r.Version != recordVersion || len(r.PublicKey) == 0 {
		return webauthn.Credential{}, fmt.Errorf("passkey %s: record version %d is not %d", p.ID, r.Version, recordVersion)
	}
	transports := make([]protocol.AuthenticatorTransport, len(r.Transports))
	for i, t := range r.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         r.PublicKey,
		AttestationType:   r.AttestationType,
		AttestationFormat: r.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(r.Flags)),
		Authenticator: webauthn.Authenticator{
			AAGUID:     r.AAGUID,
			SignCount:  p.SignCount,
			Attachment: protocol.AuthenticatorAttachment(r.Attachment),
		},
	}, nil
}

// ceremony serialises a begun ceremony: the options as the browser's
// parse*OptionsFromJSON reads them (the publicKey member, not the
// {publicKey: ...} wrapper) and the session data as state.
func ceremony(options any, session *webauthn.SessionData) (auth.Ceremony, error) {
	optionsJSON, err := json.Marshal(options)
	if err != nil {
		return auth.Ceremony{}, err
	}
	state, err := json.Marshal(session)
	if err != nil {
		return auth.Ceremony{}, err
	}
	return auth.Ceremony{Options: string(optionsJSON), State: state}, nil
}

func readState(state []byte) (webauthn.SessionData, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return session, fmt.Errorf("passkey: unreadable ceremony state: %w", err)
	}
	if session.Challenge == "" {
		return session, errors.New("passkey: ceremony state has no challenge")
	}
	return session, nil
}
