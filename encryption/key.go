package encryption

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyBytes is the length of an encryption key: AES-256.
const KeyBytes = 32

// keyIDLength is the number of hex digits of a key id in a sealed value.
const keyIDLength = 8

// minDistinct is the fewest distinct values that the bytes of a key, and
// the differences between neighbouring bytes, may take. 32 bytes from a
// CSPRNG take 16 or fewer distinct values with probability about 2e-15,
// so a real key is never refused, while zeros, repeated short patterns
// and counting sequences (00 01 02 …) always are.
const minDistinct = 17

// generateHint ends every key error: what to do instead.
const generateHint = "use 32 random bytes, e.g. openssl rand -base64 32"

// ErrNoKey is returned by ParseKey and ParseKeyring for an empty key text:
// no encryption key is configured.
var ErrNoKey = errors.New("encryption: no encryption key is set")

// Key is one AES-256-GCM key and its id. The zero Key is not usable. A Key
// prints as its id only: the key bytes are not kept, only the cipher
// expanded from them.
type Key struct {
	id   string
	aead cipher.AEAD
}

// GenerateKey returns a new random key as base64 text, the form ParseKey
// reads and KEYCARD_ENCRYPTION_KEY takes.
func GenerateKey() string {
	for {
		raw := make([]byte, KeyBytes)
		rand.Read(raw) // never fails (crypto/rand crashes the program instead)
		// Retried only for completeness: a random key fails the check with
		// probability about 2e-15.
		if lowEntropy(raw) == "" {
			return base64.StdEncoding.EncodeToString(raw)
		}
	}
}

// ParseKey reads a key written as base64 (standard or URL alphabet, padded
// or not) or as 64 hex digits; surrounding white space is ignored. It
// refuses other lengths and keys that do not look random. Its errors never
// contain the text.
func ParseKey(text string) (Key, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Key{}, ErrNoKey
	}
	raw, err := decodeKeyText(text)
	if err != nil {
		return Key{}, err
	}
	if reason := lowEntropy(raw); reason != "" {
		return Key{}, fmt.Errorf("encryption key does not look random (%s): %s", reason, generateHint)
	}
	return newKey(raw)
}

func decodeKeyText(text string) ([]byte, error) {
	isHex := isHexText(text)
	if isHex && len(text) == 2*KeyBytes {
		return hex.DecodeString(text)
	}
	raw, b64err := decodeBase64(text)
	if b64err == nil && len(raw) == KeyBytes {
		return raw, nil
	}
	switch {
	case isHex && len(text)%2 == 0:
		return nil, fmt.Errorf("encryption key is %d hex digits (%d bytes), want %d hex digits (%d bytes): %s",
			len(text), len(text)/2, 2*KeyBytes, KeyBytes, generateHint)
	case b64err == nil:
		return nil, fmt.Errorf("encryption key decodes to %d bytes, want %d: %s", len(raw), KeyBytes, generateHint)
	}
	return nil, fmt.Errorf("encryption key is neither base64 nor hex: %s", generateHint)
}

func isHexText(text string) bool {
	for _, c := range []byte(text) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// decodeBase64 takes either alphabet, padded or not, but not a mix of the
// two alphabets, and only canonical encodings (no stray trailing bits).
func decodeBase64(text string) ([]byte, error) {
	unpadded := strings.TrimRight(text, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(unpadded, "-_") {
		enc = base64.RawURLEncoding
	}
	// The stdlib error names an offset only, but it is replaced anyway so
	// that no decoder detail about the text reaches a log.
	raw, err := enc.Strict().DecodeString(unpadded)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return raw, nil
}

// lowEntropy says why raw does not look like CSPRNG output, or "" when it
// does. The reasons describe the shape, never the bytes.
func lowEntropy(raw []byte) string {
	var seen, steps [256]bool
	distinct, distinctSteps, printable := 0, 0, 0
	for i, b := range raw {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
		if i > 0 {
			if step := b - raw[i-1]; !steps[step] {
				steps[step] = true
				distinctSteps++
			}
		}
		if 0x20 <= b && b < 0x7f {
			printable++
		}
	}
	switch {
	case distinct < minDistinct:
		return fmt.Sprintf("only %d distinct byte values", distinct)
	case distinctSteps < minDistinct:
		return "its bytes count up or down in a pattern"
	case printable == len(raw):
		// (95/256)^32 ≈ 2e-14 for random bytes: this is text, e.g. a
		// passphrase that was base64-encoded, with far less than 256 bits.
		return "every byte is printable text, as in an encoded passphrase"
	}
	return ""
}

func newKey(raw []byte) (Key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, errors.New("encryption key: cannot make an AES cipher")
	}
	// NewGCMWithRandomNonce draws a fresh 96-bit nonce for every Seal and
	// prepends it, so no caller can reuse a nonce.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return Key{}, errors.New("encryption key: cannot make AES-GCM")
	}
	return Key{id: keyID(raw), aead: aead}, nil
}

// keyID is a short, domain-separated hash of the key: enough to pick the
// key out of a ring, and 32 bits of a hash reveal nothing usable about 256
// bits of key.
func keyID(raw []byte) string {
	h := sha256.New()
	h.Write([]byte("keycard encryption key id\x00"))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))[:keyIDLength]
}

// ID is the key's id, as it appears in the values it seals.
func (k Key) ID() string { return k.id }

// String describes the key by its id only.
func (k Key) String() string {
	if k.aead == nil {
		return "encryption key (none)"
	}
	return "encryption key " + k.id
}

// Format prints String for every verb (%x, %d and %#v included), so no
// formatting of a Key shows more than its id.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }
