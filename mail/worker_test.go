package mail_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	keycardmail "github.com/keycard/keycard/mail"
	"github.com/keycard/keycard/mail/mailtest"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// results counts Observer.Delivery calls.
type results struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *results) Delivery(result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[result]++
}

func (r *results) get() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// smtpConfig sends through server as Acme ID.
func smtpConfig(server *mailtest.SMTPServer) keycardmail.Config {
	return keycardmail.Config{SMTPURL: "smtp://" + server.Addr, From: "Acme ID <no-reply@acme.example>", Product: "Acme ID", RootCAs: server.RootCAs}
}

func newWorker(t *testing.T, cfg keycardmail.Config, outbox keycardmail.Outbox, deps keycardmail.Deps) *keycardmail.Worker {
	t.Helper()
	if deps.Rand == nil {
		deps.Rand = func() float64 { return 0.5 }
	}
	w, err := keycardmail.New(cfg, outbox, deps)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func enqueueReset(t *testing.T, outbox *mailtest.Outbox, to string, at time.Time) int64 {
	t.Helper()
	id, err := outbox.Enqueue(t.Context(), keycardmail.Message{
		To: to, Template: keycardmail.TemplatePasswordReset, CreatedAt: at,
		Data: map[string]string{keycardmail.DataLink: "https://app.acme.example/reset-password?token=" + to, keycardmail.DataUsername: "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func row(t *testing.T, outbox *mailtest.Outbox, id int64) mailtest.Row {
	t.Helper()
	r, ok := outbox.Row(id)
	if !ok {
		t.Fatalf("no outbox row %d", id)
	}
	return r
}

func sendDue(t *testing.T, w *keycardmail.Worker, want int) {
	t.Helper()
	n, err := w.SendDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("SendDue handled %d messages, want %d", n, want)
	}
}

func TestWorkerSendsAndMarksSentClearingTheData(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{StartTLS: true})
	outbox, clk, observed := mailtest.NewOutbox(), newClock(), &results{}
	w := newWorker(t, smtpConfig(server), outbox, keycardmail.Deps{Now: clk.Now, Observer: observed})
	id := enqueueReset(t, outbox, "alice@example.com", clk.Now())

	sendDue(t, w, 1)
	got := mailtest.Parse(t, server.Next(t).Data)
	if got.Link("https://app.acme.example/reset-password?token=") != "https://app.acme.example/reset-password?token=alice@example.com" {
		t.Errorf("link missing from:\n%s", got.Text)
	}
	r := row(t, outbox, id)
	if !r.SentAt.Equal(clk.Now()) || r.Data != nil || r.Attempts != 1 {
		t.Errorf("row after sending: %+v, want sent now, data cleared, 1 attempt", r)
	}
	if c := observed.get(); c[keycardmail.ResultSuccess] != 1 || len(c) != 1 {
		t.Errorf("observed %v, want one success", c)
	}
	h, err := w.Health(t.Context())
	if err != nil || h.Pending != 0 || h.LastError != "" || !h.LastSentAt.Equal(clk.Now()) {
		t.Errorf("health %+v, %v", h, err)
	}
	sendDue(t, w, 0)
}

func TestSMTPDownThenUpDelivers(t *testing.T) {
	addr := freeAddr(t) // nobody listens there yet
	outbox, clk, observed := mailtest.NewOutbox(), newClock(), &results{}
	w := newWorker(t, keycardmail.Config{SMTPURL: "smtp://" + addr, From: "no-reply@acme.example"}, outbox, keycardmail.Deps{Now: clk.Now, Observer: observed})
	id := enqueueReset(t, outbox, "alice@example.com", clk.Now())

	sendDue(t, w, 1)
	r := row(t, outbox, id)
	// 30 s base, rand 0.5 → 15 s + 7.5 s.
	if want := clk.Now().Add(22500 * time.Millisecond); !r.NextAttemptAt.Equal(want) || r.LastError != keycardmail.ClassConnect || !r.SentAt.IsZero() {
		t.Fatalf("row after a refused connection: %+v, want a retry at %s for %q", r, want, keycardmail.ClassConnect)
	}
	if r.Data[keycardmail.DataLink] == "" {
		t.Fatal("a retried message lost its link")
	}
	h, err := w.Health(t.Context())
	if err != nil || h.Pending != 1 || h.LastError != keycardmail.ClassConnect || !h.LastErrorAt.Equal(clk.Now()) {
		t.Errorf("health while SMTP is down: %+v, %v", h, err)
	}

	clk.Advance(20 * time.Second)
	sendDue(t, w, 0) // not due yet
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{Addr: addr})
	clk.Advance(2500 * time.Millisecond)
	sendDue(t, w, 1)
	if got := server.Next(t); got.To[0] != "alice@example.com" {
		t.Errorf("delivered to %v", got.To)
	}
	if r := row(t, outbox, id); r.SentAt.IsZero() || r.Attempts != 2 {
		t.Errorf("row after SMTP came back: %+v, want sent at the second attempt", r)
	}
	if c := observed.get(); c[keycardmail.ResultRetry] != 1 || c[keycardmail.ResultSuccess] != 1 {
		t.Errorf("observed %v, want one retry and one success", c)
	}
}

// failing fails every send with class.
type failing struct {
	class     string
	permanent bool
}

func (f failing) Send(context.Context, keycardmail.Rendered) error {
	return &keycardmail.DeliveryError{Class: f.class, Permanent: f.permanent, Err: errors.New("injected")}
}

func TestRetriesBackOffExponentiallyWithJitterUpToTheCap(t *testing.T) {
	for _, jitter := range []float64{0, 0.5, 0.999} {
		t.Run(fmt.Sprint(jitter), func(t *testing.T) {
			outbox, clk := mailtest.NewOutbox(), newClock()
			w := newWorker(t, keycardmail.Config{Development: true, Dir: t.TempDir(), MaxAge: 1000 * time.Hour}, outbox, keycardmail.Deps{
				Now: clk.Now, Rand: func() float64 { return jitter }, Sender: failing{class: keycardmail.ClassConnect},
			})
			id := enqueueReset(t, outbox, "alice@example.com", clk.Now())
			full := 30 * time.Second
			for attempt := 1; attempt <= 10; attempt++ {
				sendDue(t, w, 1)
				delay := row(t, outbox, id).NextAttemptAt.Sub(clk.Now())
				if want := full/2 + time.Duration(jitter*float64(full/2)); delay != want {
					t.Fatalf("after attempt %d the delay is %s, want %s", attempt, delay, want)
				}
				clk.Advance(delay)
				full = min(2*full, time.Hour)
			}
		})
	}
}

func TestAPermanentRejectionIsGivenUpAfterThreeAttempts(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{Reject: func(string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}})
	outbox, clk, observed := mailtest.NewOutbox(), newClock(), &results{}
	w := newWorker(t, smtpConfig(server), outbox, keycardmail.Deps{Now: clk.Now, Observer: observed})
	id := enqueueReset(t, outbox, "nobody@example.com", clk.Now())
	for range 3 {
		sendDue(t, w, 1)
		clk.Advance(time.Hour)
	}
	r := row(t, outbox, id)
	if r.DeadAt.IsZero() || r.LastError != keycardmail.ClassRejectedPermanent || r.Data != nil || r.Attempts != 3 {
		t.Errorf("row: %+v, want dead after 3 attempts for %s, data cleared", r, keycardmail.ClassRejectedPermanent)
	}
	sendDue(t, w, 0)
	if c := observed.get(); c[keycardmail.ResultRetry] != 2 || c[keycardmail.ResultDead] != 1 {
		t.Errorf("observed %v, want 2 retries and one dead", c)
	}
	h, _ := w.Health(t.Context())
	if h.Dead != 1 || h.Pending != 0 {
		t.Errorf("health %+v, want the dead letter counted", h)
	}
}

func TestGivingUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      keycardmail.Config
		sender   keycardmail.Sender
		to       string
		age      time.Duration
		attempts int
		reason   string
	}{
		{"an invalid address at once", keycardmail.Config{}, nil, "alice at example.com", 0, 1, keycardmail.ClassAddress},
		{"after MaxAttempts", keycardmail.Config{MaxAttempts: 4}, failing{class: keycardmail.ClassConnect}, "alice@example.com", 0, 4, keycardmail.ClassConnect},
		// Attempts at 0 and 5m; the third would come at 5m45s.
		{"when the next attempt would be past MaxAge", keycardmail.Config{MaxAge: 5*time.Minute + 30*time.Second}, failing{class: keycardmail.ClassTimeout}, "alice@example.com", 0, 2, keycardmail.ClassTimeout},
		{"unsent once older than MaxAge", keycardmail.Config{}, nil, "alice@example.com", 25 * time.Hour, 1, keycardmail.ClassExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outbox, clk := mailtest.NewOutbox(), newClock()
			tc.cfg.Development, tc.cfg.Dir = true, t.TempDir()
			w := newWorker(t, tc.cfg, outbox, keycardmail.Deps{Now: clk.Now, Sender: tc.sender})
			id := enqueueReset(t, outbox, tc.to, clk.Now().Add(-tc.age))
			for attempt := 1; attempt <= tc.attempts; attempt++ {
				if r := row(t, outbox, id); !r.DeadAt.IsZero() {
					t.Fatalf("dead after %d attempts, want %d", attempt-1, tc.attempts)
				}
				sendDue(t, w, 1)
				clk.Advance(5 * time.Minute)
			}
			r := row(t, outbox, id)
			if r.DeadAt.IsZero() || r.LastError != tc.reason || r.Attempts != tc.attempts {
				t.Errorf("row %+v, want dead after %d attempts for %q", r, tc.attempts, tc.reason)
			}
			if tc.reason == keycardmail.ClassExpired {
				if files, _ := filepathGlob(tc.cfg.Dir); len(files) != 0 {
					t.Errorf("an expired mail was written: %v", files)
				}
			}
		})
	}
}

