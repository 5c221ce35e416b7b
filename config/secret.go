package config

import (
	"fmt"
	"math"
)

// The entropy rule production applies to KEYCARD_JWT_SECRET. The secret is
// judged on its bytes exactly as given (they are the HMAC key as they
// are; nothing is decoded or derived, so existing tokens stay valid), and
// refused when it
//   - has fewer than minSecretDistinctBytes different byte values
//     (32 × "a"), or
//   - is one pattern repeated (a prefix of at most half its length, over
//     and over: "0123456789abcdef" twice), or
//   - scores under minSecretBits by its byte frequencies (length × Shannon
//     entropy per byte), which catches a long run of one byte with a few
//     others mixed in.
//
// The thresholds are set so that random secrets in any usual encoding pass:
// `openssl rand -hex 16` (32 hex digits) fails the first with a probability
// of about 4 in 10^8, and scores over 90 bits; `openssl rand -base64 48`
// over 250. A limit of 16 distinct bytes, often suggested, would refuse a
// quarter of `openssl rand -hex 32` secrets, whose alphabet has only 16.
const (
	minSecretDistinctBytes = 8
	minSecretBits          = 64
)

// weakSecret says why secret has too little entropy, or "" if it passes.
func weakSecret(secret string) string {
	var counts [256]int
	distinct := 0
	for i := 0; i < len(secret); i++ {
		if counts[secret[i]] == 0 {
			distinct++
		}
		counts[secret[i]]++
	}
	if distinct < minSecretDistinctBytes {
		return fmt.Sprintf("it has only %d different bytes (at least %d)", distinct, minSecretDistinctBytes)
	}
	if p := repeatedPeriod(secret); p > 0 {
		return fmt.Sprintf("it is one %d-byte pattern repeated", p)
	}
	n := float64(len(secret))
	bits := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			bits -= float64(c) * math.Log2(p)
		}
	}
	if bits < minSecretBits {
		return fmt.Sprintf("its bytes are too uneven: about %.0f bits by their frequencies (at least %d)", bits, minSecretBits)
	}
	return ""
}

// repeatedPeriod is the length of the shortest pattern s repeats, when that
// is at most half of s ("abcabcab": 3), else 0. It is the length of s less
// that of its longest border (a prefix that is also a suffix), found with
// the Knuth–Morris–Pratt prefix function in linear time.
func repeatedPeriod(s string) int {
	if len(s) < 2 {
		return 0
	}
	border := make([]int, len(s))
	for i := 1; i < len(s); i++ {
		k := border[i-1]
		for k > 0 && s[i] != s[k] {
			k = border[k-1]
		}
		if s[i] == s[k] {
			k++
		}
		border[i] = k
	}
	if p := len(s) - border[len(s)-1]; p <= len(s)/2 {
		return p
	}
	return 0
}
