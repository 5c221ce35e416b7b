package verify

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// feedDelay is the contract: a revoked token is refused within 1 s of the
// revocation reaching the feed. WaitPoll fails the test past it.
const feedDelay = time.Second

func TestRevokedTokenIsRefusedWithinOneSecond(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(iss *TestIssuer, c jwt.MapClaims, exp time.Time) string
		want   error
	}{
		{"session", func(iss *TestIssuer, c jwt.MapClaims, exp time.Time) string {
			return iss.RevokeSession(c["sid"].(string), TestUser, exp)
		}, errSessionRevoked},
		{"token", func(iss *TestIssuer, c jwt.MapClaims, exp time.Time) string {
			return iss.RevokeToken(c["jti"].(string), TestUser, exp)
		}, errTokenRevoked},
		{"user", func(iss *TestIssuer, c jwt.MapClaims, exp time.Time) string {
			return iss.RevokeUser(TestUser, iss.Clock.Now().Add(time.Second), exp)
		}, errUserRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := NewTestIssuer(t)
			v := iss.Verifier(t, nil)
			claims := iss.Claims()
			raw := iss.Sign(t, claims)
			bystander := iss.Claims()
			bystander["sub"] = NewTestID()
			untouched := iss.Sign(t, bystander)
			mustVerify(t, v, raw)
			mustVerify(t, v, untouched)
			// Let the follower's long poll be held, as it is in steady
			// state, before revoking.
			iss.WaitPoll(t, v.FeedStatus().Cursor, feedDelay)

			cursor := tt.revoke(iss, claims, iss.Clock.Now().Add(15*time.Minute))
			iss.WaitPoll(t, cursor, feedDelay)
			_, err := v.Verify(testCtx, raw)
			if !errors.Is(err, ErrRevoked) || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			mustVerify(t, v, untouched)
		})
	}
}

func TestFeedSnapshotAtStartHoldsWhatIsInForce(t *testing.T) {
	iss := NewTestIssuer(t)
	now := iss.Clock.Now()
	revoked := iss.Claims()
	iss.RevokeSession(revoked["sid"].(string), TestUser, now.Add(10*time.Minute))
	iss.RevokeSession(NewTestID(), TestUser, now.Add(-time.Minute)) // over: not sent
	v := iss.Verifier(t, nil)

	mustRefuse(t, v, iss.Sign(t, revoked), ErrRevoked)
	status := v.FeedStatus()
	if status.Revocations != 1 || status.Cursor != "2" || !status.Following || status.Stale || status.Err != nil || !status.LastSuccess.Equal(now) {
		t.Errorf("FeedStatus = %+v", status)
	}
	if p := iss.Polls()[0]; p.After != "" || p.Wait != "0" || p.Authorization != "Bearer "+testCredential {
		t.Errorf("first poll %+v, want no cursor, wait 0 and the credential", p)
	}
}

func TestFeedLongPollWaitFitsMaxStaleness(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"default", nil, "5"},
		{"MaxStaleness 4s", func(o *Options) { o.MaxStaleness = 4 * time.Second }, "2"},
		{"MaxStaleness 2m", func(o *Options) { o.MaxStaleness = 2 * time.Minute }, "25"},
		{"client timeout 3s", func(o *Options) {
			o.HTTPClient = &http.Client{Transport: o.HTTPClient.Transport, Timeout: 3 * time.Second}
		}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := NewTestIssuer(t)
			v := iss.Verifier(t, tt.edit)
			iss.WaitPoll(t, v.FeedStatus().Cursor, feedDelay)
			polls := iss.Polls()
			if p := polls[len(polls)-1]; p.Wait != tt.want || p.Authorization != "Bearer "+testCredential {
				t.Errorf("poll %+v, want wait=%s and the credential", p, tt.want)
			}
		})
	}
}

