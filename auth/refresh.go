package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// refreshTokenPrefix marks keycard refresh tokens so secret scanners can
// recognise a leaked one, and so a JWT handed to refresh fails fast.
const refreshTokenPrefix = "kcr_"

// refreshTokenBytes is the entropy of a refresh token: 256 bits, beyond any
// online or offline guessing.
const refreshTokenBytes = 32

// newRefreshToken returns a fresh opaque refresh token and the hash that is
// stored in its place.
func newRefreshToken() (token string, hash []byte, err error) {
	var raw [refreshTokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	token = refreshTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return token, hashRefreshToken(token), nil
}

// hashRefreshToken is SHA-256: the token already has 256 bits of entropy, so
// a slow hash would add nothing, and a fast one keeps refresh cheap. A
// database leak exposes hashes that cannot be presented.
func hashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// plausibleRefreshToken rejects what cannot be a refresh token without a
// database round trip.
func plausibleRefreshToken(token string) bool {
	return len(token) == len(refreshTokenPrefix)+base64.RawURLEncoding.EncodedLen(refreshTokenBytes) &&
		strings.HasPrefix(token, refreshTokenPrefix)
}
