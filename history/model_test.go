package history

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// model is a tiny in-memory keycard: the rules of auth.Service for
// sessions, rotation, reuse, logout and password change (a credential is
// checked and acted on in one step), applied one operation at a time at its
// linearization point.
type model struct {
	interval  time.Duration
	bugs      bug
	passwords map[string]int // user → current password generation
	sessions  map[string]*modelSession
	refreshes map[string]modelToken // refresh token → its session and generation
	accesses  map[string]string     // access token → session id
	ids       int
}

type modelSession struct {
	id, user   string
	generation int
	rotatedAt  time.Duration
	revoked    bool
	// loggedOut is what the logoutKeepsRefresh bug revokes instead.
	loggedOut bool
}

// bug is a way a server could get rotation wrong; the checker must catch
// each.
type bug int

const (
	// reuseKeepsSession refuses a reused token without revoking the
	// session.
	reuseKeepsSession bug = 1 << iota
	// graceForever accepts the previous token however long ago the
	// rotation was, even with a zero interval.
	graceForever
	// logoutKeepsRefresh ends the access tokens of a logged-out session
	// but not its refresh token.
	logoutKeepsRefresh
	// changeKeepsSessions changes the password without ending sessions.
	changeKeepsSessions
	// loginChecksEarly checks the password when the login arrives and
	// opens the session later without checking again, so a login racing a
	// password change keeps its session.
	loginChecksEarly
	// rotationNotCommitted answers some rotations without saving them.
	rotationNotCommitted
)

type modelToken struct {
	session    string
	generation int
}

// answer is what the model answered one operation.
type answer struct {
	outcome          Outcome
	code             string
	refresh, access  string
	session, forUser string
}

func newModel(interval time.Duration, bugs bug) *model {
	return &model{
		interval:  interval,
		bugs:      bugs,
		passwords: make(map[string]int),
		sessions:  make(map[string]*modelSession),
		refreshes: make(map[string]modelToken),
		accesses:  make(map[string]string),
	}
}

func refusal(code string) answer { return answer{outcome: Fail, code: code} }

func (m *model) id(prefix string) string {
	m.ids++
	return fmt.Sprintf("%s%d", prefix, m.ids)
}

// grant returns new tokens of s at its current generation.
func (m *model) grant(s *modelSession) answer {
	refresh, access := m.id("r"), m.id("a")
	m.refreshes[refresh] = modelToken{session: s.id, generation: s.generation}
	m.accesses[access] = s.id
	return answer{outcome: OK, refresh: refresh, access: access, session: s.id, forUser: s.user}
}

func (m *model) open(user string, now time.Duration) answer {
	s := &modelSession{id: m.id("s"), user: user, rotatedAt: now}
	m.sessions[s.id] = s
	return m.grant(s)
}

func (m *model) revokeAll(user string) {
	for _, s := range m.sessions {
		if s.user == user {
			s.revoked = true
		}
	}
}

// bearer is the live session of an access token, or nil.
func (m *model) bearer(access string) *modelSession {
	s := m.sessions[m.accesses[access]]
	if s == nil || s.revoked || s.loggedOut {
		return nil
	}
	return s
}

// checkPassword is the login's password check.
func (m *model) checkPassword(op *Op) bool {
	current, ok := m.passwords[op.User]
	return ok && current == op.PasswordGen
}

// apply runs op at now; checkedEarly is the loginChecksEarly bug's
// verdict on the password, taken when the login arrived.
func (m *model) apply(op *Op, now time.Duration, checkedEarly bool) answer {
	switch op.Kind {
	case Register:
		if _, taken := m.passwords[op.User]; taken {
			return refusal("USERNAME_TAKEN")
		}
		m.passwords[op.User] = 0
		return m.open(op.User, now)
	case Login:
		passwordOK := m.checkPassword(op)
		if m.bugs&loginChecksEarly != 0 {
			passwordOK = checkedEarly
		}
		if !passwordOK {
			return refusal(CodeUnauthenticated)
		}
		return m.open(op.User, now)
	case Refresh:
		token, ok := m.refreshes[op.Presented]
		if !ok {
			return refusal(CodeUnauthenticated)
		}
		s := m.sessions[token.session]
		if s.revoked {
			return refusal(CodeUnauthenticated)
		}
		withinInterval := m.interval > 0 && token.generation == s.generation-1 && now-s.rotatedAt <= m.interval
		if m.bugs&graceForever != 0 && token.generation == s.generation-1 {
			withinInterval = true
		}
		if token.generation != s.generation && !withinInterval {
			// Reuse: the whole session ends.
			s.revoked = m.bugs&reuseKeepsSession == 0
			return refusal(CodeUnauthenticated)
		}
		if m.bugs&rotationNotCommitted != 0 && m.ids%3 == 0 {
			return answer{outcome: OK, refresh: m.id("r"), access: m.id("a"), session: s.id, forUser: s.user}
		}
		s.generation++
		s.rotatedAt = now
		return m.grant(s)
	}
	s := m.bearer(op.Bearer)
	if s == nil {
		return refusal(CodeUnauthenticated)
	}
	switch op.Kind {
	case Logout:
		if m.bugs&logoutKeepsRefresh != 0 {
			s.loggedOut = true
		} else {
			s.revoked = true
		}
	case LogoutAll:
		m.revokeAll(s.user)
	case ChangePassword:
		if m.passwords[s.user] != op.PasswordGen {
			return refusal("BAD_USER_INPUT")
		}
		m.passwords[s.user] = op.NewPasswordGen
		if m.bugs&changeKeepsSessions == 0 {
			m.revokeAll(s.user)
		}
		return m.open(s.user, now)
	}
	return answer{outcome: OK}
}

// simulation drives the model with concurrent clients whose requests are
// invoked, applied and answered at separate instants; answers get lost,
// clients give up, and requests they gave up on may still apply later.
type simulation struct {
	rng   *rand.Rand
	model *model
	h     History
	now   time.Duration
	busy  []bool
	// flight are requests sent and not yet applied or answered (including
	// ones whose client gave up).
	flight []*request
	// Client-side knowledge, shared by every process (tabs of one user
	// share tokens): tokens learnt from answers, in the order learnt.
	refreshes []known
	accesses  []known
	// believed is the last acknowledged password generation per user;
	// drawn is the per-user counter new generations come from.
	believed map[string]int
	drawn    map[string]int
	users    []string
}

type known struct {
	token, user, session string
}

type request struct {
	op      int
	applied bool
	answer  answer
	gaveUp  bool
	// checkedEarly is the password check the loginChecksEarly bug does on
	// arrival.
	checkedEarly bool
}

func simulate(seed uint64, steps int, interval time.Duration, bugs bug) History {
	s := &simulation{
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		model:    newModel(interval, bugs),
		busy:     make([]bool, 5),
		believed: make(map[string]int),
		drawn:    make(map[string]int),
		users:    []string{"ann", "bob"},
	}
	for p, user := range s.users {
		r := s.invoke(p, Op{Kind: Register, User: user})
		s.apply(r)
		s.answer(r, false)
	}
	for range steps {
		s.now += time.Millisecond
		switch n := s.rng.IntN(100); {
		case n < 32:
			s.invokeRandom()
		case n < 64:
			if r := s.pick(func(r *request) bool { return !r.applied }); r != nil {
				s.apply(r)
			}
		case n < 97:
			if r := s.pick(func(r *request) bool { return r.applied && !r.gaveUp }); r != nil {
				s.answer(r, s.rng.IntN(25) == 0)
			}
		default:
			if r := s.pick(func(r *request) bool { return !r.applied && !r.gaveUp }); r != nil {
				s.giveUp(r)
			}
		}
	}
	// Drain: what is still in flight applies (or not) and is answered.
	for _, r := range slices.Clone(s.flight) {
		s.now += time.Millisecond
		if !r.applied && s.rng.IntN(2) == 0 {
			s.apply(r)
		}
		if r.gaveUp {
			continue
		}
		s.now += time.Millisecond
		if r.applied {
			s.answer(r, false)
		} else {
			s.giveUp(r)
		}
	}
	return s.h
}

func (s *simulation) pick(match func(*request) bool) *request {
	var candidates []*request
	for _, r := range s.flight {
		if match(r) {
			candidates = append(candidates, r)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	return candidates[s.rng.IntN(len(candidates))]
}

func (s *simulation) invoke(process int, op Op) *request {
	s.now += time.Millisecond
	op.Process, op.Invoke = process, s.now
	s.h = append(s.h, op)
	s.busy[process] = true
	r := &request{op: len(s.h) - 1, checkedEarly: s.model.checkPassword(&op)}
	s.flight = append(s.flight, r)
	return r
}

func (s *simulation) apply(r *request) {
	s.now += time.Millisecond
	r.applied = true
	if r.gaveUp {
		// Nobody waits for this answer any more.
		s.flight = slices.DeleteFunc(s.flight, func(f *request) bool { return f == r })
	}
	op := &s.h[r.op]
	if op.Kind == Refresh && s.rng.IntN(30) == 0 {
		r.answer = refusal("RATE_LIMITED") // refused before the token is looked at
		return
	}
	r.answer = s.model.apply(op, s.now, r.checkedEarly)
}

// answer delivers r's answer to its client, or loses it.
func (s *simulation) answer(r *request, lose bool) {
	s.now += time.Millisecond
	op := &s.h[r.op]
	op.Complete = s.now
	s.busy[op.Process] = false
	s.flight = slices.DeleteFunc(s.flight, func(f *request) bool { return f == r })
	if lose {
		op.Outcome, op.Error = Unknown, "answer lost"
		return
	}
	a := r.answer
	op.Outcome, op.Code = a.outcome, a.code
	if a.outcome != OK || a.refresh == "" {
		return
	}
	op.Refresh, op.Access, op.Session = a.refresh, a.access, a.session
	s.refreshes = append(s.refreshes, known{a.refresh, a.forUser, a.session})
	s.accesses = append(s.accesses, known{a.access, a.forUser, a.session})
	if op.Kind == ChangePassword {
		s.believed[a.forUser] = op.NewPasswordGen
	}
}

// giveUp completes r as Unknown; it stays in flight and may still apply.
func (s *simulation) giveUp(r *request) {
	s.now += time.Millisecond
	op := &s.h[r.op]
	op.Complete, op.Outcome, op.Error = s.now, Unknown, "timeout"
	s.busy[op.Process] = false
	r.gaveUp = true
	if r.applied {
		s.flight = slices.DeleteFunc(s.flight, func(f *request) bool { return f == r })
	}
}

// recent picks a token, mostly one of the last few learnt (what a client
// holds now), sometimes any (a stale copy: reuse).
func (s *simulation) recent(tokens []known) known {
	if s.rng.IntN(8) == 0 {
		return tokens[s.rng.IntN(len(tokens))]
	}
	return tokens[max(0, len(tokens)-1-s.rng.IntN(3))]
}

func (s *simulation) invokeRandom() {
	var idle []int
	for p, busy := range s.busy {
		if !busy {
			idle = append(idle, p)
		}
	}
	if len(idle) == 0 {
		return
	}
	p := idle[s.rng.IntN(len(idle))]
	switch n := s.rng.IntN(100); {
	case n < 52:
		t := s.recent(s.refreshes)
		s.invoke(p, Op{Kind: Refresh, Presented: t.token, User: t.user, Session: t.session})
	case n < 72:
		t := s.recent(s.accesses)
		s.invoke(p, Op{Kind: Verify, Bearer: t.token, User: t.user, Session: t.session})
	case n < 86:
		user := s.users[s.rng.IntN(len(s.users))]
		gen := s.believed[user]
		if s.rng.IntN(4) == 0 {
			gen = s.rng.IntN(s.drawn[user] + 1) // an old or never-set password
		}
		s.invoke(p, Op{Kind: Login, User: user, PasswordGen: gen})
	case n < 92:
		t := s.recent(s.accesses)
		s.invoke(p, Op{Kind: Logout, Bearer: t.token, User: t.user, Session: t.session})
	case n < 95:
		t := s.recent(s.accesses)
		s.invoke(p, Op{Kind: LogoutAll, Bearer: t.token, User: t.user, Session: t.session})
	default:
		t := s.recent(s.accesses)
		from := s.believed[t.user]
		if s.rng.IntN(5) == 0 {
			from = s.rng.IntN(s.drawn[t.user] + 1)
		}
		s.drawn[t.user]++
		s.invoke(p, Op{Kind: ChangePassword, Bearer: t.token, User: t.user,
			PasswordGen: from, NewPasswordGen: s.drawn[t.user]})
	}
}

// seeds are the random histories the property tests run: strict rotation
// and a reuse interval a few operations long.
func seeds(t *testing.T, bugs bug, run func(t *testing.T, h History, cfg Config)) {
	n := 300
	if testing.Short() {
		n = 60
	}
	for seed := range uint64(n) {
		cfg := Config{}
		if seed%2 == 1 {
			cfg.ReuseInterval = 15 * time.Millisecond
		}
		h := simulate(seed, 400, cfg.ReuseInterval, bugs)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { run(t, h, cfg) })
	}
}

func TestModelHistoriesPass(t *testing.T) {
	var total Report
	total.Kinds = make(map[Kind]Counts)
	seeds(t, 0, func(t *testing.T, h History, cfg Config) {
		report, err := Check(h, cfg)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if !report.Passed() {
			t.Errorf("a history of the model failed:\n%s", report)
		}
		for k, c := range report.Kinds {
			sum := total.Kinds[k]
			sum.Attempts += c.Attempts
			sum.Successes += c.Successes
			sum.Failures += c.Failures
			sum.Unknown += c.Unknown
			total.Kinds[k] = sum
		}
	})
	// The histories must exercise what the checker is for.
	for _, k := range Kinds() {
		c := total.Kinds[k]
		if c.Successes == 0 || k != Register && c.Unknown == 0 {
			t.Errorf("%s: %+v: the simulation never produced both successes and unknown outcomes", k, c)
		}
		if k != Register && c.Failures == 0 && k != LogoutAll {
			t.Errorf("%s: %+v: the simulation never produced a refusal", k, c)
		}
	}
}

// mutation turns a legal history into one that breaks property; ok is
// false when the history offers nothing to mutate.
type mutation struct {
	name     string
	property Property
	mutate   func(h History, cfg Config, rng *rand.Rand) (History, bool)
}

func end(h History) time.Duration {
	var last time.Duration
	for _, op := range h {
		last = max(last, op.Complete)
	}
	return last
}

func choose(rng *rand.Rand, h History, match func(Op) bool) (Op, bool) {
	var candidates []Op
	for _, op := range h {
		if match(op) {
			candidates = append(candidates, op)
		}
	}
	if len(candidates) == 0 {
		return Op{}, false
	}
	return candidates[rng.IntN(len(candidates))], true
}

// latestToken is the refresh token of session that the latest-completing
// success returned: never rotated away by a success of the history.
func latestToken(h History, session string) (Op, bool) {
	var latest Op
	found := false
	for _, op := range h {
		if op.Outcome == OK && op.Session == session && op.Refresh != "" && (!found || op.Complete > latest.Complete) {
			latest, found = op, true
		}
	}
	return latest, found
}

// appendSuccess adds a successful refresh of token (of session) after
// everything else.
func appendSuccess(h History, token, session string, after time.Duration) History {
	return append(h, Op{Process: 99, Kind: Refresh, Presented: token, Session: session,
		Refresh: "mutant-r", Access: "mutant-a", Invoke: after, Complete: after + time.Millisecond, Outcome: OK})
}

func mutations() []mutation {
	return []mutation{
		{"replay a rotated token later", Rotation, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			a, ok := choose(rng, h, func(op Op) bool { return op.Kind == Refresh && op.Outcome == OK })
			if !ok {
				return nil, false
			}
			return appendSuccess(h, a.Presented, a.Session, end(h)+cfg.ReuseInterval+2*time.Millisecond), true
		}},
		{"rotate a token again concurrently", Rotation, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			a, ok := choose(rng, h, func(op Op) bool { return op.Kind == Refresh && op.Outcome == OK })
			if !ok {
				return nil, false
			}
			for i := range 2 {
				b := a
				b.Process, b.Refresh, b.Access = 90+i, fmt.Sprintf("twin-r%d", i), fmt.Sprintf("twin-a%d", i)
				h = append(h, b)
			}
			return h, true
		}},
		{"refresh after a logout", Revocation, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			l, ok := choose(rng, h, func(op Op) bool { return op.Kind == Logout && op.Outcome == OK })
			if !ok {
				return nil, false
			}
			t, ok := latestToken(h, l.Session)
			if !ok {
				return nil, false
			}
			return appendSuccess(h, t.Refresh, l.Session, end(h)+time.Millisecond), true
		}},
		{"refresh after a password change", Revocation, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			c, ok := choose(rng, h, func(op Op) bool { return op.Kind == ChangePassword && op.Outcome == OK })
			if !ok {
				return nil, false
			}
			// A session of the user opened before the change, with an older
			// password.
			o, ok := choose(rng, h, func(op Op) bool {
				return op.Kind.opensSession() && op.Outcome == OK && op.User == c.User && op.Complete < c.Invoke
			})
			if !ok {
				return nil, false
			}
			t, ok := latestToken(h, o.Session)
			if !ok {
				return nil, false
			}
			return appendSuccess(h, t.Refresh, o.Session, end(h)+time.Millisecond), true
		}},
		{"log in with a replaced password", Revocation, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			c, ok := choose(rng, h, func(op Op) bool { return op.Kind == ChangePassword && op.Outcome == OK })
			if !ok {
				return nil, false
			}
			at := end(h) + time.Millisecond
			return append(h, Op{Process: 99, Kind: Login, User: c.User, PasswordGen: c.PasswordGen,
				Session: "mutant-s", Refresh: "mutant-r", Access: "mutant-a", Invoke: at, Complete: at + time.Millisecond, Outcome: OK}), true
		}},
		{"refresh after reuse was detected", Reuse, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			r, ok := choose(rng, h, func(r Op) bool {
				if !r.refused() || r.Kind != Refresh {
					return false
				}
				for _, a := range h {
					if a.Kind == Refresh && a.Outcome == OK && a.Presented == r.Presented &&
						r.Invoke-a.Complete > cfg.ReuseInterval+serverClockResolution {
						return true
					}
				}
				return false
			})
			if !ok {
				return nil, false
			}
			var session string
			for _, op := range h {
				if op.Outcome == OK && op.Refresh == r.Presented {
					session = op.Session
				}
			}
			t, ok := latestToken(h, session)
			if !ok {
				return nil, false
			}
			return appendSuccess(h, t.Refresh, session, end(h)+time.Millisecond), true
		}},
		{"refuse a live session's access token", Verification, func(h History, cfg Config, rng *rand.Rand) (History, bool) {
			v, ok := choose(rng, h, func(v Op) bool {
				if v.Kind != Verify || v.Outcome != OK {
					return false
				}
				for _, op := range h {
					if op.Invoke >= v.Complete || op.Outcome == OK && op.Kind == Refresh {
						continue
					}
					userWide := op.Kind == LogoutAll || op.Kind == ChangePassword
					if op.possiblyApplied() && (userWide && op.User == v.User || op.Kind == Logout && op.Session == v.Session) ||
						op.Kind == Refresh && op.Session == v.Session && (op.Outcome == Unknown || op.refused()) {
						return false
					}
				}
				return true
			})
			if !ok {
				return nil, false
			}
			h = slices.Clone(h)
			for i := range h {
				if h[i].Kind == Verify && h[i].Invoke == v.Invoke && h[i].Process == v.Process {
					h[i].Outcome, h[i].Code = Fail, CodeUnauthenticated
				}
			}
			return h, true
		}},
	}
}

func TestModelMutationsAreCaught(t *testing.T) {
	applied := make(map[string]int)
	seeds(t, 0, func(t *testing.T, h History, cfg Config) {
		for i, m := range mutations() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(len(h))))
			mutant, ok := m.mutate(slices.Clone(h), cfg, rng)
			if !ok {
				continue
			}
			applied[m.name]++
			report, err := Check(mutant, cfg)
			if err != nil {
				t.Fatalf("%s: Check: %v", m.name, err)
			}
			caught := slices.ContainsFunc(report.Violations, func(v Violation) bool { return v.Property == m.property })
			if !caught {
				t.Errorf("%s: not reported as a %s violation:\n%s", m.name, m.property, report)
			}
		}
	})
	for _, m := range mutations() {
		if applied[m.name] < 10 {
			t.Errorf("%s: applied to only %d histories", m.name, applied[m.name])
		}
	}
}

func TestBuggyServersAreCaught(t *testing.T) {
	tests := []struct {
		name string
		bug  bug
		// want are the properties the bug may show as; atLeast is how many
		// of every 100 histories must show it (the seeds are fixed, so
		// this is a floor well below what they give).
		want    []Property
		atLeast int
	}{
		{"reuse refused without revoking", reuseKeepsSession, []Property{Reuse}, 25},
		{"previous token accepted forever", graceForever, []Property{Rotation}, 30},
		{"logout keeps the refresh token", logoutKeepsRefresh, []Property{Revocation}, 25},
		{"password change keeps sessions", changeKeepsSessions, []Property{Revocation}, 25},
		// A login must be in flight across a change: rarer.
		{"login checks the password early", loginChecksEarly, []Property{Revocation}, 3},
		{"rotation answered, not committed", rotationNotCommitted, []Property{Rotation, Verification}, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caught, histories := 0, 0
			seeds(t, tt.bug, func(t *testing.T, h History, cfg Config) {
				histories++
				report, err := Check(h, cfg)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if slices.ContainsFunc(report.Violations, func(v Violation) bool { return slices.Contains(tt.want, v.Property) }) {
					caught++
				}
			})
			// Not every history happens to exercise the bug; enough must.
			if caught*100 < tt.atLeast*histories {
				t.Errorf("caught in %d of %d histories, want at least %d%%", caught, histories, tt.atLeast)
			}
		})
	}
}

// BenchmarkCheck measures the checker on a history the size of a long
// fault run.
func BenchmarkCheck(b *testing.B) {
	cfg := Config{ReuseInterval: 15 * time.Millisecond}
	h := simulate(1, 40000, cfg.ReuseInterval, 0)
	for b.Loop() {
		if _, err := Check(h, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(h)), "ops/history")
}

// BenchmarkCheckLongChain measures one session rotated many times, one
// refresh after the other, with a verify of each access token.
func BenchmarkCheckLongChain(b *testing.B) {
	h := History{register(1, "ann", "s1", "r0", 0, 1)}
	for i := 1; i <= 20000; i++ {
		h = append(h,
			refresh(1, fmt.Sprintf("r%d", i-1), fmt.Sprintf("r%d", i), 4*i, 4*i+1),
			verify(2, access(fmt.Sprintf("r%d", i)), 4*i+2, 4*i+3))
	}
	for b.Loop() {
		if _, err := Check(h, Config{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(h)), "ops/history")
}