func TestFeedEntriesAreIdempotent(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	claims := iss.Claims()
	raw := iss.Sign(t, claims)
	now := iss.Clock.Now()
	entry := map[string]any{"type": "session", "sid": claims["sid"], "sub": TestUser, "exp": now.Add(15 * time.Minute).Unix()}
	// Sent twice in one answer, then again late with an earlier exp (a
	// re-sent late commit): one entry, kept until the later exp.
	iss.WaitPoll(t, iss.Publish(entry, entry), feedDelay)
	iss.WaitPoll(t, iss.Publish(map[string]any{"type": "session", "sid": claims["sid"], "sub": TestUser, "exp": now.Add(time.Minute).Unix()}), feedDelay)
	if n := v.FeedStatus().Revocations; n != 1 {
		t.Fatalf("%d entries held, want 1", n)
	}
	iss.Clock.Advance(2 * time.Minute)
	// A poll after the move sweeps.
	iss.WaitPoll(t, iss.RevokeSession(NewTestID(), TestUser, now.Add(time.Hour)), feedDelay)
	mustRefuse(t, v, raw, ErrRevoked)
	if n := v.FeedStatus().Revocations; n != 2 {
		t.Fatalf("%d entries held, want 2", n)
	}
}

func TestFeedForgetsEntriesOnlyOnceTheirTokensExpired(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	claims := iss.Claims()
	raw := iss.Sign(t, claims)
	exp := iss.Clock.Now().Add(15 * time.Minute)
	iss.WaitPoll(t, iss.RevokeToken(claims["jti"].(string), TestUser, exp), feedDelay)
	keep := map[string]any{"type": "session", "sid": NewTestID(), "sub": TestUser, "exp": exp.Add(time.Hour).Unix()}

	// Past exp but within the leeway the token would still pass its own
	// check, so the entry must still be held.
	iss.Clock.Advance(15*time.Minute + 4*time.Second)
	iss.WaitPoll(t, iss.Publish(keep), feedDelay)
	mustRefuse(t, v, raw, ErrRevoked)
	if n := v.FeedStatus().Revocations; n != 2 {
		t.Fatalf("%d entries held within the leeway, want 2", n)
	}

	iss.Clock.Advance(sweepInterval)
	iss.WaitPoll(t, iss.Publish(keep), feedDelay)
	if n := v.FeedStatus().Revocations; n != 1 {
		t.Fatalf("%d entries held after exp + leeway, want 1", n)
	}
	if _, err := v.Verify(testCtx, raw); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("Verify = %v, want expired", err)
	}

	// An entry already over when it arrives is not kept at all.
	iss.WaitPoll(t, iss.RevokeSession(NewTestID(), TestUser, iss.Clock.Now().Add(-time.Minute)), feedDelay)
	if n := v.FeedStatus().Revocations; n != 1 {
		t.Fatalf("%d entries held, want 1", n)
	}
}

func TestUserCutoffIsStrict(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	cut := iss.Clock.Now()
	issuedAt := func(sub string, iat time.Time) string {
		c := iss.Claims()
		c["sub"], c["iat"] = sub, iat.Unix()
		return iss.Sign(t, c)
	}
	before := issuedAt(TestUser, cut.Add(-time.Second))
	same := issuedAt(TestUser, cut)
	after := issuedAt(TestUser, cut.Add(time.Second))
	otherUser := issuedAt(NewTestID(), cut.Add(-time.Second))
	exp := cut.Add(15 * time.Minute)

	iss.WaitPoll(t, iss.RevokeUser(TestUser, cut, exp), feedDelay)
	mustRefuse(t, v, before, ErrRevoked)
	// iat == iat_before: issued in the second of the cut-off (the
	// session that changed the password), not covered by it.
	mustVerify(t, v, same)
	mustVerify(t, v, after)
	mustVerify(t, v, otherUser)

	// A later cut-off widens it; the earlier one sent again does not
	// narrow it back.
	iss.WaitPoll(t, iss.RevokeUser(TestUser, cut.Add(time.Second), exp), feedDelay)
	iss.WaitPoll(t, iss.RevokeUser(TestUser, cut, exp), feedDelay)
	mustRefuse(t, v, same, ErrRevoked)
	mustVerify(t, v, after)
}

