package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keycard/keycard/auth"
)

// takeScript is gcra() in Lua, run atomically in Redis on Redis's own clock
// so that instances with skewed clocks share one truth. Times are in
// microseconds. Returns {allowed, retry_after_us}.
var takeScript = redis.NewScript(`
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next = tat + interval
local allow_at = next - period
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], next, 'PX', math.ceil((next - now) / 1000) + 1000)
return {1, 0}
`)

// refundScript moves a bucket's tat back by one interval.
var refundScript = redis.NewScript(`
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = tat - tonumber(ARGV[1])
if back <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], back, 'PX', math.ceil((back - now) / 1000) + 1000)
end
return 1
`)

// Redis keeps buckets in Redis, shared by every instance. When Redis does
// not answer, it falls back to a per-process bucket rather than letting
// every request through or refusing all of them.
type Redis struct {
	client   *redis.Client
	fallback *Memory
	log      *slog.Logger
	failing  atomic.Bool
}

// keyPrefix namespaces keycard's keys; the rest is a hash, so usernames
// and addresses are not stored in Redis in clear.
const keyPrefix = "keycard:ratelimit:"

// NewRedis connects to a redis:// URL and checks that it answers.
func NewRedis(ctx context.Context, url string, now func() time.Time, log *slog.Logger) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("KEYCARD_REDIS_URL: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = time.Second
	opts.WriteTimeout = time.Second
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	return &Redis{client: client, fallback: NewMemory(now), log: log}, nil
}

func redisKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return keyPrefix + hex.EncodeToString(sum[:16])
}

func micros(d time.Duration) int64 { return d.Microseconds() }

// Take implements auth.Limiter.
func (r *Redis) Take(ctx context.Context, key string, rate auth.Rate) (bool, time.Duration, error) {
	interval := rate.Per / time.Duration(rate.Events)
	res, err := takeScript.Run(ctx, r.client, []string{redisKey(key)}, micros(interval), micros(rate.Per)).Int64Slice()
	if err != nil || len(res) != 2 {
		r.down(err)
		return r.fallback.Take(ctx, key, rate)
	}
	r.up()
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// Refund implements auth.Limiter.
func (r *Redis) Refund(ctx context.Context, key string, rate auth.Rate) error {
	interval := rate.Per / time.Duration(rate.Events)
	if err := refundScript.Run(ctx, r.client, []string{redisKey(key)}, micros(interval)).Err(); err != nil {
		r.down(err)
		return r.fallback.Refund(ctx, key, rate)
	}
	return nil
}

func (r *Redis) down(err error) {
	if !r.failing.Swap(true) {
		r.log.Warn("redis unreachable: rate limits fall back to this process only", "err", err)
	}
}

func (r *Redis) up() {
	if r.failing.Swap(false) {
		r.log.Info("redis reachable again: rate limits are shared")
	}
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.client.Close() }
