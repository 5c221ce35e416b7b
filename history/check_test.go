package history

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Hand-made histories: times are milliseconds; the access token returned
// with refresh token "rN" is "a.rN".

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func access(refresh string) string { return "a." + refresh }

func register(p int, user, sid, refresh string, inv, comp int) Op {
	return Op{Process: p, Kind: Register, User: user, Session: sid, Refresh: refresh, Access: access(refresh),
		Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

func login(p int, user string, gen int, sid, refresh string, inv, comp int) Op {
	return Op{Process: p, Kind: Login, User: user, PasswordGen: gen, Session: sid, Refresh: refresh,
		Access: access(refresh), Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

func refresh(p int, presented, returned string, inv, comp int) Op {
	return Op{Process: p, Kind: Refresh, Presented: presented, Refresh: returned, Access: access(returned),
		Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

// refused is a refresh answered UNAUTHENTICATED.
func refused(p int, presented string, inv, comp int) Op {
	return fail(refresh(p, presented, "", inv, comp), CodeUnauthenticated)
}

func logout(p int, bearer string, inv, comp int) Op {
	return Op{Process: p, Kind: Logout, Bearer: bearer, Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

func logoutAll(p int, bearer string, inv, comp int) Op {
	return Op{Process: p, Kind: LogoutAll, Bearer: bearer, Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

func change(p int, bearer string, from, to int, sid, refresh string, inv, comp int) Op {
	return Op{Process: p, Kind: ChangePassword, Bearer: bearer, PasswordGen: from, NewPasswordGen: to,
		Session: sid, Refresh: refresh, Access: access(refresh), Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

func verify(p int, bearer string, inv, comp int) Op {
	return Op{Process: p, Kind: Verify, Bearer: bearer, Invoke: ms(inv), Complete: ms(comp), Outcome: OK}
}

// fail turns op into a definite refusal: no tokens came back.
func fail(op Op, code string) Op {
	op.Outcome, op.Code = Fail, code
	op.Refresh, op.Access = "", ""
	if op.Kind.opensSession() {
		op.Session = ""
	}
	return op
}

// lost turns op into one without an answer.
func lost(op Op) Op {
	op = fail(op, "")
	op.Outcome, op.Error = Unknown, "timeout"
	return op
}

func TestCheck(t *testing.T) {
	strict := Config{}
	interval := Config{ReuseInterval: ms(10)}
	tests := []struct {
		name string
		cfg  Config
		h    History
		want []Property
	}{
		// Rotation.
		{"token rotated twice, one after the other", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(2, "r0", "r2", 4, 5),
		}, []Property{Rotation}},
		{"token rotated twice by concurrent refreshes", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 5),
			refresh(2, "r0", "r2", 3, 6),
		}, []Property{Rotation}},
		{"token rotated three times within the reuse interval", interval, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 4),
			refresh(2, "r0", "r2", 2, 4),
			refresh(3, "r0", "r3", 3, 5),
		}, []Property{Rotation}},
		{"previous token accepted after the reuse interval", interval, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(2, "r0", "r2", 20, 21),
		}, []Property{Rotation}},
		{"token two rotations back accepted within the reuse interval", interval, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(1, "r1", "r2", 4, 5),
			refresh(2, "r0", "r3", 6, 7),
		}, []Property{Rotation}},
		{"token two rotations back accepted while another tab refreshes", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(1, "r1", "r2", 4, 5),
			refresh(1, "r2", "r3", 6, 12),
			refresh(2, "r0", "r4", 7, 11),
		}, []Property{Rotation}},
		{"token no operation returned accepted", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "forged", "r1", 2, 3),
		}, []Property{Rotation}},
		{"access token accepted as a refresh token", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "a.r0", "r1", 2, 3),
		}, []Property{Rotation}},
		{"one token returned by two rotations", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(1, "r1", "r1b", 4, 5),
			refresh(1, "r1b", "r1", 6, 7),
		}, []Property{Rotation}},
		{"rotation returned a token of another session", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			func() Op { op := refresh(1, "r0", "r1", 2, 3); op.Session = "s9"; return op }(),
		}, []Property{Rotation}},

		// Reuse.
		{"session refreshed after reuse was detected", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refused(2, "r0", 4, 5),
			refresh(1, "r1", "r2", 6, 7),
		}, []Property{Reuse}},
		{"session refreshed after reuse was detected during a slow refresh", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(1, "r1", "r2", 4, 20), // may have run before the reuse
			refused(2, "r0", 5, 6),
			refresh(1, "r2", "r3", 21, 22),
		}, []Property{Reuse}},
		{"session refreshed after reuse outside the reuse interval", interval, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refused(2, "r0", 20, 21),
			refresh(1, "r1", "r2", 22, 23),
		}, []Property{Reuse}},

		// Revocation.
		{"refresh after logout", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			logout(1, "a.r0", 2, 3),
			refresh(1, "r0", "r1", 4, 5),
		}, []Property{Revocation}},
		{"refresh after logout that raced a rotation", strict, History{
			login(1, "ann", 0, "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 8),
			logout(2, "a.r0", 3, 6),
			refresh(1, "r1", "r2", 9, 10),
		}, []Property{Revocation}},
		{"refresh after logout of all", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			login(2, "ann", 0, "s2", "q0", 2, 3),
			logoutAll(1, "a.r0", 5, 6),
			refresh(2, "q0", "q1", 7, 8),
		}, []Property{Revocation}},
		{"refresh after password change", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.r0", 0, 1, "s2", "p0", 5, 6),
			refresh(2, "r0", "r1", 7, 8),
		}, []Property{Revocation}},
		{"login racing a password change keeps its session", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			login(2, "ann", 0, "s3", "q0", 3, 7),
			change(1, "a.r0", 0, 1, "s2", "p0", 4, 6),
			refresh(2, "q0", "q1", 8, 9),
		}, []Property{Revocation}},
		{"login with a replaced password", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.r0", 0, 1, "s2", "p0", 5, 6),
			login(2, "ann", 0, "s3", "q0", 7, 8),
		}, []Property{Revocation}},
		{"two changes from the same password", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.r0", 0, 1, "s2", "p0", 5, 9),
			change(2, "a.r0", 0, 2, "s3", "q0", 6, 8),
		}, []Property{Revocation}},

		// Verification.
		{"access token refused while its session is live", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			fail(verify(1, "a.r0", 2, 3), CodeUnauthenticated),
		}, []Property{Verification}},
		{"access token refused during a rotation", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(1, "r1", "r2", 4, 8),
			fail(verify(2, "a.r1", 5, 6), CodeUnauthenticated),
		}, []Property{Verification}},
		{"acknowledged rotation lost", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refused(1, "r1", 4, 5),
		}, []Property{Verification}},
		{"access token refused with the session cap not reached", Config{MaxSessionsPerUser: 3}, History{
			register(1, "ann", "s1", "r0", 0, 1),
			login(1, "ann", 0, "s2", "q0", 2, 3),
			login(1, "ann", 0, "s3", "p0", 4, 5),
			fail(verify(1, "a.r0", 6, 7), CodeUnauthenticated),
		}, []Property{Verification}},
		{"accepted an access token no operation returned", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			logout(1, "forged", 2, 3),
		}, []Property{Verification}},

		{"refresh token accepted as an access token", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			verify(1, "r0", 2, 3),
		}, []Property{Verification}},

		{"password change authenticated by the token it returned", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.p0", 0, 1, "s2", "p0", 2, 3),
		}, []Property{Verification}},

		// Legal histories.
		{"concurrent refreshes, one winner", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 6),
			refused(2, "r0", 3, 7), // after the winner: reuse, session revoked
			refused(1, "r1", 8, 9),
			fail(verify(1, "a.r1", 8, 9), CodeUnauthenticated),
		}, nil},
		{"concurrent refreshes, the loser first", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refused(2, "r0", 2, 7), // invoked first, ran after the winner
			refresh(1, "r0", "r1", 3, 6),
		}, nil},
		{"previous token within the reuse interval", interval, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			refresh(2, "r0", "r2", 5, 6),
			refresh(1, "r1", "r3", 7, 8),
			refresh(2, "r2", "r4", 9, 10),
		}, nil},
		{"two tabs refresh at once within the reuse interval", interval, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 4),
			refresh(2, "r0", "r2", 2, 4),
			refresh(1, "r1", "r3", 5, 6),
			refresh(2, "r2", "r4", 7, 8),
		}, nil},
		{"rate-limited refresh is no reuse", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			refresh(1, "r0", "r1", 2, 3),
			fail(refresh(2, "r0", "", 4, 5), "RATE_LIMITED"),
			refresh(1, "r1", "r2", 6, 7),
		}, nil},
		{"unknown refresh, then the retry succeeds", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			lost(refresh(1, "r0", "", 2, 50)),
			refresh(2, "r0", "r1", 60, 61),
			refresh(2, "r1", "r2", 62, 63),
		}, nil},
		{"unknown refresh, then the retry is refused", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			lost(refresh(1, "r0", "", 2, 50)),
			refused(2, "r0", 60, 61),
			fail(verify(2, "a.r0", 62, 63), CodeUnauthenticated),
		}, nil},
		{"unknown refresh applied after the client gave up", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			lost(refresh(1, "r0", "", 2, 3)),
			refresh(2, "r0", "r1", 4, 5),
			refused(2, "r1", 6, 7), // the lost one ran late: reuse of r0
		}, nil},
		{"unknown logout during a cut", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			login(2, "ann", 0, "s2", "q0", 2, 3),
			lost(logout(1, "a.r0", 4, 40)),
			lost(logoutAll(2, "a.q0", 41, 80)),
			refused(1, "r0", 90, 91),
			fail(verify(2, "a.q0", 92, 93), CodeUnauthenticated),
		}, nil},
		{"unknown logout that did not apply", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			lost(logout(1, "a.r0", 4, 40)),
			refresh(1, "r0", "r1", 90, 91),
		}, nil},
		{"login racing a password change is refused", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.r0", 0, 1, "s2", "p0", 10, 20),
			fail(login(2, "ann", 0, "", "", 12, 18), CodeUnauthenticated),
			refused(1, "r0", 21, 22),
			refresh(1, "p0", "p1", 23, 24),
			login(2, "ann", 1, "s3", "q0", 25, 26),
		}, nil},
		{"login racing a password change ends with it", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.r0", 0, 1, "s2", "p0", 10, 20),
			login(2, "ann", 0, "s3", "q0", 12, 17),
			refresh(2, "q0", "q1", 18, 19), // before the change took effect
			refused(2, "q1", 21, 22),
			fail(verify(2, "a.q1", 21, 22), CodeUnauthenticated),
		}, nil},
		{"logout concurrent with refresh", strict, History{
			login(1, "ann", 0, "s1", "r0", 0, 1),
			logout(2, "a.r0", 5, 10),
			refresh(1, "r0", "r1", 6, 9),
			refused(1, "r1", 11, 12),
			fail(verify(1, "a.r1", 11, 12), CodeUnauthenticated),
		}, nil},
		{"logout of all spares sessions opened after it", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			logoutAll(1, "a.r0", 5, 6),
			login(2, "ann", 0, "s2", "q0", 4, 7), // concurrent: may follow it
			login(3, "ann", 0, "s3", "p0", 8, 9),
			refresh(2, "q0", "q1", 10, 11),
			refresh(3, "p0", "p1", 10, 11),
			refused(1, "r0", 10, 11),
		}, nil},
		{"password change keeps the session it opened", strict, History{
			register(1, "ann", "s1", "r0", 0, 1),
			change(1, "a.r0", 0, 1, "s2", "p0", 2, 3),
			change(1, "a.p0", 1, 2, "s3", "q0", 4, 5),
			refused(1, "p0", 6, 7),
			refresh(1, "q0", "q1", 6, 7),
			fail(login(2, "ann", 1, "", "", 8, 9), CodeUnauthenticated),
			fail(change(2, "a.q1", 1, 3, "", "", 8, 9), "BAD_USER_INPUT"),
		}, nil},
		{"access token expired", Config{AccessTTL: ms(100)}, History{
			register(1, "ann", "s1", "r0", 0, 1),
			verify(1, "a.r0", 2, 3),
			fail(verify(1, "a.r0", 100, 101), CodeUnauthenticated),
		}, nil},
		{"oldest session ended by the session cap", Config{MaxSessionsPerUser: 2}, History{
			register(1, "ann", "s1", "r0", 0, 1),
			login(1, "ann", 0, "s2", "q0", 2, 3),
			lost(login(1, "ann", 0, "", "", 4, 5)),
			fail(verify(1, "a.r0", 6, 7), CodeUnauthenticated),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report, err := Check(tt.h, tt.cfg)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			var got []Property
			for _, v := range report.Violations {
				if !slices.Contains(got, v.Property) {
					got = append(got, v.Property)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violated %v, want %v\n%s", got, want, report)
			}
		})
	}
}

