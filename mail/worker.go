package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"sync"
	"time"
)

// Deps are what a Worker uses beyond its Config; zero values are the
// production defaults.
type Deps struct {
	// Sender replaces the one Config asks for (tests).
	Sender Sender
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand returns a number in [0, 1) for the backoff's jitter (default
	// math/rand/v2).
	Rand func() float64
	// Observer counts deliveries (default: none).
	Observer Observer
	// Logger gets one line per failure (default: discarded).
	Logger *slog.Logger
	// Owner names this process in leases (default HOST-PID-RANDOM); it
	// must differ between processes.
	Owner string
}

// Delivery results, as Observer.Delivery reports them.
const (
	// ResultSuccess: the server accepted the mail.
	ResultSuccess = "success"
	// ResultRetry: the attempt failed; the message is due again later.
	ResultRetry = "retry"
	// ResultDead: the message was given up on (dead letter).
	ResultDead = "dead"
)

// Observer is told about each delivery attempt as it ends, for
// keycard_mail_sent_total{result}. It must be cheap and safe for
// concurrent use.
type Observer interface {
	Delivery(result string)
}

type nopObserver struct{}

func (nopObserver) Delivery(string) {}

// permanentAttempts is how many times a mail the server rejected for good
// (5xx) is tried: more than once, since a misconfigured relay answers 5xx
// too and is fixed within minutes, but not for a day.
const permanentAttempts = 3

// Worker drains the Outbox: it leases due messages, renders and sends
// them, and marks each sent, or schedules a retry with exponential backoff
// and jitter, or gives up on it after Config.MaxAttempts or Config.MaxAge.
//
// Delivery is at least once. A message is leased for Config.Lease, at
// least twice the send timeout, so the lease outlives its send; a process
// that dies after the server accepted the mail but before MarkSent leaves
// the lease to expire, and whoever leases it next sends it again (with the
// same Message-ID). Nothing is lost, and in normal operation nothing is
// sent twice.
type Worker struct {
	cfg       Config
	outbox    Outbox
	sender    Sender // nil: mail is unavailable
	templates *Templates
	now       func() time.Time
	rand      func() float64
	observer  Observer
	log       *slog.Logger
	owner     string
	nudge     chan struct{}

	mu        sync.Mutex
	lastError string
	lastErrAt time.Time
	lastSent  time.Time
}

