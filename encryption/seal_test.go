package encryption

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const (
	totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	aliceAAD   = "totp:0b0b3f4e-7a4c-4d0e-9a57-6f7d3b1c2a10"
	bobAAD     = "totp:8f1d2c3b-4a5e-4f60-8b7a-1c2d3e4f5a6b"
)

var sealedShape = regexp.MustCompile(`^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$`)

func mustRing(t testing.TB, current string, old ...string) *Keyring {
	t.Helper()
	var olds []Key
	for _, o := range old {
		olds = append(olds, mustKey(t, o))
	}
	r, err := NewKeyring(mustKey(t, current), olds...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return r
}

func mustSeal(t testing.TB, r *Keyring, plaintext, aad string) string {
	t.Helper()
	sealed, err := r.Seal([]byte(plaintext), aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := mustRing(t, testKeyHex)
	for name, plaintext := range map[string][]byte{
		"totp secret":  []byte(totpSecret),
		"empty":        {},
		"binary":       {0, 1, 2, 0xff, 0xfe},
		"largest":      bytes.Repeat([]byte{'x'}, MaxPlaintextBytes),
		"session json": []byte(`{"challenge":"Zm9v","user_id":"YWxpY2U","expires":"2026-01-01T00:00:00Z"}`),
	} {
		t.Run(name, func(t *testing.T) {
			sealed, err := r.Seal(plaintext, aliceAAD)
			if err != nil {
				t.Fatal(err)
			}
			if !sealedShape.MatchString(sealed) {
				t.Fatalf("sealed value %.40q… is not v1.<id>.<base64url>", sealed)
			}
			if id, _ := KeyID(sealed); id != r.CurrentID() {
				t.Fatalf("KeyID = %s, want %s", id, r.CurrentID())
			}
			if len(plaintext) >= 8 && strings.Contains(sealed, string(plaintext[:8])) {
				t.Fatal("sealed value shows the plaintext")
			}
			got, err := r.Open(sealed, aliceAAD)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plaintext) {
				t.Fatal("Open returned other bytes")
			}
		})
	}
}

func TestSealUsesAFreshNonceEachTime(t *testing.T) {
	r := mustRing(t, testKeyHex)
	seen := map[string]bool{}
	for range 100 {
		sealed := mustSeal(t, r, totpSecret, aliceAAD)
		if seen[sealed] {
			t.Fatal("the same plaintext sealed twice to the same value")
		}
		seen[sealed] = true
	}
}

func TestSealRefusesUnboundAndOversizedValues(t *testing.T) {
	r := mustRing(t, testKeyHex)
	if _, err := r.Seal([]byte(totpSecret), ""); err == nil || !strings.Contains(err.Error(), "associated data") {
		t.Errorf("Seal without aad: %v", err)
	}
	_, err := r.Seal(make([]byte, MaxPlaintextBytes+1), aliceAAD)
	if err == nil || !strings.Contains(err.Error(), "at most 65536") {
		t.Errorf("Seal of an oversized plaintext: %v", err)
	}
}

// A sealed secret copied to another row, or used for another purpose,
// must not open: that is what the associated data is for.
func TestOpenRefusesOtherAssociatedData(t *testing.T) {
	r := mustRing(t, testKeyHex)
	sealed := mustSeal(t, r, totpSecret, aliceAAD)
	for _, aad := range []string{bobAAD, "webauthn:" + strings.TrimPrefix(aliceAAD, "totp:"), "", aliceAAD + " ", strings.ToUpper(aliceAAD)} {
		if _, err := r.Open(sealed, aad); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("Open with aad %q: %v, want ErrCannotOpen", aad, err)
		}
	}
}

