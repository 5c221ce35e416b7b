package history

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is what the checker must know of the server that made a history.
type Config struct {
	// ReuseInterval is the server's KEYCARD_REFRESH_REUSE_INTERVAL.
	ReuseInterval time.Duration
	// ClockSlack is how far the server's clock may disagree with the
	// recorder's about a duration (the server times rotations with the
	// wall clock). A few milliseconds on one machine.
	ClockSlack time.Duration
	// AccessTTL is the access-token lifetime; 0 means no token expires
	// during the history.
	AccessTTL time.Duration
	// MaxSessionsPerUser is the server's cap on live sessions of one user
	// (the oldest end when it is reached); 0 means no cap.
	MaxSessionsPerUser int
}

// serverClockResolution is the precision the server stores rotation times
// with (DATETIME(6)): a reuse measured by the server may be this much
// shorter than the true one.
const serverClockResolution = time.Microsecond

// Property names a safety property of refresh rotation.
type Property string

const (
	// Rotation: each refresh token yields at most one rotation (two within
	// the reuse interval), and never after it was rotated away.
	Rotation Property = "rotation"
	// Reuse: once reuse of a rotated-away token is detected, its session
	// never refreshes again.
	Reuse Property = "reuse"
	// Revocation: no refresh succeeds for a session after a logout or
	// password change that ended it, and no replaced password works.
	Revocation Property = "revocation"
	// Verification: tokens a success returned work until something could
	// have ended them.
	Verification Property = "verification"
)

// Violation is one breach of a property, with the operations that show it:
// the offending one first, then the ones that made it an offence.
type Violation struct {
	Property Property
	Message  string
	Ops      []Op
}

func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", v.Property, v.Message)
	for _, op := range v.Ops {
		fmt.Fprintf(&b, "\n    %s", describe(op))
	}
	return b.String()
}

// Counts are how many operations of one kind were attempted and how each
// ended.
type Counts struct {
	Attempts, Successes, Failures, Unknown int
}

// Report is the checker's verdict on a history.
type Report struct {
	// Refresh counts refresh attempts; Kinds counts every kind.
	Refresh    Counts
	Kinds      map[Kind]Counts
	Violations []Violation
}

// Passed reports whether the history breaks no property.
func (r Report) Passed() bool { return len(r.Violations) == 0 }

// reportedViolations bounds how many violations String spells out.
const reportedViolations = 20

