package auth

import (
	"context"
	"sync"
	"testing"
	"time"
)

// slowKDF stands in for argon2id: each evaluation tells started, then
// blocks until the test lets it finish (finish), having moved the clock by
// how long it "took". Nothing sleeps.
type slowKDF struct {
	mu      sync.Mutex
	now     time.Time
	instant bool
	started chan struct{}
	finish  chan time.Duration
}

func newSlowKDF() *slowKDF {
	// The clock starts at the real now: contexts with deadlines on it
	// must not be done already.
	return &slowKDF{now: time.Now(), instant: true,
		started: make(chan struct{}), finish: make(chan time.Duration)}
}

func (k *slowKDF) Now() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

func (k *slowKDF) derive(_, _ []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
	k.mu.Lock()
	instant := k.instant
	k.mu.Unlock()
	if !instant {
		k.started <- struct{}{}
		took := <-k.finish
		k.mu.Lock()
		k.now = k.now.Add(took)
		k.mu.Unlock()
	}
	return make([]byte, keyLen)
}

// hashing is one Hash in flight.
type hashing struct{ done chan error }

func (k *slowKDF) startHash(p *Passwords, ctx context.Context) hashing {
	h := hashing{done: make(chan error, 1)}
	go func() {
		_, err := p.Hash(ctx, "correct horse battery staple")
		h.done <- err
	}()
	return h
}

// The queue refuses at once, with RATE_LIMITED and the expected wait, a
// request whose deadline it cannot meet: measured hash time × (queue ahead
// + 1) ÷ concurrency, plus its own hash. One whose deadline it can meet
// waits its turn.
func TestHashQueueRefusesAtOnceWhatItCannotServeBeforeTheDeadline(t *testing.T) {
	for _, concurrency := range []int{1, 2} {
		t.Run(map[int]string{1: "one slot", 2: "two slots"}[concurrency], func(t *testing.T) {
			kdf := newSlowKDF()
			p, err := newPasswordsOn(cheapArgon2, concurrency, kdf.Now, kdf.derive)
			if err != nil {
				t.Fatal(err)
			}
			kdf.instant = false
			background := context.Background()
			patient, cancel := context.WithDeadline(background, kdf.Now().Add(time.Hour))
			defer cancel()
			deadline := func(d time.Duration) context.Context {
				ctx, cancel := context.WithDeadline(background, kdf.Now().Add(d))
				t.Cleanup(cancel)
				return ctx
			}

			// Nothing measured yet: nobody is refused.
			if err := p.Admit(deadline(time.Nanosecond)); err != nil {
				t.Fatalf("Admit before any measurement: %v", err)
			}
			// One hash that takes 100ms measures the hash time.
			first := kdf.startHash(p, patient)
			<-kdf.started
			kdf.finish <- 100 * time.Millisecond
			if err := <-first.done; err != nil {
				t.Fatal(err)
			}
			const hashTime = 100 * time.Millisecond
			if got := p.hashTime.estimate(); got != hashTime {
				t.Fatalf("measured hash time %v, want %v", got, hashTime)
			}

			// A free slot admits whatever the deadline.
			if err := p.Admit(deadline(time.Nanosecond)); err != nil {
				t.Fatalf("Admit with a free slot: %v", err)
			}
			// Every slot busy.
			var running []hashing
			for range concurrency {
				running = append(running, kdf.startHash(p, patient))
				<-kdf.started
			}
			var queued []hashing
			for ahead := 0; ahead < 3; ahead++ {
				// Served in hashTime×(ahead+1)/concurrency, then hashed.
				finishes := hashTime*time.Duration(ahead+1)/time.Duration(concurrency) + hashTime
				for _, tc := range []struct {
					name  string
					ctx   context.Context
					admit bool
				}{
					{"deadline just short of it", deadline(finishes - time.Millisecond), false},
					{"deadline at it", deadline(finishes), true},
				} {
					err := p.Admit(tc.ctx)
					if tc.admit != (err == nil) {
						t.Fatalf("%d queued, %s: Admit = %v, want admitted %v", ahead, tc.name, err, tc.admit)
					}
					if err == nil {
						continue
					}
					if KindOf(err) != KindRateLimited {
						t.Fatalf("refusal %v is kind %v, want %v", err, KindOf(err), KindRateLimited)
					}
					if wait := err.(*Error).RetryAfter; wait < time.Second {
						t.Errorf("retryAfter %v, want at least a second", wait)
					}
					// Hash refuses the same request without queueing it.
					if _, err := p.Hash(tc.ctx, "correct horse battery staple"); KindOf(err) != KindRateLimited {
						t.Fatalf("%d queued, %s: Hash = %v, want an immediate RATE_LIMITED", ahead, tc.name, err)
					}
					if got := p.Waiting(); got != int64(ahead) {
						t.Fatalf("refused request queued: Waiting = %d, want %d", got, ahead)
					}
				}
				// A patient request joins the queue.
				queued = append(queued, kdf.startHash(p, patient))
				waitFor(t, func() bool { return p.Waiting() == int64(ahead+1) })
			}

			// Everything admitted is served once the slots free up.
			for range running {
				kdf.finish <- hashTime
			}
			for range queued {
				<-kdf.started
				kdf.finish <- hashTime
			}
			for _, h := range append(running, queued...) {
				if err := <-h.done; err != nil {
					t.Errorf("admitted hash: %v", err)
				}
			}
		})
	}
}

