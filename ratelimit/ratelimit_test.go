package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/store/storetest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

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

func TestGCRAAllowsBurstThenSustainedRate(t *testing.T) {
	rate := auth.Rate{Events: 5, Per: time.Minute} // one token every 12 s
	now := time.Unix(1_800_000_000, 0)
	var tat time.Time
	for i := range 5 {
		var ok bool
		if tat, ok, _ = gcra(now, tat, rate); !ok {
			t.Fatalf("burst request %d refused", i+1)
		}
	}
	_, ok, retry := gcra(now, tat, rate)
	if ok || retry != 12*time.Second {
		t.Fatalf("6th request: ok=%v retry=%v, want refused, retry 12s", ok, retry)
	}
	// One interval later exactly one more conforms.
	now = now.Add(12 * time.Second)
	if tat, ok, _ = gcra(now, tat, rate); !ok {
		t.Fatal("refused after one interval")
	}
	if _, ok, _ = gcra(now, tat, rate); ok {
		t.Fatal("two allowed after one interval")
	}
	// After a full period of quiet the whole burst is back.
	now = now.Add(time.Minute)
	for i := range 5 {
		if tat, ok, _ = gcra(now, tat, rate); !ok {
			t.Fatalf("refilled burst request %d refused", i+1)
		}
	}
}

// limiterContract is what every backend must do the same way.
func limiterContract(t *testing.T, l auth.Limiter, advance func(time.Duration), key string) {
	t.Helper()
	ctx := context.Background()
	rate := auth.Rate{Events: 3, Per: 3 * time.Second}
	for i := range 3 {
		if ok, _, err := l.Take(ctx, key, rate); err != nil || !ok {
			t.Fatalf("take %d: ok=%v err=%v", i+1, ok, err)
		}
	}
	ok, retry, err := l.Take(ctx, key, rate)
	if err != nil || ok || retry <= 0 || retry > time.Second+50*time.Millisecond {
		t.Fatalf("4th take: ok=%v retry=%v err=%v", ok, retry, err)
	}
	// A refund makes room for exactly one more.
	if err := l.Refund(ctx, key, rate); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := l.Take(ctx, key, rate); !ok {
		t.Fatal("refused after a refund")
	}
	if ok, _, _ := l.Take(ctx, key, rate); ok {
		t.Fatal("a refund gave back more than one token")
	}
	// Other keys have their own buckets.
	if ok, _, _ := l.Take(ctx, key+"-other", rate); !ok {
		t.Fatal("another key shares the bucket")
	}
	advance(1100 * time.Millisecond)
	if ok, _, _ := l.Take(ctx, key, rate); !ok {
		t.Fatal("no token after one interval")
	}
}

func TestMemoryLimiter(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	limiterContract(t, NewMemory(c.Now), c.Advance, "login:username:alice")
}

func TestMemoryLimiterForgetsFullBuckets(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	m := NewMemory(c.Now)
	m.limit = 10
	rate := auth.Rate{Events: 1, Per: time.Second}
	for i := range 10 {
		m.Take(context.Background(), string(rune('a'+i)), rate)
	}
	c.Advance(2 * time.Second)
	m.Take(context.Background(), "z", rate)
	if len(m.tats) != 1 {
		t.Fatalf("%d buckets kept; the refilled ones should be gone", len(m.tats))
	}
}

// testRedisURL is the Redis database of these tests: the one below
// KEYCARD_TEST_REDIS_URL's, so that the app tests, which empty theirs and
// run in parallel with these, never wipe buckets from under them.
func testRedisURL(t *testing.T) string {
	t.Helper()
	url := storetest.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	db := opts.DB - 1
	if db < 0 {
		db = 1
	}
	return fmt.Sprintf("redis://%s/%d", opts.Addr, db)
}

func TestRedisLimiter(t *testing.T) {
	url := testRedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	if err := client.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	l, err := NewRedis(context.Background(), url, time.Now, nopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Redis keeps its own time, so the test waits for real.
	limiterContract(t, l, time.Sleep, "login:username:bob")

	// Keys are hashed: no username in Redis in clear.
	keys, err := client.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if len(k) != len(keyPrefix)+32 {
			t.Fatalf("unexpected key %q", k)
		}
	}
}

func TestRedisLimiterFallsBackWhenRedisIsGone(t *testing.T) {
	url := testRedisURL(t)
	l, err := NewRedis(context.Background(), url, time.Now, nopLogger())
	if err != nil {
		t.Fatal(err)
	}
	l.client.Close() // Redis "goes away"
	rate := auth.Rate{Events: 1, Per: time.Minute}
	if ok, _, err := l.Take(context.Background(), "k", rate); err != nil || !ok {
		t.Fatalf("fallback take: ok=%v err=%v", ok, err)
	}
	if ok, _, _ := l.Take(context.Background(), "k", rate); ok {
		t.Fatal("the fallback bucket does not limit")
	}
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
