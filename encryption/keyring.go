package encryption

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Keyring is the current key, which seals, and the old keys that still
// open values during a rotation. It is safe for concurrent use and never
// changes after it is made.
type Keyring struct {
	current Key
	byID    map[string]Key
}

// NewKeyring makes a ring that seals with current and opens with current
// and old. A key given twice, or two keys whose ids collide, is refused:
// each id must name one key.
func NewKeyring(current Key, old ...Key) (*Keyring, error) {
	if current.aead == nil {
		return nil, ErrNoKey
	}
	r := &Keyring{current: current, byID: map[string]Key{current.id: current}}
	for i, k := range old {
		if k.aead == nil {
			return nil, fmt.Errorf("encryption: old key %d is empty", i+1)
		}
		if _, dup := r.byID[k.id]; dup {
			return nil, fmt.Errorf("encryption: old key %d (id %s) is listed twice or is the current key", i+1, k.id)
		}
		r.byID[k.id] = k
	}
	return r, nil
}

// ParseKeyring reads the current key (KEYCARD_ENCRYPTION_KEY) and the old
// keys (KEYCARD_ENCRYPTION_KEYS_OLD, comma-separated, may be empty). An
// empty current key is ErrNoKey, whether or not old keys are given: old
// keys only open, something must seal. Errors name the variable and the
// position of the key, never its text.
func ParseKeyring(current, old string) (*Keyring, error) {
	cur, err := ParseKey(current)
	if err != nil {
		if errors.Is(err, ErrNoKey) {
			return nil, err
		}
		return nil, fmt.Errorf("KEYCARD_ENCRYPTION_KEY: %w", err)
	}
	var olds []Key
	if strings.TrimSpace(old) != "" {
		items := strings.Split(old, ",")
		for i, item := range items {
			k, err := ParseKey(item)
			if errors.Is(err, ErrNoKey) {
				return nil, fmt.Errorf("KEYCARD_ENCRYPTION_KEYS_OLD: key %d of %d is empty", i+1, len(items))
			}
			if err != nil {
				return nil, fmt.Errorf("KEYCARD_ENCRYPTION_KEYS_OLD: key %d of %d: %w", i+1, len(items), err)
			}
			olds = append(olds, k)
		}
	}
	r, err := NewKeyring(cur, olds...)
	if err != nil {
		return nil, fmt.Errorf("KEYCARD_ENCRYPTION_KEYS_OLD: %w", err)
	}
	return r, nil
}

// CurrentID is the id of the key that seals.
func (r *Keyring) CurrentID() string { return r.current.id }

// String describes the ring by its key ids only.
func (r Keyring) String() string {
	return fmt.Sprintf("encryption keyring (current %s, %d old)", r.current.id, len(r.byID)-1)
}

// Format prints String for every verb, so no formatting of a Keyring
// shows key material.
func (r Keyring) Format(f fmt.State, _ rune) { io.WriteString(f, r.String()) }
