// Package history records what many concurrent clients did to keycard and
// checks, Jepsen-style, that the answers they got are ones a correct server
// could have given: the safety properties of refresh-token rotation, under
// concurrency, faults and unknown outcomes. It holds the operation model,
// the Recorder a workload feeds, JSON-lines encoding for CI artifacts, and
// the checker. It imports only the standard library: it judges keycard from
// the outside and must not share its code.
//
// # Model
//
// A history is a set of operations (Op). Each has a process (client), a
// kind (register, login, refresh, logout, logout-all, change-password,
// verify), the tokens it presented and got back (as fingerprints), the
// password generation it used, its invocation and completion times on the
// recorder's monotonic clock, and an outcome:
//
//   - ok: a success; it took effect between invocation and completion;
//   - fail: a definite refusal with an error code; it took no effect, except
//     that a refused refresh may have revoked its session as a detected
//     reuse;
//   - unknown: a timeout, transport error or 5xx. It may or may not have
//     taken effect, at any time after its invocation (a request may still
//     be executing after the client gave up). An unknown operation never
//     creates an obligation for the server, but it may explain a later
//     refusal: an unknown refresh may have rotated the token, an unknown
//     logout may have revoked the session.
//
// Real time is the only order: A precedes B iff A completed before B was
// invoked. Concurrent operations may have taken effect in either order. A
// client can present a token only after the operation returning it
// completed, so a token's issuer always precedes its users.
//
// The checker mirrors what keycard's auth.Service does. Each session has a
// chain of refresh tokens; a rotation (a successful refresh) runs in one
// transaction that locks the session, so the rotations of one session are
// totally ordered and each moves it one generation on, returning the token
// of the new generation. The server accepts the current token, and, while
// at most the reuse interval has passed since the last rotation, the
// immediately previous one; any other token of the chain is reuse: refused,
// and the session revoked in the same transaction. A logout revokes the
// bearer's session; a logout of all revokes every live session of the
// user; a password change (a compare-and-swap on the credential) replaces
// the password, revokes every live session and opens one fresh session,
// and a login opens a session only if the password it checked is still the
// current one, in the same transaction. Access tokens stay valid until they
// expire or their session is revoked.
//
// Password generations stand in for passwords: a user registers with
// generation 0, and a change's new generation comes from a per-user counter
// drawn when the change is invoked, so the generations a user's password
// goes through only increase and never repeat.
//
// # Properties
//
// Rotation. Each refresh token yields at most one rotation; with a reuse
// interval, at most two (the second within the interval after the first,
// as the immediately previous token). A success presenting a token that was
// certainly rotated away before it was invoked is a violation: two
// successes of the session that followed the token's issuer and completed
// before it put the session two generations past the token; one, with the
// reuse interval over since it completed, either was the last rotation (the
// interval is spent) or was followed by another. Among successes that may
// overlap, more than the allowed number per token is a violation. A token
// returned twice, or a success for a token no operation returned, is one
// too.
//
// Reuse. A refused refresh presenting a token certainly rotated away (as
// above) was a detected reuse: the server revoked the session before it
// answered. No refresh of that session invoked after the refusal completed
// may succeed.
//
// Revocation. An acknowledged logout ends the bearer's session; an
// acknowledged logout of all, every session of the user opened before it
// was invoked; an acknowledged password change, every session of the user
// opened with an earlier password generation, including logins that raced
// the change, but not the session the change itself returned. No refresh of
// an ended session invoked after the ending operation completed may
// succeed. A login or password change with a generation that a completed
// change had replaced must fail, and of two changes from the same password
// only one may succeed.
//
// Verification. A token a success returned works until something may have
// ended it: an access token presented to verify (or logout, or password
// change) and refused with UNAUTHENTICATED is a violation unless a logout,
// logout of all, password change or refused or unknown refresh of its
// session may have taken effect first, it may have expired (Config.AccessTTL)
// or the session cap may have ended its session. A refresh token refused
// likewise, unless another rotation of its session may have replaced it
// first. This is how an acknowledged success that did not commit shows.
//
// # Assumptions
//
// The history is the whole run: every operation that returned a token is in
// it. The run is shorter than the refresh lifetime, so no session expires
// and no refresh-token hash is purged. The server's clock and the
// recorder's run at the same rate (Config.ClockSlack covers their
// disagreement). Revocation reaches other instances asynchronously, so an
// access token accepted after its session was revoked is not a violation
// here; the fault test measures that delay separately. Refresh rotation and
// revocation go through the database in one transaction, so they are
// checked strictly.
package history