func TestFeedFailsClosedAfterMaxStalenessAndRecovers(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	raw := iss.Token(t)
	mustVerify(t, v, raw)

	iss.SetFeedStatus(http.StatusServiceUnavailable)
	// The second failed poll comes once the follower has taken in the
	// first failure, and everything before it.
	iss.WaitFailedPolls(t, 2, 5*time.Second)
	iss.Clock.Advance(defaultMaxStaleness)
	mustVerify(t, v, raw) // exactly MaxStaleness: still trusted
	iss.Clock.Advance(time.Second)
	_, err := v.Verify(testCtx, raw)
	if !errors.Is(err, ErrFeedStale) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify = %v, want ErrFeedStale only", err)
	}
	if s := v.FeedStatus(); !s.Stale || s.Err == nil || !strings.Contains(s.Err.Error(), "503") {
		t.Errorf("FeedStatus = %+v, want stale with the 503", s)
	}
	// Cached or not, every token is refused.
	mustRefuse(t, v, iss.Token(t), ErrFeedStale)

	iss.SetFeedStatus(0)
	iss.WaitPoll(t, iss.RevokeSession(NewTestID(), TestUser, iss.Clock.Now().Add(time.Hour)), 10*time.Second)
	mustVerify(t, v, raw)
	if s := v.FeedStatus(); s.Stale || s.Err != nil {
		t.Errorf("FeedStatus = %+v after recovery", s)
	}
}

func TestRefusedCursorRestartsFromSnapshot(t *testing.T) {
	iss := NewTestIssuer(t)
	exp := iss.Clock.Now().Add(15 * time.Minute)
	for range 3 {
		iss.RevokeSession(NewTestID(), TestUser, exp)
	}
	v := iss.Verifier(t, nil)
	iss.WaitPoll(t, "3", feedDelay)

	iss.ResetFeed()
	claims := iss.Claims()
	raw := iss.Sign(t, claims)
	// The log starts over at 1, below the follower's cursor 3.
	cursor := iss.RevokeSession(claims["sid"].(string), TestUser, exp)
	iss.WaitPoll(t, cursor, 5*time.Second)
	mustRefuse(t, v, raw, ErrRevoked)
	polls := iss.Polls()
	var refused, snapshot bool
	for _, p := range polls {
		refused = refused || p.Status == http.StatusBadRequest
		snapshot = snapshot || refused && p.After == ""
	}
	if !refused || !snapshot {
		t.Errorf("polls %+v, want a refused cursor, then a snapshot", polls)
	}
	if s := v.FeedStatus(); s.Stale || s.Revocations != 4 {
		t.Errorf("FeedStatus = %+v, want fresh with all 4 entries", s)
	}
}

func TestCloseStopsTheFollowerAndFailsClosed(t *testing.T) {
	iss := NewTestIssuer(t)
	v := iss.Verifier(t, nil)
	raw := iss.Token(t)
	mustVerify(t, v, raw)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	polls := len(iss.Polls())
	mustRefuse(t, v, raw, ErrFeedStale)
	if s := v.FeedStatus(); !s.LastSuccess.IsZero() || !s.Stale {
		t.Errorf("FeedStatus after Close = %+v", s)
	}
	iss.Publish(map[string]any{"type": "session", "sid": NewTestID(), "exp": iss.Clock.Now().Add(time.Hour).Unix()})
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(iss.Polls()); n != polls {
		t.Errorf("%d polls after Close, want %d", n, polls)
	}
}

func TestEndOfContextStopsTheFollower(t *testing.T) {
	iss := NewTestIssuer(t)
	ctx, cancel := context.WithCancel(testCtx)
	v, err := New(ctx, iss.Options())
	if err != nil {
		t.Fatal(err)
	}
	raw := iss.Token(t)
	mustVerify(t, v, raw)
	cancel()
	<-v.done
	mustRefuse(t, v, raw, ErrFeedStale)
	v.Close()
}

