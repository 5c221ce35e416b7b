package encryption

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors of Open, Reseal and KeyID; test them with errors.Is.
var (
	// ErrMalformed: the text is not a sealed value of a known version.
	ErrMalformed = errors.New("encryption: not a sealed value")
	// ErrUnknownKey: sealed under a key the ring does not hold; during a
	// rotation its text belongs in KEYCARD_ENCRYPTION_KEYS_OLD.
	ErrUnknownKey = errors.New("encryption: sealed under a key that is not configured")
	// ErrCannotOpen: the right key does not open it: the value was
	// altered, or it was sealed for other associated data (another row or
	// purpose).
	ErrCannotOpen = errors.New("encryption: sealed value does not open: altered, or sealed for another record")
)

// MaxPlaintextBytes is the largest plaintext Seal takes: these are small
// secrets, and Open can refuse an oversized text before decoding it.
const MaxPlaintextBytes = 64 << 10

const (
	version1 = "v1"
	// nonceBytes and tagBytes are AES-GCM's standard sizes, as produced by
	// cipher.NewGCMWithRandomNonce.
	nonceBytes = 12
	tagBytes   = 16
)

// maxSealedLen bounds the text Open decodes: header plus the base64 of
// the largest value Seal makes.
var maxSealedLen = len(version1) + 1 + keyIDLength + 1 +
	base64.RawURLEncoding.EncodedLen(nonceBytes+MaxPlaintextBytes+tagBytes)

// Seal encrypts plaintext under the current key, bound to aad, which names
// the purpose and the row, e.g. "totp:" + user id. aad must not be empty:
// an unbound value could be moved to any row. The result is ASCII text.
func (r *Keyring) Seal(plaintext []byte, aad string) (string, error) {
	if aad == "" {
		return "", errors.New("encryption: Seal needs associated data naming the purpose and row")
	}
	if len(plaintext) > MaxPlaintextBytes {
		return "", fmt.Errorf("encryption: plaintext is %d bytes, at most %d may be sealed", len(plaintext), MaxPlaintextBytes)
	}
	k := r.current
	header := version1 + "." + k.id + "."
	sealed := k.aead.Seal(nil, nil, plaintext, additionalData(header, aad))
	return header + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value sealed by Seal under any key of the ring with the
// same aad.
func (r *Keyring) Open(sealed, aad string) ([]byte, error) {
	id, body, err := split(sealed)
	if err != nil {
		return nil, err
	}
	k, ok := r.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < nonceBytes+tagBytes {
		return nil, ErrMalformed
	}
	plaintext, err := k.aead.Open(nil, nil, raw, additionalData(sealed[:len(sealed)-len(body)], aad))
	if err != nil {
		// crypto/cipher's error says nothing more than this one does.
		return nil, ErrCannotOpen
	}
	return plaintext, nil
}

// Reseal opens sealed and, when an old key sealed it, seals it again under
// the current key: what `keycard keys rotate-encryption` does per row.
// changed is false, and resealed is sealed itself, when the current key
// sealed it already; it is still opened, so a corrupt row is reported
// rather than skipped.
func (r *Keyring) Reseal(sealed, aad string) (resealed string, changed bool, err error) {
	plaintext, err := r.Open(sealed, aad)
	if err != nil {
		return "", false, err
	}
	defer clear(plaintext)
	if id, _, _ := split(sealed); id == r.current.id {
		return sealed, false, nil
	}
	resealed, err = r.Seal(plaintext, aad)
	if err != nil {
		return "", false, err
	}
	return resealed, true, nil
}

// KeyID is the id of the key that sealed the value, read without opening
// it: a rotation can count the rows still under each old key.
func KeyID(sealed string) (string, error) {
	id, _, err := split(sealed)
	return id, err
}

// split checks the header of a sealed value and returns its key id and its
// base64 body. It only returns an id of the right shape, so an error that
// names the id cannot carry arbitrary input.
func split(sealed string) (id, body string, err error) {
	if len(sealed) > maxSealedLen {
		return "", "", ErrMalformed
	}
	rest, ok := strings.CutPrefix(sealed, version1+".")
	if !ok {
		return "", "", ErrMalformed
	}
	id, body, ok = strings.Cut(rest, ".")
	if !ok || !isKeyID(id) || !isBase64URL(body) {
		return "", "", ErrMalformed
	}
	return id, body, nil
}

// isBase64URL checks the alphabet itself because Go's decoders skip CR and
// LF even in strict mode: one value must have one spelling.
func isBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isKeyID(s string) bool {
	if len(s) != keyIDLength {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// additionalData binds the version and key id (the header, "v1.<id>.")
// and the caller's aad. The header has a fixed shape, so the boundary
// between the two parts is unambiguous.
func additionalData(header, aad string) []byte {
	return []byte(header + aad)
}