func TestAMailThisVersionCannotRenderIsRetried(t *testing.T) {
	// A newer instance may enqueue a template this one does not know; an
	// instance that knows it will send it.
	outbox, clk := mailtest.NewOutbox(), newClock()
	w := newWorker(t, keycardmail.Config{Development: true, Dir: t.TempDir()}, outbox, keycardmail.Deps{Now: clk.Now})
	id, _ := outbox.Enqueue(t.Context(), keycardmail.Message{To: "a@example.com", Template: "account_locked", CreatedAt: clk.Now()})
	sendDue(t, w, 1)
	if r := row(t, outbox, id); r.LastError != keycardmail.ClassTemplate || !r.DeadAt.IsZero() || !r.NextAttemptAt.After(clk.Now()) {
		t.Errorf("row %+v, want a retry for %q", r, keycardmail.ClassTemplate)
	}
}

// killedAfterSend is an outbox whose MarkSent never happens: the process
// died after the SMTP server took the mail.
type killedAfterSend struct {
	*mailtest.Outbox
	killed chan struct{}
}

func (k killedAfterSend) MarkSent(context.Context, int64, string, time.Time) error {
	close(k.killed)
	return errors.New("process killed")
}

func TestAWorkerKilledBetweenSendAndMarkLosesNothing(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{})
	outbox, clk := mailtest.NewOutbox(), newClock()
	killed := killedAfterSend{Outbox: outbox, killed: make(chan struct{})}
	first := newWorker(t, smtpConfig(server), killed, keycardmail.Deps{Now: clk.Now, Owner: "first"})
	id := enqueueReset(t, outbox, "alice@example.com", clk.Now())

	sendDue(t, first, 1)
	<-killed.killed
	firstCopy := mailtest.Parse(t, server.Next(t).Data)

	second := newWorker(t, smtpConfig(server), outbox, keycardmail.Deps{Now: clk.Now, Owner: "second"})
	clk.Advance(keycardmail.DefaultLease - time.Second)
	sendDue(t, second, 0) // the first one's lease still runs
	clk.Advance(time.Second)
	sendDue(t, second, 1)
	secondCopy := mailtest.Parse(t, server.Next(t).Data)

	if r := row(t, outbox, id); r.SentAt.IsZero() || r.Attempts != 2 {
		t.Errorf("row %+v, want sent by the second worker at attempt 2", r)
	}
	if a, b := firstCopy.Header.Get("Message-Id"), secondCopy.Header.Get("Message-Id"); a == "" || a != b {
		t.Errorf("Message-IDs %q and %q: a mail sent twice should keep its id", a, b)
	}
	if secondCopy.Link("https://app.acme.example/reset-password?token=") == "" {
		t.Error("the second copy lost the link")
	}
	if err := outbox.MarkSent(t.Context(), id, "first", clk.Now()); !errors.Is(err, keycardmail.ErrLeaseLost) {
		t.Errorf("the first worker's late MarkSent: %v, want ErrLeaseLost", err)
	}
}

// gate is a Sender that waits for release before sending through next.
type gate struct {
	next    keycardmail.Sender
	entered chan struct{}
	release chan struct{}
}

func (g *gate) Send(ctx context.Context, r keycardmail.Rendered) error {
	g.entered <- struct{}{}
	<-g.release
	return g.next.Send(ctx, r)
}