func TestOpenRefusesEveryAlteration(t *testing.T) {
	r := mustRing(t, testKeyHex, testKey2Hex)
	sealed := mustSeal(t, r, totpSecret, aliceAAD)
	header := sealed[:strings.LastIndexByte(sealed, '.')+1]
	raw, err := base64.RawURLEncoding.DecodeString(sealed[len(header):])
	if err != nil {
		t.Fatal(err)
	}
	t.Run("each bit of nonce, ciphertext and tag", func(t *testing.T) {
		for i := range raw {
			for bit := range 8 {
				altered := bytes.Clone(raw)
				altered[i] ^= 1 << bit
				text := header + base64.RawURLEncoding.EncodeToString(altered)
				if _, err := r.Open(text, aliceAAD); !errors.Is(err, ErrCannotOpen) {
					t.Fatalf("byte %d bit %d flipped: %v, want ErrCannotOpen", i, bit, err)
				}
			}
		}
	})
	t.Run("truncated or extended", func(t *testing.T) {
		for n := range len(raw) {
			text := header + base64.RawURLEncoding.EncodeToString(raw[:n])
			if _, err := r.Open(text, aliceAAD); err == nil {
				t.Fatalf("truncated to %d bytes: opened", n)
			}
		}
		text := header + base64.RawURLEncoding.EncodeToString(append(bytes.Clone(raw), 0))
		if _, err := r.Open(text, aliceAAD); !errors.Is(err, ErrCannotOpen) {
			t.Fatalf("extended: %v", err)
		}
	})
	t.Run("other key id of the ring", func(t *testing.T) {
		old := mustKey(t, testKey2Hex).ID()
		text := strings.Replace(sealed, r.CurrentID(), old, 1)
		if _, err := r.Open(text, aliceAAD); !errors.Is(err, ErrCannotOpen) {
			t.Fatalf("key id swapped: %v, want ErrCannotOpen", err)
		}
	})
	t.Run("non-canonical base64", func(t *testing.T) {
		// 33 bytes of plaintext make 61 sealed bytes, so the last base64
		// character carries 4 spare bits. Setting one gives the same bytes
		// to a lax decoder; Open must not accept two spellings of a value.
		sealed := mustSeal(t, r, totpSecret+"=", aliceAAD)
		last := strings.IndexByte(alphabetURL, sealed[len(sealed)-1])
		if last&15 != 0 {
			t.Fatalf("last character %q has spare bits set already", sealed[len(sealed)-1])
		}
		text := sealed[:len(sealed)-1] + string(alphabetURL[last|1])
		if _, err := r.Open(text, aliceAAD); !errors.Is(err, ErrMalformed) {
			t.Fatalf("non-canonical spelling: %v, want ErrMalformed", err)
		}
	})
}

const alphabetURL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestOpenRefusesMalformedValues(t *testing.T) {
	r := mustRing(t, testKeyHex)
	sealed := mustSeal(t, r, totpSecret, aliceAAD)
	id := r.CurrentID()
	body := sealed[len("v1.")+len(id)+1:]
	for name, text := range map[string]string{
		"empty":              "",
		"plaintext":          totpSecret,
		"no version":         id + "." + body,
		"future version":     "v2." + id + "." + body,
		"upper version":      "V1." + id + "." + body,
		"no body separator":  "v1." + id + body,
		"short id":           "v1." + id[:7] + "." + body,
		"upper-case id":      "v1." + strings.ToUpper(id) + "." + body,
		"id with a dot":      "v1.abc.efgh." + body,
		"standard base64":    "v1." + id + "." + strings.NewReplacer("-", "+", "_", "/").Replace(body) + "+/",
		"padded":             sealed + "==",
		"white space":        sealed + "\n",
		"inner white space":  "v1." + id + "." + body[:10] + " " + body[10:],
		"shorter than a tag": "v1." + id + "." + base64.RawURLEncoding.EncodeToString(make([]byte, nonceBytes+tagBytes-1)),
		"huge":               "v1." + id + "." + strings.Repeat("A", maxSealedLen),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Open(text, aliceAAD)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Open: %v, want ErrMalformed", err)
			}
		})
	}
}

// A rotation: values sealed under the old key open with the new ring,
// Reseal moves them to the new key, and once every row is resealed the
// old key can go.
func TestRotationResealsUnderTheCurrentKey(t *testing.T) {
	before := mustRing(t, testKeyHex)
	during := mustRing(t, testKey2Hex, testKeyHex)
	after := mustRing(t, testKey2Hex)

	sealedOld := mustSeal(t, before, totpSecret, aliceAAD)
	if got, err := during.Open(sealedOld, aliceAAD); err != nil || string(got) != totpSecret {
		t.Fatalf("the rotating ring does not open an old value: %v", err)
	}
	_, err := after.Open(sealedOld, aliceAAD)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), before.CurrentID()) {
		t.Fatalf("old value under a ring without its key: %v, want ErrUnknownKey naming %s", err, before.CurrentID())
	}

	resealed, changed, err := during.Reseal(sealedOld, aliceAAD)
	if err != nil || !changed {
		t.Fatalf("Reseal of an old value: changed=%v, %v", changed, err)
	}
	if id, _ := KeyID(resealed); id != during.CurrentID() {
		t.Fatalf("resealed under %s, want %s", id, during.CurrentID())
	}
	if got, err := after.Open(resealed, aliceAAD); err != nil || string(got) != totpSecret {
		t.Fatalf("the resealed value does not open without the old key: %v", err)
	}
	if _, err := during.Open(resealed, bobAAD); !errors.Is(err, ErrCannotOpen) {
		t.Fatalf("the resealed value lost its binding: %v", err)
	}

	again, changed, err := during.Reseal(resealed, aliceAAD)
	if err != nil || changed || again != resealed {
		t.Fatalf("Reseal of a current value: changed=%v, same=%v, %v", changed, again == resealed, err)
	}
	if _, _, err := during.Reseal(sealedOld, bobAAD); !errors.Is(err, ErrCannotOpen) {
		t.Fatalf("Reseal with the wrong aad: %v, want ErrCannotOpen", err)
	}
	if _, _, err := during.Reseal("v1.00000000.AAAA", aliceAAD); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Reseal of a value under an unknown key: %v", err)
	}
}