func TestCheckNamesTheOpsOfAViolation(t *testing.T) {
	h := History{
		register(1, "ann", "s1", "r0", 0, 1),
		logout(1, "a.r0", 2, 3),
		refresh(2, "r0", "r1", 4, 5),
	}
	report, err := Check(h, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Violations) != 1 {
		t.Fatalf("got %d violations, want 1:\n%s", len(report.Violations), report)
	}
	v := report.Violations[0]
	if len(v.Ops) != 2 || v.Ops[0].Index != 2 || v.Ops[1].Index != 1 {
		t.Errorf("violation names ops %v, want the refresh (#2) then the logout (#1)", v.Ops)
	}
	if !strings.Contains(v.Message, "logout") {
		t.Errorf("message %q does not say what ended the session", v.Message)
	}
}

func TestReportCountsAndSummary(t *testing.T) {
	h := History{
		register(1, "ann", "s1", "r0", 0, 1),
		refresh(1, "r0", "r1", 2, 3),
		lost(refresh(1, "r1", "", 4, 5)),
		fail(refresh(1, "r1", "", 6, 7), "RATE_LIMITED"),
		verify(1, "a.r1", 8, 9),
	}
	report, err := Check(h, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{Attempts: 3, Successes: 1, Failures: 1, Unknown: 1}); report.Refresh != want {
		t.Errorf("refresh counts %+v, want %+v", report.Refresh, want)
	}
	if got := report.Kinds[Verify]; got != (Counts{Attempts: 1, Successes: 1}) {
		t.Errorf("verify counts %+v", got)
	}
	const want = "attempts=3 successes=1 failures=1 unknown=1 violations=0"
	if got := report.String(); !strings.HasPrefix(got, want) || strings.Contains(got, "\n") {
		t.Errorf("String() = %q, want one line starting %q", got, want)
	}
	if !report.Passed() {
		t.Errorf("legal history failed:\n%s", report)
	}
}

