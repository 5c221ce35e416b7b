package history

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// jwt is an unsigned token with the given claims: enough for SessionOf,
// which never verifies.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"at+jwt"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

func TestSessionOf(t *testing.T) {
	tests := []struct {
		token, want string
	}{
		{jwt(`{"sub":"u1","sid":"0190a1b2-0000-7000-8000-000000000001"}`), "0190a1b2-0000-7000-8000-000000000001"},
		{jwt(`{"sub":"u1"}`), ""},
		{jwt(`{"sid":42}`), ""},
		{"kcr_notajwt", ""},
		{"a.!!!.c", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := SessionOf(tt.token); got != tt.want {
			t.Errorf("SessionOf(%q) = %q, want %q", tt.token, got, tt.want)
		}
	}
}

func TestRecorderLabelsOperationsWithTheirTokensOwner(t *testing.T) {
	rec := NewRecorder()
	access1 := jwt(`{"sid":"s1"}`)
	rec.Register(1, "ann").OK("kcr_one", access1, "")
	rec.Refresh(2, "kcr_one").OK("kcr_two", jwt(`{"sid":"s1"}`)+"x", "")
	p := rec.Refresh(3, "kcr_forged")
	p.Fail(CodeUnauthenticated)
	rec.ChangePassword(1, access1, 0, 1).OK("kcr_three", jwt(`{"sid":"s2"}`), "")
	rec.Verify(2, access1).Fail(CodeUnauthenticated)
	h := rec.History()

	want := []struct {
		kind          Kind
		user, session string
		outcome       Outcome
	}{
		{Register, "ann", "s1", OK},
		{Refresh, "ann", "s1", OK},
		{Refresh, "", "", Fail},
		{ChangePassword, "ann", "s2", OK},
		{Verify, "ann", "s1", Fail},
	}
	if len(h) != len(want) {
		t.Fatalf("recorded %d ops, want %d", len(h), len(want))
	}
	for i, w := range want {
		op := h[i]
		if op.Index != i || op.Kind != w.kind || op.User != w.user || op.Session != w.session || op.Outcome != w.outcome {
			t.Errorf("op %d = %s, want %s user=%q session=%q %s", i, describe(op), w.kind, w.user, w.session, w.outcome)
		}
		if op.Complete < op.Invoke {
			t.Errorf("op %d completes before it is invoked", i)
		}
	}
	if h[1].Presented != Fingerprint("kcr_one") || h[1].Refresh != Fingerprint("kcr_two") {
		t.Errorf("refresh op keeps %q → %q, want the fingerprints of its tokens", h[1].Presented, h[1].Refresh)
	}
	if h[3].PasswordGen != 0 || h[3].NewPasswordGen != 1 || h[3].Bearer != Fingerprint(access1) {
		t.Errorf("change op = %s", describe(h[3]))
	}
	report, err := Check(h, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !report.Passed() {
		t.Errorf("legal recorded history failed:\n%s", report)
	}
}

func TestRecorderKeepsNoToken(t *testing.T) {
	rec := NewRecorder()
	access := jwt(`{"sid":"s1"}`)
	rec.Login(1, "ann", 0).OK("kcr_secret-refresh", access, "s1")
	rec.Refresh(1, "kcr_secret-refresh").Unknown(errors.New("context deadline exceeded"))
	rec.Logout(1, access).Done()
	var buf bytes.Buffer
	if err := Encode(&buf, rec.History()); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"kcr_secret-refresh", access, strings.Split(access, ".")[1]} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("encoded history contains a token:\n%s", buf.String())
		}
	}
}

func TestRecorderTreatsOnlyDefiniteCodesAsFailures(t *testing.T) {
	rec := NewRecorder()
	for _, code := range []string{"UNAUTHENTICATED", "RATE_LIMITED", "BAD_USER_INPUT", "UNAVAILABLE", "INTERNAL_SERVER_ERROR", "SOMETHING_NEW"} {
		rec.Refresh(1, "kcr_x").Fail(code)
	}
	want := []Outcome{Fail, Fail, Fail, Unknown, Unknown, Unknown}
	for i, op := range rec.History() {
		if op.Outcome != want[i] {
			t.Errorf("Fail(%q) recorded %s, want %s", op.Code, op.Outcome, want[i])
		}
	}
}