func TestKeyIDReadsTheHeaderOnly(t *testing.T) {
	r := mustRing(t, testKeyHex)
	if id, err := KeyID(mustSeal(t, r, totpSecret, aliceAAD)); err != nil || id != r.CurrentID() {
		t.Fatalf("KeyID = %q, %v", id, err)
	}
	if _, err := KeyID("v1.nothex!!.AAAA"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("KeyID of a malformed value: %v", err)
	}
}

func TestParseKeyringReadsCurrentAndOldKeys(t *testing.T) {
	raw3 := rawOf(t, testKey3Hex)
	r, err := ParseKeyring(testKeyHex, " "+testKey2Hex+" , "+base64.StdEncoding.EncodeToString(raw3))
	if err != nil {
		t.Fatal(err)
	}
	if r.CurrentID() != mustKey(t, testKeyHex).ID() {
		t.Fatal("wrong current key")
	}
	for _, old := range []string{testKey2Hex, testKey3Hex} {
		sealed := mustSeal(t, mustRing(t, old), totpSecret, aliceAAD)
		if _, err := r.Open(sealed, aliceAAD); err != nil {
			t.Errorf("old key does not open: %v", err)
		}
	}
	if r, err := ParseKeyring(testKeyHex, ""); err != nil || r.CurrentID() == "" {
		t.Fatalf("no old keys: %v", err)
	}

	secrets := append(append(secretForms(rawOf(t, testKeyHex)), secretForms(rawOf(t, testKey2Hex))...), secretForms(raw3)...)
	for _, tc := range []struct {
		name, current, old, want string
	}{
		{"no current key", "", testKey2Hex, "no encryption key is set"},
		{"bad current key", testKeyHex[:40], "", "KEYCARD_ENCRYPTION_KEY: encryption key is 40 hex digits"},
		{"bad old key", testKeyHex, testKey2Hex + "," + testKey3Hex[:60], "KEYCARD_ENCRYPTION_KEYS_OLD: key 2 of 2: encryption key is 60 hex digits"},
		{"empty old item", testKeyHex, testKey2Hex + ",," + testKey3Hex, "KEYCARD_ENCRYPTION_KEYS_OLD: key 2 of 3 is empty"},
		{"trailing comma", testKeyHex, testKey2Hex + ",", "key 2 of 2 is empty"},
		{"current listed as old", testKeyHex, testKey2Hex + "," + strings.ToUpper(testKeyHex), "old key 2 (id " + mustKey(t, testKeyHex).ID() + ") is listed twice or is the current key"},
		{"old listed twice", testKeyHex, testKey2Hex + "," + testKey2Hex, "old key 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring(tc.current, tc.old)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			assertNoSecret(t, "error", err.Error(), append(secrets, testKeyHex[:40], testKey3Hex[:60])...)
		})
	}
	if _, err := ParseKeyring(" ", ""); !errors.Is(err, ErrNoKey) {
		t.Fatalf("empty current: %v, want ErrNoKey", err)
	}
	if _, err := NewKeyring(Key{}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("zero Key: %v, want ErrNoKey", err)
	}
}

// No error from any failure path may carry the plaintext, the key or the
// sealed body: errors end up in logs.
func TestOpenErrorsCarryNoSecrets(t *testing.T) {
	r := mustRing(t, testKeyHex, testKey2Hex)
	sealed := mustSeal(t, r, totpSecret, aliceAAD)
	body := sealed[strings.LastIndexByte(sealed, '.')+1:]
	secrets := append(append(secretForms(rawOf(t, testKeyHex)), secretForms(rawOf(t, testKey2Hex))...), totpSecret, body, body[:12], aliceAAD)
	var errs []error
	for _, text := range []string{sealed[:len(sealed)-3], "v1.00000000." + body, sealed + "A", totpSecret, "v1." + r.CurrentID() + "." + totpSecret} {
		_, err := r.Open(text, aliceAAD)
		errs = append(errs, err)
	}
	_, err := r.Open(sealed, bobAAD)
	errs = append(errs, err)
	_, _, err = r.Reseal(sealed, bobAAD)
	errs = append(errs, err)
	_, err = r.Seal([]byte(totpSecret), "")
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("a failure path returned no error")
		}
		assertNoSecret(t, "error", err.Error(), secrets...)
	}
}

// A Keyring is shared by every request: concurrent Seal and Open must be
// safe (run with -race).
func TestKeyringIsSafeForConcurrentUse(t *testing.T) {
	r := mustRing(t, testKeyHex, testKey2Hex)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			aad := aliceAAD
			if g%2 == 1 {
				aad = bobAAD
			}
			for range 200 {
				sealed, err := r.Seal([]byte(totpSecret), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := r.Open(sealed, aad); err != nil || string(got) != totpSecret {
					t.Errorf("Open: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
