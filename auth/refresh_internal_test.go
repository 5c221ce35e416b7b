package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewRefreshTokenIsPrefixedAndCarries256Bits(t *testing.T) {
	token, hash, err := newRefreshToken()
	if err != nil {
		t.Fatalf("newRefreshToken: %v", err)
	}
	raw, ok := strings.CutPrefix(token, "kcr_")
	if !ok {
		t.Fatalf("token %q lacks the kcr_ prefix", token)
	}
	decoded, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	if err != nil || len(decoded) != 32 {
		t.Errorf("token body %q decodes to %d bytes (%v), want 32", raw, len(decoded), err)
	}
	sum := sha256.Sum256([]byte(token))
	if !bytes.Equal(hash, sum[:]) {
		t.Errorf("stored hash is not SHA-256 of the token")
	}
	if !bytes.Equal(hashRefreshToken(token), hash) {
		t.Errorf("hashRefreshToken disagrees with the hash stored at issue")
	}
}

func TestNewRefreshTokensDiffer(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		token, _, err := newRefreshToken()
		if err != nil {
			t.Fatal(err)
		}
		if seen[token] {
			t.Fatalf("token %s issued twice", token)
		}
		seen[token] = true
	}
}

func TestPlausibleRefreshToken(t *testing.T) {
	token, _, err := newRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	f := newTokenFixture(t)
	access, _, err := f.tokens.Issue(testUserID, testSession, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"issued token", token, true},
		{"empty", "", false},
		{"access token", access, false},
		{"prefix only", "kcr_", false},
		{"one character short", token[:len(token)-1], false},
		{"one character long", token + "A", false},
		{"other prefix", "kcx_" + token[4:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := plausibleRefreshToken(tt.token); got != tt.want {
				t.Errorf("plausibleRefreshToken(%q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}