func TestRecorderHistoryShowsPendingOpsAsUnknown(t *testing.T) {
	rec := NewRecorder()
	p := rec.Refresh(1, "kcr_x")
	h := rec.History()
	if h[0].Outcome != Unknown || h[0].Complete < h[0].Invoke {
		t.Errorf("pending op = %s, want unknown", describe(h[0]))
	}
	p.Fail(CodeUnauthenticated) // completing after the snapshot is fine
	if got := rec.History()[0].Outcome; got != Fail {
		t.Errorf("completed op = %s, want fail", got)
	}
}

func TestRecorderRefusesASecondOutcome(t *testing.T) {
	rec := NewRecorder()
	p := rec.Verify(1, "a")
	p.Done()
	defer func() {
		if recover() == nil {
			t.Error("second outcome did not panic")
		}
	}()
	p.Unknown(nil)
}

// TestRecorderUnderConcurrentClients drives the recorder from many
// goroutines, each a client refreshing its own session as a correct
// server would answer, some answers lost.
func TestRecorderUnderConcurrentClients(t *testing.T) {
	rec := NewRecorder()
	const clients, rotations = 16, 50
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			user := fmt.Sprintf("user%d", c)
			token := fmt.Sprintf("kcr_%d_0", c)
			access := jwt(fmt.Sprintf(`{"sid":"s%d"}`, c))
			rec.Register(c, user).OK(token, access, "")
			for i := 1; i <= rotations; i++ {
				next := fmt.Sprintf("kcr_%d_%d", c, i)
				p := rec.Refresh(c, token)
				if i%10 == 0 {
					// Lost on the way back: the rotation happened, the
					// client never learns the new token, the session is
					// over for it.
					p.Unknown(errors.New("timeout"))
					rec.Refresh(c, token).Fail(CodeUnauthenticated)
					return
				}
				access = jwt(fmt.Sprintf(`{"sid":"s%d","jti":"%d"}`, c, i))
				p.OK(next, access, "")
				rec.Verify(c, access).Done()
				token = next
			}
		})
	}
	wg.Wait()
	h := rec.History()
	if want := clients * (1 + 9*2 + 2); len(h) != want {
		t.Fatalf("recorded %d ops, want %d", len(h), want)
	}
	for i, op := range h {
		if op.Index != i {
			t.Fatalf("op %d has index %d", i, op.Index)
		}
		if op.Kind == Refresh && op.Outcome == OK && op.User == "" {
			t.Errorf("refresh not labelled with its user: %s", describe(op))
		}
	}
	report, err := Check(h, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Attempts: clients * 11, Successes: clients * 9, Failures: clients, Unknown: clients}
	if report.Refresh != want || !report.Passed() {
		t.Errorf("report %s, want refresh counts %+v and no violation", report, want)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	h := History{
		register(1, "ann", "s1", "r0", 0, 1),
		refresh(1, "r0", "r1", 2, 3),
		lost(logout(2, "a.r1", 4, 9)),
		fail(change(1, "a.r1", 0, 1, "", "", 5, 6), "BAD_USER_INPUT"),
	}
	for i := range h {
		h[i].Index = i
	}
	var buf bytes.Buffer
	if err := Encode(&buf, h); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(h) {
		t.Errorf("encoded %d lines, want one per op (%d)", lines, len(h))
	}
	got, err := Decode(strings.NewReader("\n" + buf.String() + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(h) {
		t.Errorf("round trip changed the history:\n got %v\nwant %v", got, h)
	}
}

func TestDecodeRefusesWhatIsNotAHistory(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"unknown field", `{"kind":"refresh","presnted":"x"}`, "line 1"},
		{"not json", "{\"kind\":\"verify\"}\nkind=verify", "line 2"},
		{"two ops on a line", `{"kind":"verify"} {"kind":"verify"}`, "more than one"},
		{"line too long", `{"error":"` + strings.Repeat("x", maxLineBytes) + `"}`, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// testdata/two-tabs.jsonl is a history as a CI run keeps it: two tabs
// racing one refresh token with a reuse interval, one answer lost during a
// database cut, and a logout.
func TestCheckOfAKeptHistory(t *testing.T) {
	f, err := os.Open("testdata/two-tabs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	report, err := Check(h, Config{ReuseInterval: ms(10), ClockSlack: ms(1)})
	if err != nil {
		t.Fatal(err)
	}
	const want = "attempts=5 successes=3 failures=1 unknown=1 violations=0"
	if got := report.String(); !strings.HasPrefix(got, want) {
		t.Errorf("report = %s, want %s", got, want)
	}
	report, err = Check(h, Config{}) // the same run judged as strict
	if err != nil {
		t.Fatal(err)
	}
	if report.Passed() {
		t.Error("two successes of one token passed strict rotation")
	}
}