func TestStoppingFinishesTheSendInFlightAndMarksIt(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{})
	outbox, clk := mailtest.NewOutbox(), newClock()
	srv, _ := keycardmail.ParseSMTPURL("smtp://" + server.Addr)
	g := &gate{next: keycardmail.NewSMTPSender(srv, sender, 5*time.Second, nil), entered: make(chan struct{}, 1), release: make(chan struct{})}
	w := newWorker(t, smtpConfig(server), outbox, keycardmail.Deps{Now: clk.Now, Sender: g})
	id := enqueueReset(t, outbox, "alice@example.com", clk.Now())
	other := enqueueReset(t, outbox, "bob@example.com", clk.Now().Add(time.Hour))

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-g.entered
	stop()
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	server.Next(t)
	if r := row(t, outbox, id); r.SentAt.IsZero() {
		t.Errorf("the send in flight when Run was stopped was not marked: %+v", r)
	}
	if r := row(t, outbox, other); r.Attempts != 0 {
		t.Errorf("a stopped worker went on: %+v", r)
	}
}

// watched tells when Lease was called.
type watched struct {
	*mailtest.Outbox
	leased chan struct{}
}

func (w watched) Lease(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]keycardmail.Message, error) {
	defer func() {
		select {
		case w.leased <- struct{}{}:
		default:
		}
	}()
	return w.Outbox.Lease(ctx, owner, now, lease, limit)
}

func TestNotifySendsAtOnce(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{})
	outbox := watched{Outbox: mailtest.NewOutbox(), leased: make(chan struct{}, 1)}
	cfg := smtpConfig(server)
	cfg.PollInterval = time.Hour // only Notify can wake it in time
	w := newWorker(t, cfg, outbox, keycardmail.Deps{})
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })

	<-outbox.leased // the first look found nothing; the next poll is an hour away
	enqueueReset(t, outbox.Outbox, "alice@example.com", time.Now())
	w.Notify()
	if got := server.Next(t); got.To[0] != "alice@example.com" {
		t.Errorf("delivered to %v", got.To)
	}
}

func TestTwoWorkersDoNotDoubleSend(t *testing.T) {
	server := mailtest.StartSMTP(t, mailtest.SMTPOptions{})
	outbox := mailtest.NewOutbox()
	cfg := smtpConfig(server)
	cfg.PollInterval = 10 * time.Millisecond
	workers := []*keycardmail.Worker{
		newWorker(t, cfg, outbox, keycardmail.Deps{Owner: "instance-a"}),
		newWorker(t, cfg, outbox, keycardmail.Deps{Owner: "instance-b"}),
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { _ = w.Run(ctx) })
	}
	const mails = 40
	for i := range mails {
		enqueueReset(t, outbox, fmt.Sprintf("user%d@example.com", i), time.Now())
		workers[i%2].Notify()
	}
	seen := map[string]int{}
	for range mails {
		seen[server.Next(t).To[0]]++
	}
	stop()
	wg.Wait()
	if got := len(server.Received()); got != mails {
		t.Errorf("%d mails arrived, want %d", got, mails)
	}
	for to, n := range seen {
		if n != 1 {
			t.Errorf("%s got %d copies", to, n)
		}
	}
	if backlog, _ := outbox.Backlog(t.Context()); backlog.Pending != 0 {
		t.Errorf("backlog %+v after all were sent", backlog)
	}
}

func TestProductionWithoutSMTPLeavesTheOutboxAlone(t *testing.T) {
	outbox := mailtest.NewOutbox()
	w := newWorker(t, keycardmail.Config{}, outbox, keycardmail.Deps{})
	id := enqueueReset(t, outbox, "alice@example.com", time.Now())
	sendDue(t, w, 0)
	ctx, stop := context.WithCancel(t.Context())
	stop()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if r := row(t, outbox, id); r.Attempts != 0 || r.LeaseOwner != "" {
		t.Errorf("an instance without mail touched the outbox: %+v", r)
	}
	if h, err := w.Health(t.Context()); err != nil || h.Transport != "none" || h.Pending != 1 {
		t.Errorf("health %+v, %v", h, err)
	}
}

func TestHealthDatesTheOldestPendingMail(t *testing.T) {
	outbox, clk := mailtest.NewOutbox(), newClock()
	w := newWorker(t, keycardmail.Config{}, outbox, keycardmail.Deps{Now: clk.Now})
	enqueueReset(t, outbox, "a@example.com", clk.Now().Add(-90*time.Second))
	enqueueReset(t, outbox, "b@example.com", clk.Now().Add(-10*time.Second))
	h, err := w.Health(t.Context())
	if err != nil || h.Pending != 2 || h.OldestPendingSeconds != 90 {
		t.Errorf("health %+v, %v; want 2 pending, the oldest 90 s old", h, err)
	}
	if strings.Contains(fmt.Sprintf("%+v", h), "token") {
		t.Error("health shows mail contents")
	}
}
