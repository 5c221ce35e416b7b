package requestlog

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// TraceparentHeader carries W3C Trace Context (https://www.w3.org/TR/trace-context/).
const TraceparentHeader = "traceparent"

// traceContext is the trace a request belongs to and the span this server
// gave it.
type traceContext struct {
	traceID string // 32 lower-case hex digits, not all zero
	spanID  string // 16 lower-case hex digits: this server's span
	flags   string // 2 hex digits; 01 = the caller samples this trace
}

// String is the traceparent value naming this server's span.
func (t traceContext) String() string {
	return "00-" + t.traceID + "-" + t.spanID + "-" + t.flags
}

// continueTrace joins the trace of the incoming traceparent header, if it
// is exactly one valid value, else starts a new one. Either way the span is
// new: the caller's parent id names the caller's span, not ours.
func continueTrace(values []string) traceContext {
	t := traceContext{spanID: randomHex(8), flags: "00"}
	if len(values) == 1 {
		if traceID, flags, ok := parseTraceparent(values[0]); ok {
			t.traceID, t.flags = traceID, flags
			return t
		}
	}
	t.traceID = randomHex(16)
	return t
}

// parseTraceparent reads version-format-00 fields from a traceparent
// value, by the specification's rules: lower-case hex, no all-zero ids,
// version ff invalid; a later version may append fields after a dash. A
// value that breaks any rule is ignored (the trace restarts) rather than
// copied into logs and headers.
func parseTraceparent(v string) (traceID, flags string, ok bool) {
	v = strings.TrimSpace(v)
	if len(v) < 55 || (len(v) > 55 && (v[:2] == "00" || v[55] != '-')) {
		return "", "", false
	}
	version, traceID, parentID, flags := v[0:2], v[3:35], v[36:52], v[53:55]
	if v[2] != '-' || v[35] != '-' || v[52] != '-' || version == "ff" ||
		!lowerHex(version) || !lowerHex(traceID) || !lowerHex(parentID) || !lowerHex(flags) ||
		allZero(traceID) || allZero(parentID) {
		return "", "", false
	}
	return traceID, flags, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
