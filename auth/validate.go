package auth

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

const (
	minUsernameLen = 3
	maxUsernameLen = 32
	minPasswordLen = 8
	maxPasswordLen = 128
	// MaxPasswordBytes bounds any password keycard will hash, checked or
	// not: refused before a rate limit or a hash slot is spent, so a
	// client cannot park megabytes in the hash queue. Every password the
	// policy admits (128 characters, 4 bytes each at most) fits.
	MaxPasswordBytes = 1024
	// RFC 5321 limits a forward path to 256 octets including the angle
	// brackets, which leaves 254 for the address.
	maxEmailLen = 254
)

// ValidateUsername enforces 3 to 32 ASCII letters, digits, '_', '.', '-'.
// ASCII only: Unicode letters bring look-alike names ("аdmin" with a
// Cyrillic а) and case-folding surprises that uniqueness cannot see.
func ValidateUsername(username string) error {
	if username == "" {
		return Invalid("username", "username is required")
	}
	for i := 0; i < len(username); i++ {
		if !isUsernameByte(username[i]) {
			return Invalid("username", "username may contain only letters, digits, '_', '.' and '-'")
		}
	}
	if len(username) < minUsernameLen || len(username) > maxUsernameLen {
		return Invalid("username", "username must be %d to %d characters long", minUsernameLen, maxUsernameLen)
	}
	return nil
}

func isUsernameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// UsernameKey is the canonical form uniqueness and look-up use, so "Alice"
// and "alice" are one account. ok is false for names that cannot exist.
func UsernameKey(username string) (key string, ok bool) {
	if len(username) < minUsernameLen || len(username) > maxUsernameLen {
		return "", false
	}
	b := []byte(username)
	for i, c := range b {
		if !isUsernameByte(c) {
			return "", false
		}
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b), true
}

// ValidatePassword enforces the password policy for a user with username
// on the input field "password".
func ValidatePassword(password, username string) error {
	return checkPassword("password", password, username)
}

// checkPassword enforces the policy of NIST SP 800-63B §5.1.1.2: a length
// counted in characters, not bytes, so a passphrase in any script gets the
// same allowance; not the username; not a commonly used password. No
// composition rules (they make passwords harder to remember, not to
// guess). field names the input the password came in.
func checkPassword(field, password, username string) error {
	// The byte bound first, so a huge password is refused before its
	// characters are counted (beyond it there are more than 128 anyway).
	if len(password) > MaxPasswordBytes || utf8.RuneCountInString(password) > maxPasswordLen {
		return Invalid(field, "password must be at most %d characters long", maxPasswordLen)
	}
	if utf8.RuneCountInString(password) < minPasswordLen {
		return Invalid(field, "password must be at least %d characters long", minPasswordLen)
	}
	if username != "" && strings.EqualFold(password, username) {
		return Invalid(field, "password must not be the same as the username")
	}
	if isCommonPassword(password) {
		return Invalid(field, "this password is one of the most commonly used, so it is easy to guess; choose another")
	}
	return nil
}

// checkPasswordSize refuses a password over MaxPasswordBytes on the input
// field it came in, in constant time: the first check of a password that
// is not held to the policy (one to sign in with), before anything is
// counted, limited or hashed.
func checkPasswordSize(field, password string) error {
	if len(password) > MaxPasswordBytes {
		return Invalid(field, "password must be at most %d bytes long", MaxPasswordBytes)
	}
	return nil
}

// NormalizeEmail validates an address and returns its canonical key
// (lower-cased, for uniqueness).
func NormalizeEmail(email string) (string, error) {
	invalid := Invalid("email", "email must be a valid address like name@example.com")
	if email == "" || len(email) > maxEmailLen || strings.TrimSpace(email) != email {
		return "", invalid
	}
	addr, err := mail.ParseAddress(email)
	// The parsed form must be the input itself: display names ("Bob
	// <bob@x>"), comments and quoting are not addresses a user types.
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", invalid
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if at <= 0 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", invalid
	}
	return strings.ToLower(email), nil
}