// New checks cfg (see Config.Check), loads the templates and picks the
// sender: SMTP when cfg.SMTPURL is set, else .eml files in cfg.Dir in
// development, else none (Available is false: production without SMTP).
func New(cfg Config, outbox Outbox, deps Deps) (*Worker, error) {
	cfg = cfg.withDefaults()
	p, err := cfg.check()
	if err != nil {
		return nil, err
	}
	sender := deps.Sender
	if sender == nil {
		switch {
		case p.server != nil:
			sender = NewSMTPSender(*p.server, p.from, cfg.Timeout, cfg.RootCAs)
		case cfg.Development:
			if sender, err = NewFileSender(cfg.Dir, p.from); err != nil {
				return nil, err
			}
		}
	}
	w := &Worker{
		cfg:       cfg,
		outbox:    outbox,
		sender:    sender,
		templates: p.templates,
		now:       deps.Now,
		rand:      deps.Rand,
		observer:  deps.Observer,
		log:       deps.Logger,
		owner:     deps.Owner,
		nudge:     make(chan struct{}, 1),
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.rand == nil {
		w.rand = mathrand.Float64
	}
	if w.observer == nil {
		w.observer = nopObserver{}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.owner == "" {
		w.owner = processOwner()
	}
	return w, nil
}

// processOwner names this process: readable in the outbox (which host),
// and unique even for two processes of one host or one PID reused by a
// container restart.
func processOwner() string {
	host, err := os.Hostname()
	if err != nil {
		host = "keycard"
	}
	random := make([]byte, 6)
	_, _ = rand.Read(random)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(random))
}

// Available reports whether mail can be sent. When it cannot (production
// without KEYCARD_SMTP_URL), operations that must send mail answer
// UNAVAILABLE instead of queueing mail nobody sends.
func (w *Worker) Available() bool { return w.sender != nil }

// Describe says where mail goes, for the start-up log line; it never holds
// the SMTP password.
func (w *Worker) Describe() string {
	switch s := w.sender.(type) {
	case nil:
		return "mail unavailable: no KEYCARD_SMTP_URL (production); password reset and email verification answer UNAVAILABLE"
	case fmt.Stringer:
		return "mail via " + s.String()
	default:
		return "mail via a custom sender"
	}
}

// Owner is the name this Worker leases under.
func (w *Worker) Owner() string { return w.owner }

// Notify wakes the Worker: call it after a transaction that enqueued mail
// committed, and the mail goes out at once rather than at the next poll.
// It never blocks.
func (w *Worker) Notify() {
	select {
	case w.nudge <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Run sends due mail until ctx ends: at once when notified, else every
// Config.PollInterval. When ctx ends, sends in flight finish and are
// marked (interrupting one would only send it twice); Run then returns
// nil. Without a sender it only waits for ctx.
func (w *Worker) Run(ctx context.Context) error {
	if w.sender == nil {
		<-ctx.Done()
		return nil
	}
	poll := time.NewTimer(w.cfg.PollInterval)
	defer poll.Stop()
	for {
		n, err := w.SendDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Warn("mail: cannot read the outbox; will retry", "err", err)
		}
		if err == nil && n == w.cfg.Concurrency {
			continue // a full batch: more may be due
		}
		poll.Reset(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-w.nudge:
		case <-poll.C:
		}
	}
}

// SendDue leases up to Config.Concurrency due messages, delivers them
// concurrently and returns how many it leased once all are settled.
func (w *Worker) SendDue(ctx context.Context) (int, error) {
	if w.sender == nil {
		return 0, nil
	}
	messages, err := w.outbox.Lease(ctx, w.owner, w.now(), w.cfg.Lease, w.cfg.Concurrency)
	if err != nil {
		return 0, fmt.Errorf("mail: leasing from the outbox: %w", err)
	}
	var wg sync.WaitGroup
	for _, m := range messages {
		wg.Go(func() { w.deliver(ctx, m) })
	}
	wg.Wait()
	return len(messages), nil
}

// deliver sends one leased message and settles it. It runs to the end
// even when ctx ends: a send cut off after the server took the mail would
// be sent again, and an unrecorded outcome costs a lease's wait.
func (w *Worker) deliver(ctx context.Context, m Message) {
	ctx = context.WithoutCancel(ctx)
	log := w.log.With("mail_id", m.ID, "template", m.Template, "attempt", m.Attempts)
	if age := w.now().Sub(m.CreatedAt); age >= w.cfg.MaxAge {
		w.abandon(ctx, log, m, ClassExpired, fmt.Errorf("queued %s ago, longer than its links live", age.Round(time.Second)))
		return
	}
	err := w.send(ctx, m)
	now := w.now()
	settle, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	if err == nil {
		w.mu.Lock()
		w.lastSent = now
		w.mu.Unlock()
		w.observer.Delivery(ResultSuccess)
		switch err := w.outbox.MarkSent(settle, m.ID, w.owner, now); {
		case errors.Is(err, ErrLeaseLost):
			log.Warn("mail: sent, but its lease had passed to another instance, which may send it again")
		case err != nil:
			log.Error("mail: sent, but could not be marked sent; it will be sent again when its lease expires", "err", err)
		}
		return
	}
	class, permanent := classOf(err)
	w.mu.Lock()
	w.lastError, w.lastErrAt = class, now
	w.mu.Unlock()
	next := now.Add(w.backoff(m.Attempts))
	if w.exhausted(m, permanent, class, next) {
		w.abandon(ctx, log, m, class, err)
		return
	}
	w.observer.Delivery(ResultRetry)
	log.Warn("mail: delivery failed; will retry", "class", class, "next_attempt", next, "err", err)
	if err := w.outbox.Retry(settle, m.ID, w.owner, next, class); err != nil && !errors.Is(err, ErrLeaseLost) {
		log.Error("mail: could not schedule the retry; it is retried when its lease expires", "err", err)
	}
}

func (w *Worker) send(ctx context.Context, m Message) error {
	r, err := w.templates.Render(m)
	if err != nil {
		return &DeliveryError{Class: ClassTemplate, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	return w.sender.Send(ctx, r)
}

// exhausted says whether a failed message is given up on rather than
// retried at next: no attempt is made past MaxAge.
func (w *Worker) exhausted(m Message, permanent bool, class string, next time.Time) bool {
	switch {
	case class == ClassAddress:
		return true // no retry makes an address valid
	case permanent && m.Attempts >= permanentAttempts:
		return true
	case m.Attempts >= w.cfg.MaxAttempts:
		return true
	default:
		return next.Sub(m.CreatedAt) >= w.cfg.MaxAge
	}
}

func (w *Worker) abandon(ctx context.Context, log *slog.Logger, m Message, class string, cause error) {
	w.observer.Delivery(ResultDead)
	log.Error("mail: giving up on a mail (dead letter)", "class", class, "err", cause)
	settle, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	if err := w.outbox.Abandon(settle, m.ID, w.owner, w.now(), class); err != nil && !errors.Is(err, ErrLeaseLost) {
		log.Error("mail: could not record the dead letter", "err", err)
	}
}

// backoff is the wait after a message's attempts-th failure: BackoffBase
// doubling per attempt up to BackoffMax, of which a random half is taken
// off (equal jitter: messages that failed together, in an SMTP outage,
// come back spread out, yet never sooner than half the delay).
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.BackoffBase
	for i := 1; i < attempts && d < w.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, w.cfg.BackoffMax)
	return d/2 + time.Duration(w.rand()*float64(d/2))
}

// Health is the mail side of /readyz.
type Health struct {
	// Transport is smtp, files, none (unavailable) or custom.
	Transport string `json:"transport"`
	// Pending counts mail not yet sent; OldestPendingSeconds is how long
	// the oldest has waited (a stuck queue shows here first).
	Pending              int   `json:"pending"`
	OldestPendingSeconds int64 `json:"oldest_pending_seconds"`
	// Dead counts mail given up on, until the janitor purges it.
	Dead int `json:"dead"`
	// LastError is the class of this process's last failed delivery
	// (connect, auth, tls, ...), LastErrorAt when it happened, and
	// LastSentAt the last success: an error after the last success is
	// current.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSentAt  time.Time `json:"last_sent_at,omitzero"`
}

// Health reads the outbox's backlog and this process's last outcomes.
func (w *Worker) Health(ctx context.Context) (Health, error) {
	backlog, err := w.outbox.Backlog(ctx)
	if err != nil {
		return Health{}, fmt.Errorf("mail: reading the outbox backlog: %w", err)
	}
	h := Health{Pending: backlog.Pending, Dead: backlog.Dead}
	switch w.sender.(type) {
	case nil:
		h.Transport = "none"
	case *SMTPSender:
		h.Transport = "smtp"
	case *FileSender:
		h.Transport = "files"
	default:
		h.Transport = "custom"
	}
	if !backlog.OldestPending.IsZero() {
		h.OldestPendingSeconds = int64(max(w.now().Sub(backlog.OldestPending), 0) / time.Second)
	}
	w.mu.Lock()
	h.LastError, h.LastErrorAt, h.LastSentAt = w.lastError, w.lastErrAt, w.lastSent
	w.mu.Unlock()
	return h, nil
}
