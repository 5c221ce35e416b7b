// Package passkeytest is a software WebAuthn authenticator, and the browser
// in front of it, for keycard's tests: it answers the options JSON of
// navigator.credentials.create() and get() with the PublicKeyCredential
// JSON a browser would send back (its toJSON() form), so a test can drive
// passkey registration and login end to end without a browser. Only tests
// import it. It imports the standard library only, and in particular not
// the WebAuthn library keycard verifies with, so that the two check each
// other rather than share a bug.
//
// # What it makes
//
// Credentials are ES256 (P-256) keys with attestation "none": the
// attestation object is CBOR {fmt: "none", attStmt: {}, authData}, the
// authenticator data holds the SHA-256 of the RP ID, the flags (UP, UV, AT
// on creation, BE and BS when asked), the signature counter and, on
// creation, the attested credential data (zero AAGUID, credential id, COSE
// EC2 key). clientDataJSON carries type, challenge and origin; assertions
// are ASN.1 DER ECDSA signatures over authenticatorData ||
// SHA-256(clientDataJSON), as WebAuthn Level 3 lays down (authenticator
// data, attested credential data, the "none" attestation format).
//
// Creation honours pubKeyCredParams (ES256 must be offered),
// excludeCredentials, residentKey/requireResidentKey (discoverable or not)
// and the credProps extension. An assertion uses the newest credential of
// the RP that allowCredentials lists or, with no list, the newest
// discoverable one, and carries the userHandle of a discoverable
// credential.
//
// # Knobs for the cases a relying party must refuse
//
//   - WithOrigin and WithRPID: a response from another page, or signed for
//     another relying party (a phishing page, a relayed ceremony).
//   - WithSignCount: report a chosen counter, e.g. one lower than the last
//     (a regression); Clone gives two authenticators holding the same keys
//     whose counters then diverge, as a cloned security key's would.
//   - WithoutUserVerification: the UV flag stays off (touch only).
//   - WithCredential and WithUserHandle: assert with a credential the
//     options do not allow, or claim another user's handle, as a malicious
//     client could.
//   - Authenticator.ZeroSignCount: no counter at all (always 0), as synced
//     passkeys do; BackupEligible and BackupState set BE and BS.
//
// Unlike a browser it does not check that the RP ID is a registrable
// suffix of the origin: tests need to send what a browser never would.
package passkeytest
