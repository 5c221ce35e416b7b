// Package encryption seals keycard's small secrets at rest: second-factor
// material (TOTP secrets, WebAuthn ceremony state) that a database dump
// alone must not yield. It holds the Key (one AES-256 key, parsed and
// checked from KEYCARD_ENCRYPTION_KEY's text), the Keyring (the current key
// that seals plus the old keys of KEYCARD_ENCRYPTION_KEYS_OLD that still
// open during a rotation) and the sealed-value format. It imports the
// standard library only, nothing else of keycard.
//
// # Keys
//
// A key is 32 random bytes written as base64 (standard or URL alphabet,
// padded or not) or as 64 hex digits; `openssl rand -base64 32` makes one
// and GenerateKey makes one in process (development keeps a generated key
// with its data). ParseKey refuses other lengths and keys that do not look
// random (few distinct bytes, a counting or repeating pattern, printable
// text such as an encoded passphrase): a guessable key is no key. These keys
// are independent of the token signing keys, so rotating those never
// breaks a second factor.
//
// # Sealed values
//
//	v1.<key id>.<base64url(nonce || ciphertext || tag)>
//
// AES-256-GCM with a random 96-bit nonce per value (sealing a few secrets
// per user stays far below the 2^32 values per key that random nonces
// allow). The key id is 8 hex digits of a domain-separated SHA-256 of the
// key: it tells Open which key of the ring to use, and tells a rotation
// which rows are still under an old key, without revealing the key. The
// value is text so that it fits any VARCHAR/TEXT column on every database.
//
// Every value is bound to associated data naming its purpose and its row,
// e.g. "totp:" + user id: a sealed secret copied into another user's row,
// or a WebAuthn session used as a TOTP secret, fails to open. The version
// and key id are bound too, so a future format cannot be confused with
// this one.
//
// # Errors
//
// Open fails with ErrMalformed (not a sealed value), ErrUnknownKey (sealed
// under a key the ring does not hold: add it to KEYCARD_ENCRYPTION_KEYS_OLD)
// or ErrCannotOpen (tampered, or sealed for other associated data). No
// error of this package ever contains key material, plaintext or the
// sealed value, and Key and Keyring print as their key ids only, with
// every fmt verb, so a stray log line cannot leak them.
package encryption