func TestReportListsTheFirstViolations(t *testing.T) {
	var h History
	for i := range 25 {
		user := fmt.Sprintf("u%d", i)
		h = append(h,
			register(i, user, "s-"+user, "r-"+user, 0, 1),
			refresh(i, "r-"+user, "x-"+user, 2, 3),
			refresh(i, "r-"+user, "y-"+user, 2, 3))
	}
	report, err := Check(h, Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := report.String()
	lines := strings.Split(got, "\n")
	if !strings.Contains(lines[0], "violations=25") {
		t.Errorf("summary %q does not count 25 violations", lines[0])
	}
	if listed := strings.Count(got, "rotation: one refresh token yielded 2 rotations"); listed != 20 {
		t.Errorf("String() spells out %d violations, want 20", listed)
	}
	if !strings.HasSuffix(got, "… and 5 more violations") {
		t.Errorf("String() does not say how many it left out:\n%s", got)
	}
}

func TestCheckRefusesMalformedHistories(t *testing.T) {
	tests := []struct {
		name string
		op   Op
	}{
		{"unknown kind", Op{Kind: "teleport", Outcome: OK}},
		{"unknown outcome", Op{Kind: Verify, Bearer: "a", Outcome: "maybe"}},
		{"completes before invoked", Op{Kind: Verify, Bearer: "a", Outcome: OK, Invoke: ms(5), Complete: ms(4)}},
		{"refresh without token", Op{Kind: Refresh, Outcome: Fail}},
		{"login without user", Op{Kind: Login, Outcome: Fail}},
		{"logout without bearer", Op{Kind: Logout, Outcome: OK}},
		{"change to an older password", Op{Kind: ChangePassword, Bearer: "a", PasswordGen: 2, NewPasswordGen: 1, Outcome: Fail}},
		{"success without tokens", Op{Kind: Login, User: "ann", Outcome: OK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Check(History{tt.op}, Config{}); err == nil {
				t.Errorf("Check accepted %+v", tt.op)
			}
		})
	}
}
