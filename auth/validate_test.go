package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkInvalid fails unless err is a KindInvalidInput *Error naming field.
func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if e.Kind != KindInvalidInput || e.Field != field {
		t.Errorf("error kind %v field %q, want kind %v field %q", e.Kind, e.Field, KindInvalidInput, field)
	}
	if e.Message == "" {
		t.Error("error has no message for the client")
	}
}

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name     string
		username string
		valid    bool
	}{
		{"three letters", "abc", true},
		{"32 characters", strings.Repeat("a", 32), true},
		{"punctuation", "a.b-c_d", true},
		{"upper case", "ABC", true},
		{"digits", "007", true},
		{"empty", "", false},
		{"two characters", "ab", false},
		{"33 characters", strings.Repeat("a", 33), false},
		{"space", "has space", false},
		{"exclamation mark", "bad!", false},
		{"latin letters with diacritics", "ünï", false},
		{"CJK", "名前", false},
		{"Cyrillic look-alike", "аdmin", false},
		{"NUL byte", "a\x00b", false},
		{"at sign", "a@b.c", false},
		{"slash", "a/b", false},
		{"newline", "abc\n", false},
		{"invalid UTF-8", "ab\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateUsername(tt.username)
			if tt.valid {
				if err != nil {
					t.Errorf("ValidateUsername(%q): %v, want valid", tt.username, err)
				}
				return
			}
			checkInvalid(t, err, "username")
		})
	}
}

func TestUsernameKey(t *testing.T) {
	tests := []struct {
		username string
		wantKey  string
		wantOK   bool
	}{
		{"alice", "alice", true},
		{"Alice", "alice", true},
		{"ALICE.Smith-99_x", "alice.smith-99_x", true},
		{strings.Repeat("Z", 32), strings.Repeat("z", 32), true},
		{"", "", false},
		{"ab", "", false},
		{strings.Repeat("a", 33), "", false},
		{"has space", "", false},
		{"ünï", "", false},
		{"ALİCE", "", false}, // Turkish dotted I would lower-case to ASCII "i" in Unicode rules
		{"a\x00b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			key, ok := UsernameKey(tt.username)
			if key != tt.wantKey || ok != tt.wantOK {
				t.Errorf("UsernameKey(%q) = %q, %v; want %q, %v", tt.username, key, ok, tt.wantKey, tt.wantOK)
			}
		})
	}
}

// uncommon returns an n-character password found in no common list.
func uncommon(n int) string { return strings.Repeat("qz7", n)[:n] }

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		valid    bool
	}{
		{"empty", "", false},
		{"7 characters", uncommon(7), false},
		{"8 characters", uncommon(8), true},
		{"128 characters", uncommon(128), true},
		{"129 characters", uncommon(129), false},
		{"the username", "username-of-mine", false},
		{"the username in other case", "USERNAME-of-Mine", false},
		{"a common password", "password1", false},
		{"a common password in other case", "PassWord1", false},
		{"a common password, longer", "1qaz2wsx3edc", false},
		// Counted in characters: 8 two-byte runes are 16 bytes but 8
		// characters, and 7 of them are too few despite 14 bytes.
		{"8 multibyte characters", strings.Repeat("ü", 8), true},
		{"7 multibyte characters", strings.Repeat("ü", 7), false},
		{"8 four-byte characters", strings.Repeat("🔑", 8), true},
		{"128 multibyte characters", strings.Repeat("名", 128), true},
		{"129 multibyte characters", strings.Repeat("名", 129), false},
		{"128 four-byte characters, the most bytes admitted", strings.Repeat("🔑", 128), true},
		{"a megabyte", strings.Repeat("a", 1<<20), false},
		{"spaces count", "        ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePassword(tt.password, "username-of-mine")
			if tt.valid {
				if err != nil {
					t.Errorf("ValidatePassword(%d runes, %d bytes): %v, want valid",
						utf8.RuneCountInString(tt.password), len(tt.password), err)
				}
				return
			}
			checkInvalid(t, err, "password")
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	// 64 + 1 + 189 = 254 bytes, the RFC 5321 maximum.
	longest := local64 + "@" + strings.Repeat("b", 61) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 59) + ".com"
	tests := []struct {
		name    string
		email   string
		wantKey string
		valid   bool
	}{
		{"simple", "a@example.com", "a@example.com", true},
		{"mixed case with tag", "A.B+tag@Example.COM", "a.b+tag@example.com", true},
		{"subdomain", "user@mail.example.co.uk", "user@mail.example.co.uk", true},
		{"254 bytes", longest, strings.ToLower(longest), true},
		{"empty", "", "", false},
		{"no at sign", "plain", "", false},
		{"domain without dot", "a@b", "", false},
		{"empty local part", "@example.com", "", false},
		{"domain starts with dot", "a@.com", "", false},
		{"domain ends with dot", "a@example.", "", false},
		{"display name", "Bob <bob@example.com>", "", false},
		{"angle brackets", "<bob@example.com>", "", false},
		{"leading space", " a@example.com", "", false},
		{"trailing space", "a@example.com ", "", false},
		{"255 bytes", "x" + longest, "", false},
		{"double dot in domain", "a@exa..mple.com", "", false},
		{"two at signs", "a@b@example.com", "", false},
		{"comment", "a@example.com (Bob)", "", false},
		{"quoted local part", `"a b"@example.com`, "", false},
		{"newline", "a@example.com\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := NormalizeEmail(tt.email)
			if tt.valid {
				if err != nil {
					t.Fatalf("NormalizeEmail(%q): %v, want valid", tt.email, err)
				}
				if key != tt.wantKey {
					t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.email, key, tt.wantKey)
				}
				return
			}
			if key != "" {
				t.Errorf("NormalizeEmail(%q) returned key %q with its error", tt.email, key)
			}
			checkInvalid(t, err, "email")
		})
	}
}

func FuzzValidateUsername(f *testing.F) {
	f.Fuzz(func(t *testing.T, username string) {
		err := ValidateUsername(username)
		key, ok := UsernameKey(username)
		if (err == nil) != ok {
			t.Fatalf("ValidateUsername(%q) = %v but UsernameKey ok = %v: sign-up and login disagree", username, err, ok)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalidInput || e.Field != "username" {
				t.Fatalf("ValidateUsername(%q) = %#v, want invalid input on username", username, err)
			}
			if key != "" {
				t.Fatalf("UsernameKey(%q) = %q with ok false", username, key)
			}
			return
		}
		if key != strings.ToLower(username) {
			t.Errorf("UsernameKey(%q) = %q, want its lower case", username, key)
		}
		if again, ok := UsernameKey(key); !ok || again != key {
			t.Errorf("UsernameKey(%q) = %q, %v; a key must be its own key", key, again, ok)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	f.Fuzz(func(t *testing.T, email string) {
		key, err := NormalizeEmail(email)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalidInput || e.Field != "email" {
				t.Fatalf("NormalizeEmail(%q) = %#v, want invalid input on email", email, err)
			}
			return
		}
		if len(email) > maxEmailLen || strings.TrimSpace(email) != email {
			t.Errorf("NormalizeEmail accepted %q", email)
		}
		at := strings.LastIndexByte(key, '@')
		if at <= 0 || !strings.Contains(key[at+1:], ".") {
			t.Errorf("NormalizeEmail(%q) = %q, not local@domain.tld", email, key)
		}
		if key != strings.ToLower(key) {
			t.Errorf("NormalizeEmail(%q) = %q, not lower case", email, key)
		}
	})
}
