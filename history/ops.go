package history

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Kind is what an operation asked keycard to do.
type Kind string

const (
	// Register creates a user and opens its first session (password
	// generation 0).
	Register Kind = "register"
	// Login opens a session with the password of generation PasswordGen.
	Login Kind = "login"
	// Refresh presents a refresh token and, on success, gets the next one
	// of the same session.
	Refresh Kind = "refresh"
	// Logout ends the session of the bearer token.
	Logout Kind = "logout"
	// LogoutAll ends every session of the bearer token's user.
	LogoutAll Kind = "logout-all"
	// ChangePassword replaces the password of generation PasswordGen with
	// that of NewPasswordGen, ends every session of the user and opens a
	// fresh one.
	ChangePassword Kind = "change-password"
	// Verify presents an access token to `me` (or any check of it).
	Verify Kind = "verify"
)

// Kinds lists every Kind, in the order reports show them.
func Kinds() []Kind {
	return []Kind{Register, Login, Refresh, Logout, LogoutAll, ChangePassword, Verify}
}

// valid reports whether k is one of Kinds.
func (k Kind) valid() bool {
	switch k {
	case Register, Login, Refresh, Logout, LogoutAll, ChangePassword, Verify:
		return true
	}
	return false
}

// opensSession reports whether a success of k returns a new session.
func (k Kind) opensSession() bool {
	return k == Register || k == Login || k == ChangePassword
}

// authenticates reports whether k presents an access token.
func (k Kind) authenticates() bool {
	return k == Logout || k == LogoutAll || k == ChangePassword || k == Verify
}

// Outcome is what the client learnt about an operation.
type Outcome string

const (
	// OK: keycard answered with success; the operation took effect.
	OK Outcome = "ok"
	// Fail: keycard answered with a definite error (Code); the operation
	// took no effect beyond what the server does on that refusal (a
	// refused refresh may revoke its session as reuse).
	Fail Outcome = "fail"
	// Unknown: no definite answer (timeout, transport error, 5xx). The
	// operation may have taken effect, at any time after its invocation,
	// even after the client gave up.
	Unknown Outcome = "unknown"
)

// CodeUnauthenticated is the code of a refused token or credential: the
// only failure that proves the server evaluated a token and turned it down.
const CodeUnauthenticated = "UNAUTHENTICATED"

// definite reports whether an error code proves that an operation did not
// take effect. Any other code (UNAVAILABLE, INTERNAL_SERVER_ERROR, one this
// package does not know) may come from a transaction that committed before
// the error, so it is recorded as Unknown.
func definite(code string) bool {
	switch code {
	case CodeUnauthenticated, "BAD_USER_INPUT", "USERNAME_TAKEN", "RATE_LIMITED", "FORBIDDEN":
		return true
	}
	return false
}

// Op is one operation of a history. Tokens are kept only as fingerprints
// (see Fingerprint), so a history kept as a CI artifact holds no credential.
type Op struct {
	// Index is the operation's position in its history (Check sets it).
	Index int `json:"index"`
	// Process is the client that ran the operation. Only real time orders
	// operations; processes are for reading the history.
	Process int  `json:"process"`
	Kind    Kind `json:"kind"`
	// User is the user acted on (Register, Login: as given; other kinds:
	// the owner of the presented token, when known).
	User string `json:"user,omitempty"`
	// Session is the session opened (Register, Login, ChangePassword) or
	// acted on (the others), when known.
	Session string `json:"session,omitempty"`
	// Presented is the refresh token a Refresh presented.
	Presented string `json:"presented,omitempty"`
	// Bearer is the access token Logout, LogoutAll, ChangePassword and
	// Verify presented.
	Bearer string `json:"bearer,omitempty"`
	// Refresh and Access are the tokens a success returned.
	Refresh string `json:"refresh,omitempty"`
	Access  string `json:"access,omitempty"`
	// PasswordGen is the generation of the password a Login used or a
	// ChangePassword gave as current; NewPasswordGen the generation a
	// ChangePassword set. Generations of a user increase: a change's new
	// generation is drawn from a per-user counter when it is invoked, and
	// every generation has its own password.
	PasswordGen    int `json:"password_gen,omitempty"`
	NewPasswordGen int `json:"new_password_gen,omitempty"`
	// Invoke and Complete are monotonic times since the recorder started:
	// the request was sent after Invoke and its answer (or the client's
	// giving up) came before Complete.
	Invoke   time.Duration `json:"invoke"`
	Complete time.Duration `json:"complete"`
	Outcome  Outcome       `json:"outcome"`
	// Code is the error code of a failure (or of a 5xx recorded as
	// Unknown); Error describes an Unknown outcome.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// precedes reports whether o completed before b was invoked: the only order
// real time proves. Concurrent operations may have taken effect either way.
func (o *Op) precedes(b *Op) bool { return o.Complete < b.Invoke }

// refused reports whether the server definitely evaluated o's token or
// credential and turned it down.
func (o *Op) refused() bool { return o.Outcome == Fail && o.Code == CodeUnauthenticated }

// possiblyApplied reports whether o may have taken effect.
func (o *Op) possiblyApplied() bool { return o.Outcome != Fail }

// History is every operation of a run, in any order (a Recorder keeps
// invocation order).
type History []Op

// Fingerprint is what a history keeps of a token: 128 bits of its SHA-256,
// enough to tell tokens apart, useless to present. The empty token stays
// empty.
func Fingerprint(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// SessionOf reads the session id (the `sid` claim) of an access token
// without verifying it: for labelling a recorded operation, never for
// trusting the token. It returns "" for anything that is not a JWT with a
// string sid.
func SessionOf(access string) string {
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		SessionID string `json:"sid"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.SessionID
}
