package encryption

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Keys made with `openssl rand -hex 32` for these tests only.
const (
	testKeyHex  = "e005145ce2fe48e6818e8967a427e6af5a62163524c7ec223cedc4c837a90a12"
	testKey2Hex = "cd792853be1f35faf90bfbcb3fabe9de8f3b1c8b177afdd053118e4ee4313bfc"
	testKey3Hex = "5d8e0aafcc6d8879c53c58dc6239cd10e9a5af2b19e66968a80bc7927c41f33b"
)

func mustKey(t testing.TB, text string) Key {
	t.Helper()
	k, err := ParseKey(text)
	if err != nil {
		t.Fatalf("ParseKey: %v", err)
	}
	return k
}

func rawOf(t testing.TB, hexText string) []byte {
	t.Helper()
	raw, err := hex.DecodeString(hexText)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// secretForms are the ways a key's material could show up in a string.
func secretForms(raw []byte) []string {
	return []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		string(raw),
		fmt.Sprint(raw),
	}
}

func assertNoSecret(t *testing.T, what, got string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(got, s) {
			t.Errorf("%s %q contains secret material %q", what, got, s)
		}
	}
}

func TestParseKeyAcceptsEveryEncodingOfTheSameKey(t *testing.T) {
	raw := rawOf(t, testKeyHex)
	want := mustKey(t, testKeyHex).ID()
	for name, text := range map[string]string{
		"hex upper":        strings.ToUpper(testKeyHex),
		"base64":           base64.StdEncoding.EncodeToString(raw),
		"base64 unpadded":  base64.RawStdEncoding.EncodeToString(raw),
		"base64url":        base64.URLEncoding.EncodeToString(raw),
		"base64url raw":    base64.RawURLEncoding.EncodeToString(raw),
		"newline from env": base64.StdEncoding.EncodeToString(raw) + "\n",
		"spaces":           "  " + testKeyHex + " ",
	} {
		t.Run(name, func(t *testing.T) {
			if got := mustKey(t, text).ID(); got != want {
				t.Fatalf("id %s, want %s", got, want)
			}
		})
	}
	if len(want) != keyIDLength || !isKeyID(want) {
		t.Fatalf("id %q is not %d hex digits", want, keyIDLength)
	}
	if mustKey(t, testKey2Hex).ID() == want {
		t.Fatal("two keys share an id")
	}
}

func TestParseKeyRefusesWrongLengthsAndNonRandomKeys(t *testing.T) {
	random := rawOf(t, testKeyHex)
	counting := make([]byte, KeyBytes)
	for i := range counting {
		counting[i] = byte(3 * i)
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, text, want string
	}{
		{"16 bytes base64", b64(random[:16]), "decodes to 16 bytes, want 32"},
		{"31 bytes", b64(random[:31]), "decodes to 31 bytes, want 32"},
		{"33 bytes", b64(append(random[:32:32], 7)), "decodes to 33 bytes, want 32"},
		{"48 bytes", b64(append(random, random[:16]...)), "decodes to 48 bytes, want 32"},
		{"62 hex digits", testKeyHex[:62], "62 hex digits (31 bytes), want 64"},
		{"128 hex digits", testKeyHex + testKey2Hex, "128 hex digits (64 bytes), want 64"},
		{"not an encoding", "this is not a key at all!", "neither base64 nor hex"},
		{"mixed alphabets", strings.Replace(strings.Replace(b64(random), "+", "-", 1), "/", "+", 1) + "_", "neither base64 nor hex"},
		{"odd hex", testKeyHex[:63], "neither base64 nor hex"},
		{"all zero", b64(make([]byte, KeyBytes)), "only 1 distinct byte values"},
		{"repeated pattern", strings.Repeat("c0ffee", 10) + "c0ff", "only 3 distinct byte values"},
		{"counting", hex.EncodeToString(counting), "count up or down"},
		{"encoded passphrase", b64([]byte("Correct-Horse-Battery-Staple-42!")), "printable text"},
		{"hex of passphrase", hex.EncodeToString([]byte("Tr0ub4dor&3-is-my-password-2024!")), "printable text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey(tc.text)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "openssl rand -base64 32") {
				t.Errorf("error %q does not say how to make a key", err)
			}
			assertNoSecret(t, "error", err.Error(), append(secretForms(random), strings.TrimSpace(tc.text))...)
		})
	}
}

func TestParseKeyEmptyIsErrNoKey(t *testing.T) {
	for _, text := range []string{"", " ", "\n\t"} {
		if _, err := ParseKey(text); !errors.Is(err, ErrNoKey) {
			t.Errorf("ParseKey(%q) = %v, want ErrNoKey", text, err)
		}
	}
}

func TestGenerateKeyMakesDistinctUsableKeys(t *testing.T) {
	ids := map[string]bool{}
	for range 200 {
		text := GenerateKey()
		if raw, err := base64.StdEncoding.DecodeString(text); err != nil || len(raw) != KeyBytes {
			t.Fatalf("GenerateKey() = %d chars, not 32 bytes of base64 (%v)", len(text), err)
		}
		k := mustKey(t, text)
		if ids[k.ID()] {
			t.Fatalf("id %s twice", k.ID())
		}
		ids[k.ID()] = true
	}
}

// The randomness check must never refuse a real key: CSPRNG output fails
// it with probability about 2e-15 per key.
func TestLowEntropyAcceptsRandomBytes(t *testing.T) {
	for range 20000 {
		raw, err := base64.StdEncoding.DecodeString(GenerateKey())
		if err != nil {
			t.Fatal(err)
		}
		if reason := lowEntropy(raw); reason != "" {
			t.Fatalf("random key refused: %s", reason)
		}
	}
}

func TestKeyAndKeyringPrintOnlyTheirIDs(t *testing.T) {
	raw := rawOf(t, testKeyHex)
	k := mustKey(t, testKeyHex)
	ring, err := NewKeyring(k, mustKey(t, testKey2Hex))
	if err != nil {
		t.Fatal(err)
	}
	secrets := append(secretForms(raw), secretForms(rawOf(t, testKey2Hex))...)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %p"} {
		for _, v := range []any{k, &k, ring, *ring, []Key{k}, map[string]Key{"k": k}, struct{ K Key }{k}} {
			got := fmt.Sprintf(verb, v)
			assertNoSecret(t, verb, got, secrets...)
		}
	}
	if got := fmt.Sprint(k); got != "encryption key "+k.ID() {
		t.Errorf("Sprint(key) = %q", got)
	}
	if got := fmt.Sprint(ring); !strings.Contains(got, k.ID()) || !strings.Contains(got, "1 old") {
		t.Errorf("Sprint(ring) = %q", got)
	}
}
