package history

import (
	"sync"
	"time"
)

// maxErrorBytes bounds the text kept of an Unknown outcome's error.
const maxErrorBytes = 200

// Recorder collects a history from many concurrent clients. Each operation
// is invoked just before its request is sent and completed as soon as its
// answer arrives:
//
//	p := rec.Refresh(process, refreshToken)
//	grant, code, err := client.Refresh(ctx, refreshToken)
//	switch {
//	case err != nil: // timeout, connection reset: no answer
//		p.Unknown(err)
//	case code != "": // the GraphQL error's extensions.code
//		p.Fail(code) // UNAVAILABLE and other 5xx codes become Unknown
//	default:
//		p.OK(grant.RefreshToken, grant.AccessToken, "")
//	}
//
// The recorder remembers whose every returned token is, so operations that
// present one are labelled with its user and session; it keeps tokens only
// as fingerprints. Every operation that returns tokens must go through the
// recorder, or a token it returned will be taken for one never issued.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
	done  []bool
	// owners maps token fingerprints to the user and session they belong
	// to.
	owners map[string]owner
}

type owner struct {
	user, session string
}

// NewRecorder starts an empty history; its times count from now, on the
// monotonic clock.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now(), owners: make(map[string]owner)}
}

// Pending is an invoked operation waiting for its outcome. Exactly one of
// OK, Done, Fail or Unknown completes it.
type Pending struct {
	rec   *Recorder
	index int
}

// Register records the registration of user.
func (r *Recorder) Register(process int, user string) *Pending {
	return r.invoke(Op{Process: process, Kind: Register, User: user})
}

// Login records a login of user with the password of generation
// passwordGen (0: the one registered with).
func (r *Recorder) Login(process int, user string, passwordGen int) *Pending {
	return r.invoke(Op{Process: process, Kind: Login, User: user, PasswordGen: passwordGen})
}

// Refresh records a refresh presenting the refresh token presented.
func (r *Recorder) Refresh(process int, presented string) *Pending {
	return r.invoke(Op{Process: process, Kind: Refresh, Presented: Fingerprint(presented)})
}

// Logout records a logout of the bearer's session.
func (r *Recorder) Logout(process int, bearer string) *Pending {
	return r.invoke(Op{Process: process, Kind: Logout, Bearer: Fingerprint(bearer)})
}

// LogoutAll records a logout of every session of the bearer's user.
func (r *Recorder) LogoutAll(process int, bearer string) *Pending {
	return r.invoke(Op{Process: process, Kind: LogoutAll, Bearer: Fingerprint(bearer)})
}

// ChangePassword records a change from the password of generation from to
// that of generation to, which must be new for the user (a per-user counter
// drawn at invocation).
func (r *Recorder) ChangePassword(process int, bearer string, from, to int) *Pending {
	return r.invoke(Op{Process: process, Kind: ChangePassword, Bearer: Fingerprint(bearer),
		PasswordGen: from, NewPasswordGen: to})
}

// Verify records a check of an access token (`me`).
func (r *Recorder) Verify(process int, bearer string) *Pending {
	return r.invoke(Op{Process: process, Kind: Verify, Bearer: Fingerprint(bearer)})
}

func (r *Recorder) invoke(op Op) *Pending {
	r.mu.Lock()
	defer r.mu.Unlock()
	presented := op.Presented
	if presented == "" {
		presented = op.Bearer
	}
	if who, ok := r.owners[presented]; ok && presented != "" {
		op.User, op.Session = who.user, who.session
	}
	if op.Kind.opensSession() {
		// The session of a change's bearer is not the one it opens.
		op.Session = ""
	}
	op.Index = len(r.ops)
	op.Invoke = time.Since(r.start)
	r.ops = append(r.ops, op)
	r.done = append(r.done, false)
	return &Pending{rec: r, index: op.Index}
}

// OK completes a success that returned tokens: the new refresh token, the
// access token and its session id (sid; "" reads it from the access token).
func (p *Pending) OK(refresh, access, sid string) {
	if sid == "" {
		sid = SessionOf(access)
	}
	p.complete(func(op *Op, owners map[string]owner) {
		op.Outcome = OK
		op.Refresh, op.Access = Fingerprint(refresh), Fingerprint(access)
		if sid != "" {
			op.Session = sid
		}
		who := owner{user: op.User, session: op.Session}
		for _, token := range []string{op.Refresh, op.Access} {
			if token != "" {
				owners[token] = who
			}
		}
	})
}

// Done completes a success that returned no tokens (Logout, LogoutAll,
// Verify).
func (p *Pending) Done() {
	p.complete(func(op *Op, _ map[string]owner) { op.Outcome = OK })
}

// Fail completes an operation keycard refused with an error code. A code
// that does not prove the operation took no effect (UNAVAILABLE,
// INTERNAL_SERVER_ERROR, any unknown one) is recorded as Unknown, so a
// correct server is never held to an answer that was not definite.
func (p *Pending) Fail(code string) {
	p.complete(func(op *Op, _ map[string]owner) {
		op.Code = code
		op.Outcome = Fail
		if !definite(code) {
			op.Outcome = Unknown
			op.Error = "answered " + code
		}
	})
}

// Unknown completes an operation without a definite answer: a timeout, a
// transport error, a 5xx. err must not contain a token.
func (p *Pending) Unknown(err error) {
	text := "no answer"
	if err != nil {
		text = err.Error()
	}
	if len(text) > maxErrorBytes {
		text = text[:maxErrorBytes]
	}
	p.complete(func(op *Op, _ map[string]owner) {
		op.Outcome = Unknown
		op.Error = text
	})
}

func (p *Pending) complete(set func(*Op, map[string]owner)) {
	r := p.rec
	now := time.Since(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done[p.index] {
		// A second outcome would make the history lie about what the
		// client saw; this is a bug in the workload.
		panic("history: operation completed twice")
	}
	r.done[p.index] = true
	op := &r.ops[p.index]
	op.Complete = now
	set(op, r.owners)
}

// History returns a copy of what was recorded so far, in invocation order.
// Operations still pending are Unknown, completing now: they may yet take
// effect.
func (r *Recorder) History() History {
	now := time.Since(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	h := make(History, len(r.ops))
	copy(h, r.ops)
	for i := range h {
		if !r.done[i] {
			h[i].Outcome = Unknown
			h[i].Complete = now
			h[i].Error = "still pending when the history was taken"
		}
	}
	return h
}
