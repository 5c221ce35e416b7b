package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/keycard/keycard/auth"
)

// forge builds tokens the way an attacker would: valid-looking claims for a
// real user and session, with one thing wrong.
type forge struct {
	sub, sid string
	now      time.Time
}

func (f forge) claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": devIssuer, "aud": []string{"keycard"}, "sub": f.sub, "sid": f.sid,
		"jti": uuid.NewString(), "roles": []string{"admin"},
		"iat": f.now.Unix(), "nbf": f.now.Unix(), "exp": f.now.Add(10 * time.Minute).Unix(),
	}
}

func (f forge) sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, edit func(jwt.MapClaims)) string {
	t.Helper()
	claims := f.claims()
	if edit != nil {
		edit(claims)
	}
	token := jwt.NewWithClaims(method, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = auth.NewHMACKey([]byte(testSecret)).ID
	for k, v := range header {
		if v == nil {
			delete(token.Header, k)
		} else {
			token.Header[k] = v
		}
	}
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestForgedAndMalformedTokensAreUnauthenticated(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "victor", "open-sesame-42")
	parsed, _, err := jwt.NewParser().ParseUnverified(reg.AccessToken, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	real := parsed.Claims.(jwt.MapClaims)
	f := forge{sub: real["sub"].(string), sid: real["sid"].(string), now: s.clock.Now()}
	secret := []byte(testSecret)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// Control: a token forged with the real secret and nothing wrong
	// is accepted, so each case below fails for its one defect.
	expectOK(t, s.me(t, f.sign(t, jwt.SigningMethodHS256, secret, nil, nil)))

	parts := strings.Split(reg.AccessToken, ".")
	cases := map[string]string{
		"alg none":     b64(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + b64(f.claims()) + ".",
		"alg None":     b64(map[string]any{"alg": "None", "typ": "at+jwt"}) + "." + b64(f.claims()) + ".",
		"HS512":        f.sign(t, jwt.SigningMethodHS512, secret, nil, nil),
		"ES256":        f.sign(t, jwt.SigningMethodES256, ecKey, nil, nil),
		"wrong secret": f.sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789-abcdefghijklmnop"), nil, nil),
		"tampered payload": parts[0] + "." + b64(func() jwt.MapClaims {
			c := f.claims()
			c["roles"] = []string{"admin"}
			return c
		}()) + "." + parts[2],
		"missing exp":     f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { delete(c, "exp") }),
		"expired":         f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { c["exp"] = f.now.Add(-time.Minute).Unix() }),
		"nbf in future":   f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { c["nbf"] = f.now.Add(time.Hour).Unix() }),
		"iat in future":   f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { c["iat"] = f.now.Add(time.Hour).Unix() }),
		"wrong iss":       f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { c["iss"] = "evil" }),
		"missing iss":     f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { delete(c, "iss") }),
		"wrong aud":       f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { c["aud"] = "other-service" }),
		"missing aud":     f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { delete(c, "aud") }),
		"missing jti":     f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { delete(c, "jti") }),
		"missing sid":     f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { delete(c, "sid") }),
		"missing typ":     f.sign(t, jwt.SigningMethodHS256, secret, map[string]any{"typ": nil}, nil),
		"typ JWT":         f.sign(t, jwt.SigningMethodHS256, secret, map[string]any{"typ": "JWT"}, nil),
		"unknown kid":     f.sign(t, jwt.SigningMethodHS256, secret, map[string]any{"kid": "someone-else"}, nil),
		"crit header":     f.sign(t, jwt.SigningMethodHS256, secret, map[string]any{"crit": []string{"exp"}}, nil),
		"jwk header":      f.sign(t, jwt.SigningMethodES256, ecKey, map[string]any{"jwk": map[string]any{"kty": "EC"}}, nil),
		"padded base64":   parts[0] + "=." + parts[1] + "." + parts[2],
		"two segments":    parts[0] + "." + parts[1],
		"garbage":         "not-a-token",
		"8 KiB+ token":    reg.AccessToken + "." + strings.Repeat("A", 8<<10),
		"session of none": f.sign(t, jwt.SigningMethodHS256, secret, nil, func(c jwt.MapClaims) { c["sid"] = "not-a-uuid" }),
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			expectCode(t, s.me(t, token), "UNAUTHENTICATED")
		})
	}
	// The real token still works after all of that.
	expectOK(t, s.me(t, reg.AccessToken))
}

func TestAuthorizationHeaderForms(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	reg := s.register(t, "wendy", "open-sesame-42")
	for _, tc := range []struct {
		name     string
		values   []string
		accepted bool
	}{
		{"Bearer", []string{"Bearer " + reg.AccessToken}, true},
		{"bearer in lower case", []string{"bearer " + reg.AccessToken}, true},
		{"Basic", []string{"Basic " + reg.AccessToken}, false},
		{"no scheme", []string{reg.AccessToken}, false},
		{"scheme without token", []string{"Bearer"}, false},
		{"two headers", []string{"Bearer " + reg.AccessToken, "Bearer " + reg.AccessToken}, false},
		{"9 KiB token", []string{"Bearer " + strings.Repeat("a", 9<<10)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(t, request{Query: meQuery, header: http.Header{"Authorization": tc.values}})
			if tc.accepted {
				expectOK(t, resp)
			} else {
				expectCode(t, resp, "UNAUTHENTICATED")
			}
		})
	}
}

func TestBadTokenDoesNotBlockPublicOperations(t *testing.T) {
	t.Parallel()
	s := startSQLite(t)
	// A client that still sends a stale token must be able to sign in.
	s.register(t, "xavier", "open-sesame-42")
	resp := s.do(t, request{Query: loginMutation, Variables: map[string]any{"input": map[string]any{"username": "xavier", "password": "open-sesame-42"}}, token: "stale.token.value"})
	expectOK(t, resp)
}
