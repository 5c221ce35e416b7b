package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// headerFuzzJTI fixes the payload of FuzzVerifyHeader, so one header always
// makes the same token.
const headerFuzzJTI = "0190a4b2-7c1e-7a3b-9f42-5c8d2e6f1a03"

// headerFuzzToken signs header (the JSON text, as given) with a valid
// payload, correctly, with the fixture's secret: only the header can make
// the token fail.
func headerFuzzToken(t testing.TB, f *tokenFixture, header string) string {
	t.Helper()
	claims := f.claims()
	claims["jti"] = headerFuzzJTI
	return signHS256(base64.RawURLEncoding.EncodeToString([]byte(header)), encodeSegment(t, claims), testSecret)
}

// headerAcceptable is what Verify must decide about a JOSE header, written
// from the RFCs rather than from keyFor: a JSON object (of duplicate
// names the last counts, as RFC 7515 §4 allows) whose alg is exactly HS256,
// whose typ is at+jwt or application/at+jwt in any ASCII case (RFC 9068
// §2.1; media types are case-insensitive), whose kid is our key's, and
// without crit, as keycard understands no extension (RFC 7515 §4.1.11).
// Any other member, jku, x5u and jwk included, is ignored.
func headerAcceptable(header, kid string) bool {
	var members map[string]any
	if err := json.Unmarshal([]byte(header), &members); err != nil || members == nil {
		return false
	}
	alg, _ := members["alg"].(string)
	typ, _ := members["typ"].(string)
	headerKid, _ := members["kid"].(string)
	_, crit := members["crit"]
	typ = asciiLower(typ)
	return alg == AlgHS256 && (typ == "at+jwt" || typ == "application/at+jwt") && headerKid == kid && !crit
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// FuzzVerifyHeader feeds JOSE headers to Verify. The seeds under
// testdata/fuzz/FuzzVerifyHeader are JSON texts; those named valid* must
// be accepted (see TestFuzzVerifyHeaderSeedsKeepTheirVerdict).
func FuzzVerifyHeader(f *testing.F) {
	fx := newTokenFixture(f)
	f.Add(`{"alg":"HS256","kid":"` + fx.key.ID + `","typ":"at+jwt"}`)
	f.Fuzz(func(t *testing.T, header string) {
		raw := headerFuzzToken(t, fx, header)
		claims, err := fx.tokens.Verify(raw)
		want := headerAcceptable(header, fx.key.ID) && len(raw) <= MaxTokenBytes
		switch {
		case err != nil && !errors.Is(err, ErrInvalidToken):
			t.Fatalf("Verify error %v is not ErrInvalidToken", err)
		case err != nil && claims != nil:
			t.Fatalf("Verify returned claims with error %v", err)
		case err == nil && !want:
			t.Fatalf("accepted header %q", header)
		case err != nil && want:
			t.Fatalf("rejected acceptable header %q: %v", header, err)
		case err == nil && (claims.ID != headerFuzzJTI || claims.UserID() != testUserID || claims.SessionID != testSession):
			t.Fatalf("accepted header %q with claims %+v", header, claims)
		}
	})
}

// The committed seeds must keep exercising both outcomes: a change to the
// fixture's secret or clock would silently turn them all into rejections.
func TestFuzzVerifyHeaderSeedsKeepTheirVerdict(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifyHeader")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newTokenFixture(t)
	var valid, invalid int
	for _, entry := range entries {
		t.Run(entry.Name(), func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(dir, entry.Name()))
			if err != nil {
				t.Fatal(err)
			}
			literal, ok := strings.CutPrefix(strings.TrimSpace(string(content)), "go test fuzz v1\nstring(")
			if !ok || !strings.HasSuffix(literal, ")") {
				t.Fatalf("not a one-string corpus file:\n%s", content)
			}
			header, err := strconv.Unquote(strings.TrimSuffix(literal, ")"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.tokens.Verify(headerFuzzToken(t, f, header))
			wantValid := strings.HasPrefix(entry.Name(), "valid")
			if wantValid != (err == nil) {
				t.Errorf("Verify(token with header %s) = %v, want valid %v", header, err, wantValid)
			}
			if wantValid {
				valid++
			} else {
				invalid++
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("%d valid and %d invalid seeds; both outcomes need seeds", valid, invalid)
	}
}