// A hash that runs long (a machine busy with other work) raises the
// estimate, a fast one lowers it: a moving average, not the last sample.
func TestHashTimeIsAMovingAverage(t *testing.T) {
	var h hashTimer
	h.observe(0)
	if h.estimate() != 0 {
		t.Fatalf("a zero-length sample counted: %v", h.estimate())
	}
	h.observe(80 * time.Millisecond)
	if h.estimate() != 80*time.Millisecond {
		t.Fatalf("first sample: %v, want 80ms", h.estimate())
	}
	h.observe(160 * time.Millisecond)
	if got := h.estimate(); got != 90*time.Millisecond {
		t.Errorf("after a 160ms sample: %v, want 90ms (1/8 of the way)", got)
	}
}

// Login asks the queue first: when it cannot serve the request in time,
// the answer is an immediate RATE_LIMITED, before any rate limit is spent,
// any row read (the service here has no store at all) or any hash queued.
func TestLoginAnswersAtOnceWhenTheHashQueueCannotServeIt(t *testing.T) {
	kdf := newSlowKDF()
	p, err := newPasswordsOn(cheapArgon2, 1, kdf.Now, kdf.derive)
	if err != nil {
		t.Fatal(err)
	}
	kdf.instant = false
	p.hashTime.observe(100 * time.Millisecond)
	f := newTokenFixture(t)
	svc, err := NewService(nil, p, f.tokens, NewRevocations(f.clock.Now, time.Minute, nil), NewUserCache(),
		Options{RefreshTTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	patient, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	busy := kdf.startHash(p, patient)
	<-kdf.started
	computed := p.Computed()

	hurried, cancel := context.WithDeadline(context.Background(), kdf.Now().Add(150*time.Millisecond))
	defer cancel()
	grant, err := svc.Login(hurried, "somebody", "open-sesame-42", Client{IP: "192.0.2.1"})
	if grant != nil || KindOf(err) != KindRateLimited || err.(*Error).RetryAfter < time.Second {
		t.Fatalf("Login with a full queue = %v, %v; want RATE_LIMITED with retryAfter", grant, err)
	}
	if p.Waiting() != 0 || p.Computed() != computed {
		t.Errorf("refused login queued (%d waiting) or hashed (%d)", p.Waiting(), p.Computed()-computed)
	}
	kdf.finish <- 100 * time.Millisecond
	if err := <-busy.done; err != nil {
		t.Fatal(err)
	}
}