// String is a one-line summary (refresh attempts and violations), followed
// by the first violations, one per paragraph.
func (r Report) String() string {
	var b strings.Builder
	total := 0
	for _, c := range r.Kinds {
		total += c.Attempts
	}
	fmt.Fprintf(&b, "attempts=%d successes=%d failures=%d unknown=%d violations=%d (refresh; %d ops in all)",
		r.Refresh.Attempts, r.Refresh.Successes, r.Refresh.Failures, r.Refresh.Unknown, len(r.Violations), total)
	for i, v := range r.Violations {
		if i == reportedViolations {
			fmt.Fprintf(&b, "\n… and %d more violations", len(r.Violations)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return b.String()
}

// describe is one operation on one line, for reports.
func describe(op Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d p%d %s", op.Index, op.Process, op.Kind)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, " %s=%s", name, value)
		}
	}
	field("user", op.User)
	field("session", op.Session)
	field("presented", op.Presented)
	field("bearer", op.Bearer)
	switch op.Kind {
	case Login:
		fmt.Fprintf(&b, " password=%d", op.PasswordGen)
	case ChangePassword:
		fmt.Fprintf(&b, " password=%d→%d", op.PasswordGen, op.NewPasswordGen)
	}
	fmt.Fprintf(&b, " [%v, %v] %s", op.Invoke, op.Complete, op.Outcome)
	field("code", op.Code)
	field("refresh", op.Refresh)
	return b.String()
}

// Check verifies the safety properties of refresh rotation over a whole
// history (see the package documentation for the model). It fails only on
// a history that is not well formed; violations are in the report.
func Check(h History, cfg Config) (Report, error) {
	c := &checker{
		cfg:           cfg,
		ops:           slices.Clone(h),
		refreshIssuer: make(map[string]int),
		accessIssuer:  make(map[string]int),
		sessions:      make(map[int]*session),
		users:         make(map[string]*user),
		flagged:       make(map[flag]bool),
	}
	c.report.Kinds = make(map[Kind]Counts)
	for i := range c.ops {
		op := &c.ops[i]
		op.Index = i
		if err := wellFormed(op); err != nil {
			return Report{}, fmt.Errorf("history: op %d: %w", i, err)
		}
		c.count(op)
	}
	c.index()
	c.checkRotation()
	c.checkReuse()
	c.checkRevocation()
	c.checkVerification()
	slices.SortStableFunc(c.report.Violations, func(a, b Violation) int {
		return cmp.Compare(a.Ops[0].Index, b.Ops[0].Index)
	})
	return c.report, nil
}

func wellFormed(op *Op) error {
	switch {
	case !op.Kind.valid():
		return fmt.Errorf("unknown kind %q", op.Kind)
	case op.Outcome != OK && op.Outcome != Fail && op.Outcome != Unknown:
		return fmt.Errorf("unknown outcome %q", op.Outcome)
	case op.Invoke < 0 || op.Complete < op.Invoke:
		return fmt.Errorf("completes (%v) before it is invoked (%v)", op.Complete, op.Invoke)
	case op.Kind == Refresh && op.Presented == "":
		return fmt.Errorf("refresh presents no token")
	case (op.Kind == Register || op.Kind == Login) && op.User == "":
		return fmt.Errorf("%s names no user", op.Kind)
	case op.Kind.authenticates() && op.Bearer == "":
		return fmt.Errorf("%s presents no access token", op.Kind)
	case op.Kind == ChangePassword && op.NewPasswordGen <= op.PasswordGen:
		return fmt.Errorf("password generation %d → %d does not increase", op.PasswordGen, op.NewPasswordGen)
	case op.Outcome == OK && (op.Kind.opensSession() || op.Kind == Refresh) && op.Refresh == "":
		return fmt.Errorf("successful %s returned no refresh token", op.Kind)
	}
	return nil
}

// session is what the checker knows of one session: the operation that
// opened it and the operations that acted on it.
type session struct {
	opener *Op
	user   *user
	// passwordGen is the password generation it was opened with.
	passwordGen int
	// refreshes present one of its refresh tokens (any outcome); okRefresh
	// are the successful ones, each a rotation.
	refreshes []*Op
	okRefresh []*Op
	// bearers present one of its access tokens (Logout, Verify, ...).
	bearers []*Op
}

// user is what the checker knows of one user.
type user struct {
	name string
	// openers are the operations that may have opened a session of the
	// user (any outcome but Fail).
	openers    []*Op
	logoutAlls []*Op
	changes    []*Op
	logins     []*Op
}

type checker struct {
	cfg Config
	ops []Op
	// refreshIssuer and accessIssuer map a token fingerprint to the index
	// of the success that returned it. They are apart because the server
	// never takes one kind of token for the other.
	refreshIssuer, accessIssuer map[string]int
	// sessions are keyed by the index of the operation that opened them.
	sessions map[int]*session
	users    map[string]*user
	// resolved is the session of each success's tokens; resolving guards
	// against a chain that loops back on itself (only a forged history can
	// hold one).
	resolved  map[int]*session
	resolving map[int]bool
	report    Report
	flagged   map[flag]bool
}

// flag keeps one operation from being reported twice for one property.
type flag struct {
	property Property
	op       int
}

func (c *checker) count(op *Op) {
	k := c.report.Kinds[op.Kind]
	k.Attempts++
	switch op.Outcome {
	case OK:
		k.Successes++
	case Fail:
		k.Failures++
	case Unknown:
		k.Unknown++
	}
	c.report.Kinds[op.Kind] = k
	if op.Kind == Refresh {
		c.report.Refresh = k
	}
}

func (c *checker) violate(p Property, message string, ops ...*Op) {
	if c.flagged[flag{p, ops[0].Index}] {
		return
	}
	c.flagged[flag{p, ops[0].Index}] = true
	v := Violation{Property: p, Message: message}
	for _, op := range ops {
		v.Ops = append(v.Ops, *op)
	}
	c.report.Violations = append(c.report.Violations, v)
}

// index finds who returned each token, and the session and user each
// operation acts on.
func (c *checker) index() {
	for i := range c.ops {
		op := &c.ops[i]
		if op.Outcome != OK {
			continue
		}
		returned := []struct {
			token  string
			issuer map[string]int
		}{{op.Refresh, c.refreshIssuer}, {op.Access, c.accessIssuer}}
		for _, r := range returned {
			if r.token == "" {
				continue
			}
			if first, seen := r.issuer[r.token]; seen {
				c.violate(Rotation, "two successes returned the same token", op, &c.ops[first])
				continue
			}
			r.issuer[r.token] = i
		}
	}
	c.resolved = make(map[int]*session)
	c.resolving = make(map[int]bool)
	sids := make(map[string]*Op)
	for i := range c.ops {
		op := &c.ops[i]
		if op.Kind.opensSession() {
			c.fileOpener(op, c.openerUser(op))
			if op.Outcome == OK && op.Session != "" {
				if first, seen := sids[op.Session]; seen {
					c.violate(Rotation, "two sessions were opened with the same id", op, first)
				}
				sids[op.Session] = op
			}
		}
		switch {
		case op.Kind == Refresh:
			s := c.tokenSession(op.Presented)
			if s == nil {
				if op.Outcome == OK {
					c.violate(Rotation, "a refresh token no operation returned was accepted", op)
				}
				continue
			}
			s.refreshes = append(s.refreshes, op)
			if op.Outcome == OK {
				s.okRefresh = append(s.okRefresh, op)
				if op.Session != "" && s.opener.Session != "" && op.Session != s.opener.Session {
					c.violate(Rotation, "a rotation returned tokens of another session", op, s.opener)
				}
			}
		case op.Kind.authenticates():
			s := c.bearerSession(op.Bearer)
			if s == nil {
				if op.Outcome == OK {
					c.violate(Verification, "an access token no operation returned was accepted", op)
				}
				continue
			}
			s.bearers = append(s.bearers, op)
			switch op.Kind {
			case LogoutAll:
				s.user.logoutAlls = append(s.user.logoutAlls, op)
			case ChangePassword:
				s.user.changes = append(s.user.changes, op)
			}
		}
	}
	for _, s := range c.sessions {
		slices.SortStableFunc(s.okRefresh, func(a, b *Op) int { return cmp.Compare(a.Invoke, b.Invoke) })
	}
}

// openerUser returns the user an opening operation acts on: the one it
// names, or for a password change the owner of its bearer token.
func (c *checker) openerUser(op *Op) *user {
	name := op.User
	if op.Kind == ChangePassword {
		if s := c.bearerSession(op.Bearer); s != nil {
			name = s.user.name
		}
	}
	if name == "" {
		return nil
	}
	u := c.users[name]
	if u == nil {
		u = &user{name: name}
		c.users[name] = u
	}
	return u
}

// fileOpener files an opening operation under its user.
func (c *checker) fileOpener(op *Op, u *user) {
	if u == nil || !op.possiblyApplied() {
		return
	}
	u.openers = append(u.openers, op)
	if op.Kind == Login && op.Outcome == OK {
		u.logins = append(u.logins, op)
	}
}

// tokenSession is the session a refresh token belongs to, following
// refresh chains back to the operation that opened it; nil if no success
// of the history returned the token.
func (c *checker) tokenSession(token string) *session {
	i, ok := c.refreshIssuer[token]
	if !ok {
		return nil
	}
	return c.issuedBy(i)
}

// bearerSession is the session an access token belongs to.
func (c *checker) bearerSession(token string) *session {
	i, ok := c.accessIssuer[token]
	if !ok {
		return nil
	}
	return c.issuedBy(i)
}

// issuedBy is the session of the tokens that success i returned, nil if
// it cannot be told. Each answer is kept: a long chain is walked once.
func (c *checker) issuedBy(i int) *session {
	if s, ok := c.resolved[i]; ok {
		return s
	}
	if c.resolving[i] {
		return nil
	}
	c.resolving[i] = true
	defer delete(c.resolving, i)
	op := &c.ops[i]
	var s *session
	if op.Kind == Refresh {
		s = c.tokenSession(op.Presented)
	} else if u := c.openerUser(op); u != nil {
		gen := op.PasswordGen
		switch op.Kind {
		case Register:
			gen = 0
		case ChangePassword:
			gen = op.NewPasswordGen
		}
		s = &session{opener: op, user: u, passwordGen: gen}
		c.sessions[i] = s
	}
	c.resolved[i] = s
	return s
}

// each calls f for every session in the order they were opened, so
// reports come out the same on every run.
func (c *checker) each(f func(*session)) {
	keys := make([]int, 0, len(c.sessions))
	for i := range c.sessions {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	for _, i := range keys {
		f(c.sessions[i])
	}
}

// stale reports whether the refresh token presented by x had certainly
// been rotated away, outside the reuse interval, before x was invoked, and
// the rotations that prove it.
//
// The server rotates a session's token from generation g to g+1, one
// transaction at a time, and returns the token of the new generation; it
// accepts the current token, and the previous one while no more than the
// reuse interval has passed since the last rotation. A success E of the
// session invoked after the presented token's issuer O completed is a
// rotation after O. Two of them completed before x put the session two
// generations past the token: refused whatever the time. One of them, with
// the reuse interval since it completed already over when x was invoked,
// is either the last rotation (and the interval is spent) or followed by
// another (two generations past): refused either way.
func (c *checker) stale(s *session, x *Op) (bool, []*Op) {
	issuer := &c.ops[c.refreshIssuer[x.Presented]]
	var after []*Op
	// okRefresh is in invocation order: start at the first one invoked
	// after the issuer completed, stop at the first invoked after x was.
	first := sort.Search(len(s.okRefresh), func(j int) bool { return issuer.precedes(s.okRefresh[j]) })
	for _, e := range s.okRefresh[first:] {
		if e.Invoke >= x.Invoke {
			break
		}
		if e != x && e.precedes(x) {
			after = append(after, e)
			if len(after) == 2 {
				return true, after
			}
		}
	}
	if len(after) == 0 {
		return false, nil
	}
	if c.cfg.ReuseInterval <= 0 {
		return true, after
	}
	grace := c.cfg.ReuseInterval + c.cfg.ClockSlack + serverClockResolution
	return x.Invoke-after[0].Complete > grace, after
}

// checkRotation: no success presents a token that was certainly rotated
// away, and no token yields more rotations than the server allows (one, or
// two within the reuse interval) among successes that may have overlapped.
func (c *checker) checkRotation() {
	allowed := 1
	if c.cfg.ReuseInterval > 0 {
		allowed = 2
	}
	c.each(func(s *session) {
		byToken := make(map[string][]*Op)
		var tokens []string
		for _, q := range s.okRefresh {
			if stale, proof := c.stale(s, q); stale {
				c.violate(Rotation, "a refresh token was accepted after it had been rotated away",
					append([]*Op{q, &c.ops[c.refreshIssuer[q.Presented]]}, proof...)...)
				continue
			}
			if byToken[q.Presented] == nil {
				tokens = append(tokens, q.Presented)
			}
			byToken[q.Presented] = append(byToken[q.Presented], q)
		}
		for _, token := range tokens {
			if oks := byToken[token]; len(oks) > allowed {
				c.violate(Rotation, fmt.Sprintf("one refresh token yielded %d rotations (at most %d)", len(oks), allowed),
					oks...)
			}
		}
	})
}

// checkReuse: a refused refresh whose token was certainly stale detected
// reuse, so the server revoked the session before answering; no refresh
// of that session invoked afterwards may succeed.
func (c *checker) checkReuse() {
	c.each(func(s *session) {
		var detector *Op
		for _, r := range s.refreshes {
			if !r.refused() || detector != nil && detector.Complete <= r.Complete {
				continue
			}
			if stale, _ := c.stale(s, r); stale {
				detector = r
			}
		}
		if detector == nil {
			return
		}
		for _, q := range s.okRefresh {
			if detector.precedes(q) {
				c.violate(Reuse, "a session refreshed after reuse of its refresh token was detected", q, detector)
			}
		}
	})
}

// checkRevocation: an acknowledged logout or password change ends
// sessions; none of them refreshes afterwards, and no password a completed
// change replaced opens a session or changes again.
func (c *checker) checkRevocation() {
	c.each(func(s *session) {
		var ended *Op
		earlier := func(op *Op) {
			if ended == nil || op.Complete < ended.Complete {
				ended = op
			}
		}
		for _, op := range s.bearers {
			if op.Kind == Logout && op.Outcome == OK {
				earlier(op)
			}
		}
		for _, l := range s.user.logoutAlls {
			// Sessions that existed when the logout was invoked.
			if l.Outcome == OK && s.opener.precedes(l) {
				earlier(l)
			}
		}
		for _, ch := range s.user.changes {
			// Every session opened with an earlier password, including
			// logins that raced the change; not the one it opened.
			if ch.Outcome == OK && ch.NewPasswordGen > s.passwordGen {
				earlier(ch)
			}
		}
		if ended == nil {
			return
		}
		for _, q := range s.okRefresh {
			if ended.precedes(q) {
				c.violate(Revocation, fmt.Sprintf("a session refreshed after %s ended it", ended.Kind), q, ended)
			}
		}
	})
	names := make([]string, 0, len(c.users))
	for name := range c.users {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		u := c.users[name]
		for _, ch := range u.changes {
			if ch.Outcome != OK {
				continue
			}
			for _, x := range slices.Concat(u.logins, u.changes) {
				if x.Outcome == OK && x.PasswordGen < ch.NewPasswordGen && ch.precedes(x) {
					c.violate(Revocation, fmt.Sprintf("%s succeeded with a password a completed change had replaced", x.Kind), x, ch)
				}
			}
			for _, other := range u.changes {
				// The first change from a password replaces it: a second
				// one from the same password must fail, in either order.
				if other != ch && other.Outcome == OK && other.PasswordGen == ch.PasswordGen && other.Index > ch.Index {
					c.violate(Revocation, "two password changes from the same password both succeeded", other, ch)
				}
			}
		}
	}
}

// checkVerification: a token a success returned is refused only if
// something may have ended it first: a logout, password change or refused
// refresh (reuse) that may have revoked its session, expiry, the session
// cap, or, for a refresh token, a rotation that may have replaced it.
func (c *checker) checkVerification() {
	c.each(func(s *session) {
		for _, v := range s.bearers {
			if !v.refused() || c.mayHaveEnded(s, v) {
				continue
			}
			issuer := &c.ops[c.accessIssuer[v.Bearer]]
			if c.cfg.AccessTTL > 0 && v.Complete+c.cfg.ClockSlack >= issuer.Invoke+c.cfg.AccessTTL {
				continue
			}
			c.violate(Verification, "an access token was refused while nothing could have ended its session", v, issuer)
		}
		for _, q := range s.refreshes {
			if !q.refused() || c.mayHaveEnded(s, q) || c.mayHaveRotated(s, q) {
				continue
			}
			c.violate(Verification, "a refresh token was refused while it was current and its session live",
				q, &c.ops[c.refreshIssuer[q.Presented]])
		}
	})
}

// mayHaveEnded reports whether an operation other than x, invoked before x
// completed, may have revoked session s.
func (c *checker) mayHaveEnded(s *session, x *Op) bool {
	before := func(op *Op) bool { return op != x && op.possiblyApplied() && op.Invoke < x.Complete }
	for _, op := range s.bearers {
		if op.Kind == Logout && before(op) {
			return true
		}
	}
	for _, l := range s.user.logoutAlls {
		// An acknowledged logout of all ends only sessions opened before
		// it took effect; one without an answer may take effect any time.
		if before(l) && (l.Outcome == Unknown || !l.precedes(s.opener)) {
			return true
		}
	}
	for _, ch := range s.user.changes {
		if before(ch) && ch.NewPasswordGen > s.passwordGen {
			return true
		}
	}
	for _, r := range s.refreshes {
		// A refused refresh may have been a detected reuse; one without an
		// answer may have been too.
		if r != x && r.Invoke < x.Complete && (r.refused() || r.Outcome == Unknown) {
			return true
		}
	}
	if limit := c.cfg.MaxSessionsPerUser; limit > 0 {
		newer := 0
		for _, o := range s.user.openers {
			if o != s.opener && before(o) && !o.precedes(s.opener) {
				newer++
			}
		}
		if newer >= limit {
			return true
		}
	}
	return false
}

// mayHaveRotated reports whether a rotation of s other than x may have
// replaced the token x presented before x took effect.
func (c *checker) mayHaveRotated(s *session, x *Op) bool {
	issuer := &c.ops[c.refreshIssuer[x.Presented]]
	for _, r := range s.refreshes {
		if r != x && r != issuer && r.possiblyApplied() && r.Invoke < x.Complete && !r.precedes(issuer) {
			return true
		}
	}
	return false
}
