package encryption

import (
	"errors"
	"strings"
	"testing"
)

// knownSealed are values sealed once with the test keys (also the seeds in
// testdata/fuzz/FuzzOpen): the only texts that may open, each with its aad.
// The last one is under testKey3Hex, which the fuzzed ring lacks.
var knownSealed = map[string]string{
	"v1.7644bd7b.8jZ44gUvwNb8P_C-skb-jrIrcQr-q1N_5DNRlWHyLpdII8pD1wJLoshzJQ2exzxVmnmA6YdfdihKlVrQ": aliceAAD,
	"v1.4db78def.9X8kcZF81-hdQYgax6zNBAPhXVBygTpEr0PeJ50EpL9lexIf-t_q9nT2C2wZT04A3cTxSpxgz_jDFJcZ": bobAAD,
	"v1.7644bd7b.WrOps55EL7jWCq8d6Zpx1BUnTtgMivkAgYq-hQ":                                           "webauthn:session:1",
	"v1.d4dd2e4f.w7YAnHk89kFec0QTdPZzsPUrocTPQ9WwiDvvXQFDj6IpGXb_s60GVJW_Y1GhP3N71f8poo6o3Hxp_wb_": aliceAAD,
}

// FuzzOpen: Open never panics, opens nothing but what was sealed with its
// own associated data, and fails only with the documented errors, none of
// which repeats its input.
func FuzzOpen(f *testing.F) {
	ring := mustRing(f, testKeyHex, testKey2Hex)
	// Only constant seals: each fuzz worker runs this setup anew, and a
	// value sealed here would differ between them (random nonces).
	for sealed, aad := range knownSealed {
		f.Add(sealed, aad)
		f.Add(sealed, aad+"x")
		f.Add(sealed[:len(sealed)-1], aad)
	}
	f.Add("", "")
	f.Add("v1..", aliceAAD)
	f.Add("v1.7644bd7b.", aliceAAD)
	f.Add("v2.7644bd7b.AAAA", aliceAAD)
	f.Add("v1.7644bd7b.AAAA\n", aliceAAD)
	f.Fuzz(func(t *testing.T, sealed, aad string) {
		plaintext, err := ring.Open(sealed, aad)
		if err == nil {
			if wantAAD, ok := knownSealed[sealed]; !ok || wantAAD != aad {
				t.Fatalf("opened a value that was never sealed with this aad: %q %q", sealed, aad)
			}
			if string(plaintext) != totpSecret && len(plaintext) != 0 {
				t.Fatalf("opened to unexpected plaintext %q", plaintext)
			}
			return
		}
		if plaintext != nil {
			t.Fatal("plaintext along with an error")
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrCannotOpen) {
			t.Fatalf("undocumented error %v", err)
		}
		if len(sealed) >= 16 && strings.Contains(err.Error(), sealed) {
			t.Fatalf("error %q repeats its input", err)
		}
		if strings.Contains(err.Error(), totpSecret) {
			t.Fatalf("error %q contains the plaintext", err)
		}
	})
}
