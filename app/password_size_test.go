package app_test

import (
	"strings"
	"testing"
)

// A password over 1 KiB is refused with BAD_USER_INPUT on its own field
// before anything is hashed or waits for a hash slot: nobody can park
// megabytes of password in the hash queue.
func TestOversizedPasswordsAreRefusedBeforeHashing(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "bigpass", "open-sesame-42")
	huge := strings.Repeat("p", 1025)
	hashes := s.app.Service().Stats().PasswordHashes

	for _, tc := range []struct {
		name, query, field string
		vars               map[string]any
		token              string
	}{
		{"login", loginMutation, "password",
			map[string]any{"input": map[string]any{"username": "bigpass", "password": huge}}, ""},
		{"register", registerMutation, "password",
			map[string]any{"input": map[string]any{"username": "bigpass2", "password": huge}}, ""},
		{"changePassword current", changePasswordMutation, "currentPassword",
			map[string]any{"current": huge, "next": "new-password-456"}, reg.AccessToken},
		{"changePassword new", changePasswordMutation, "newPassword",
			map[string]any{"current": "open-sesame-42", "next": huge}, reg.AccessToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.gql(t, tc.token, tc.query, tc.vars)
			expectCode(t, resp, "BAD_USER_INPUT")
			if resp.field() != tc.field {
				t.Errorf("field = %q, want %q: %s", resp.field(), tc.field, resp.Body)
			}
		})
	}
	if got := s.app.Service().Stats().PasswordHashes; got != hashes {
		t.Errorf("oversized passwords cost %d hashes, want none", got-hashes)
	}
	// 1 KiB itself is a password one may try to sign in with.
	expectCode(t, s.gql(t, "", loginMutation, map[string]any{"input": map[string]any{"username": "bigpass", "password": huge[:1024]}}), "UNAUTHENTICATED")
	if got := s.app.Service().Stats().PasswordHashes; got != hashes+1 {
		t.Errorf("a 1024-byte login cost %d hashes, want 1", got-hashes)
	}
	expectOK(t, s.me(t, reg.AccessToken))
}