func TestFeedRead(t *testing.T) {
	const sid = "0e9bd3a2-3c59-4a41-8d1b-7c0b9f5d1e2a"
	tests := []struct {
		name    string
		body    string
		cursor  string
		held    int
		wantErr string
	}{
		{"empty", `{"cursor":"7","revocations":[]}`, "7", 0, ""},
		{"revocations first", `{"revocations":[{"type":"session","sid":"` + sid + `","exp":4102444800}],"cursor":"8"}`, "8", 1, ""},
		{"null revocations", `{"cursor":"1","revocations":null}`, "1", 0, ""},
		{"unknown members ignored", `{"cursor":"1","next":{"a":[1,{"b":2}]},"revocations":[{"type":"token","jti":"j","exp":4102444800,"reason":"logout"}]}`, "1", 1, ""},
		{"unknown type skipped", `{"cursor":"2","revocations":[{"type":"device","id":"d","exp":4102444800}]}`, "2", 0, ""},
		{"entry without its id skipped", `{"cursor":"2","revocations":[{"type":"session","exp":4102444800},{"type":"user","sub":"u","exp":4102444800}]}`, "2", 0, ""},
		{"fractional times", `{"cursor":"3","revocations":[{"type":"user","sub":"u","iat_before":1767224700.5,"exp":4102444800.25}]}`, "3", 1, ""},
		{"entry without exp kept", `{"cursor":"3","revocations":[{"type":"token","jti":"j"}]}`, "3", 1, ""},
		{"no cursor", `{"revocations":[]}`, "", 0, "no cursor"},
		{"not an object", `[{"cursor":"1"}]`, "", 0, "not the feed's JSON"},
		{"revocations not an array", `{"cursor":"1","revocations":{}}`, "", 0, "not an array"},
		{"bad entry", `{"cursor":"1","revocations":[{"type":"token","jti":7}]}`, "", 0, "revocation entry"},
		// A cut answer applies what came (it only refuses more) but
		// gives no cursor, so the rest is asked for again.
		{"cut short", `{"cursor":"9","revocations":[{"type":"token","jti":"j","exp":4102444800},{"type":"tok`, "", 1, "EOF"},
		{"not JSON", `<html>`, "", 0, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &follower{leeway: defaultLeeway, log: slog.New(slog.DiscardHandler), revocations: newRevocations()}
			cursor, _, err := f.read(strings.NewReader(tt.body), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("read: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("read error %v, want one saying %q", err, tt.wantErr)
			}
			if tt.wantErr == "" && cursor != tt.cursor {
				t.Errorf("cursor %q, want %q", cursor, tt.cursor)
			}
			if n := f.revocations.len(); n != tt.held {
				t.Errorf("%d entries held, want %d", n, tt.held)
			}
		})
	}
}

func TestFeedReadRoundsTowardsRefusing(t *testing.T) {
	f := &follower{leeway: defaultLeeway, log: slog.New(slog.DiscardHandler), revocations: newRevocations()}
	body := `{"cursor":"1","revocations":[{"type":"user","sub":"u","iat_before":100.5,"exp":4102444800}]}`
	if _, _, err := f.read(strings.NewReader(body), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	token := func(iat int64) *verifiedToken {
		return newVerifiedToken(&Claims{RegisteredClaims: jwt.RegisteredClaims{
			Subject: "u", ID: "j", ExpiresAt: jwt.NewNumericDate(time.Unix(4102444800, 0)), IssuedAt: jwt.NewNumericDate(time.Unix(iat, 0)),
		}, SessionID: "s"}, defaultLeeway)
	}
	if err := f.revocations.check(token(100)); !errors.Is(err, ErrRevoked) {
		t.Errorf("iat 100 under iat_before 100.5: %v", err)
	}
	if err := f.revocations.check(token(101)); err != nil {
		t.Errorf("iat 101: %v", err)
	}
}

func TestBackoffGrowsWithJitterUpToItsCap(t *testing.T) {
	f := &follower{backoffMax: 5 * time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 7: 5 * time.Second, 1000: 5 * time.Second} {
		for range 100 {
			if d := f.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want %v/2 … %v", n, d, want, want)
			}
		}
	}
}

// lockedBuffer is an io.Writer safe for the follower's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsHoldNeitherCredentialNorTokens(t *testing.T) {
	iss := NewTestIssuer(t)
	var logs lockedBuffer
	v := iss.Verifier(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	raw := iss.Token(t)
	mustVerify(t, v, raw)
	forged := raw[:len(raw)-8] + "AAAAAAAA"
	mustRefuse(t, v, forged, ErrInvalidToken)

	iss.WaitPoll(t, iss.Publish(map[string]any{"type": "device", "id": raw}), feedDelay)
	iss.SetFeedStatus(http.StatusUnauthorized)
	iss.WaitFailedPolls(t, 2, 5*time.Second)
	iss.SetJWKSStatus(http.StatusInternalServerError)
	iss.UseKey(iss.AddKey(t, EdDSA))
	iss.Clock.Advance(defaultMinRefetchInterval)
	mustRefuse(t, v, iss.Token(t), ErrUnavailable)
	v.Close()

	out := logs.String()
	for _, want := range []string{"revocation feed poll failed", "refused the credential", "JWKS fetch failed", "not understood were skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	for name, secret := range map[string]string{"credential": testCredential, "token": raw, "forged token": forged, "signature": raw[strings.LastIndexByte(raw, '.')+1:]} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s is in the logs:\n%s", name, out)
		}
	}
}
