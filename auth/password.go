package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters stored in every PHC string.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// OWASPParams returns the OWASP Password Storage Cheat Sheet's first
// argon2id recommendation (m=19 MiB, t=2, p=1): strong enough to make offline
// guessing expensive, cheap enough that a 2-core server still logs in
// dozens of users a second.
func OWASPParams() Argon2Params {
	return Argon2Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

var errMalformedHash = errors.New("malformed argon2id hash")

// Passwords hashes and verifies passwords. Hashing is memory-hard and
// CPU-bound, so at most `slots` run at once, by default half the cores: a
// burst of logins queues here instead of exhausting memory or taking the
// CPU that every signed-in user's cheap requests need. A request whose
// deadline the queue cannot meet is refused at once (RATE_LIMITED with the
// expected wait) instead of holding its connection until it times out.
type Passwords struct {
	params  Argon2Params
	slots   chan struct{}
	waiting atomic.Int64
	// computed counts argon2id evaluations, hashes and verifications alike.
	computed atomic.Int64
	// hashTime estimates one evaluation's wall time, from those measured.
	hashTime hashTimer
	now      func() time.Time
	// derive is argon2.IDKey; tests put a slow fake in its place.
	derive func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	// dummyHash is verified against when the user does not exist, so an
	// unknown username costs the same time as a wrong password.
	dummyHash string
}

// DefaultHashConcurrency is half the cores (GOMAXPROCS), at least one:
// hashing may take no more than that share, the rest stays for requests
// that are cheap, however many logins queue.
func DefaultHashConcurrency() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// NewPasswords returns a hasher with the given parameters running at most
// concurrency hashes at once (0: DefaultHashConcurrency).
func NewPasswords(params Argon2Params, concurrency int) (*Passwords, error) {
	return newPasswordsOn(params, concurrency, time.Now, argon2.IDKey)
}

// newPasswordsOn is NewPasswords on a given clock and key derivation.
func newPasswordsOn(params Argon2Params, concurrency int, now func() time.Time, derive func([]byte, []byte, uint32, uint32, uint8, uint32) []byte) (*Passwords, error) {
	if concurrency <= 0 {
		concurrency = DefaultHashConcurrency()
	}
	p := &Passwords{params: params, slots: make(chan struct{}, concurrency), now: now, derive: derive}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	// Also the first measurement of how long a hash takes.
	dummy, err := p.hash(base64.RawStdEncoding.EncodeToString(secret[:]))
	if err != nil {
		return nil, err
	}
	p.dummyHash = dummy
	return p, nil
}

// Waiting reports how many hash operations are queued for a slot.
func (p *Passwords) Waiting() int64 { return p.waiting.Load() }

// Computed reports how many argon2id evaluations have run.
func (p *Passwords) Computed() int64 { return p.computed.Load() }

// Concurrency is how many hashes may run at once.
func (p *Passwords) Concurrency() int { return cap(p.slots) }

// Admit refuses at once, with RATE_LIMITED and the expected wait, a request
// whose deadline the hash queue cannot meet; login asks before it spends a
// rate limit or reads the user, so a storm costs it nothing beyond this.
// Whoever is admitted may still be refused by acquire when the queue grew.
func (p *Passwords) Admit(ctx context.Context) error {
	if len(p.slots) < cap(p.slots) {
		return nil
	}
	return p.overloaded(ctx)
}

// overloaded estimates when a hash requested now would finish: the queue
// ahead (plus the hashes running) served concurrency at a time, then its
// own hash. Past the request's deadline, waiting would only hold the
// connection to answer UNAVAILABLE in the end.
func (p *Passwords) overloaded(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	hashTime := p.hashTime.estimate()
	if !ok || hashTime == 0 {
		return nil
	}
	wait := hashTime * time.Duration(p.waiting.Load()+1) / time.Duration(cap(p.slots))
	if !p.now().Add(wait + hashTime).After(deadline) {
		return nil
	}
	return RateLimited(max(wait, time.Second))
}

func (p *Passwords) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if err := p.overloaded(ctx); err != nil {
		return err
	}
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return Unavailable(ctx.Err())
	}
}

func (p *Passwords) release() { <-p.slots }

// argon2id runs one evaluation and measures it.
func (p *Passwords) argon2id(password, salt []byte, params Argon2Params, keyLen uint32) []byte {
	start := p.now()
	key := p.derive(password, salt, params.Iterations, params.MemoryKiB, params.Parallelism, keyLen)
	p.hashTime.observe(p.now().Sub(start))
	p.computed.Add(1)
	return key
}

// hashTimer is a moving average of measured hash times (wall time, so it
// grows when the machine is busy, which is when the estimate matters).
// Zero means nothing measured yet: then nobody is refused.
type hashTimer struct{ nanos atomic.Int64 }

func (h *hashTimer) observe(d time.Duration) {
	if d <= 0 {
		return
	}
	old := h.nanos.Load()
	if old == 0 {
		h.nanos.Store(int64(d))
		return
	}
	// Updates racing each other may drop one sample; an estimate does
	// not need them all.
	h.nanos.Store(old + (int64(d)-old)/8)
}

func (h *hashTimer) estimate() time.Duration { return time.Duration(h.nanos.Load()) }

// Hash returns the PHC string of password with a fresh random salt.
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return p.hash(password)
}

func (p *Passwords) hash(password string) (string, error) {
	salt := make([]byte, p.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := p.argon2id([]byte(password), salt, p.params, p.params.KeyLen)
	return encodePHC(p.params, salt, key), nil
}

// Verify reports whether password matches encoded. needsRehash is true when
// encoded was made with other parameters than the current ones, so the
// caller can upgrade the stored hash while it still has the plaintext.
func (p *Passwords) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	params, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := p.acquire(ctx); err != nil {
		return false, false, err
	}
	defer p.release()
	got := p.argon2id([]byte(password), salt, params, uint32(len(want)))
	// Constant time: a byte-by-byte early exit would leak how much of the
	// derived key matched.
	ok = subtle.ConstantTimeCompare(got, want) == 1
	current := p.params
	needsRehash = params.MemoryKiB != current.MemoryKiB || params.Iterations != current.Iterations ||
		params.Parallelism != current.Parallelism || uint32(len(want)) != current.KeyLen || uint32(len(salt)) != current.SaltLen
	return ok, needsRehash, nil
}

// VerifyDummy spends the same time as a real Verify and always fails.
func (p *Passwords) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := p.Verify(ctx, password, p.dummyHash)
	return err
}

func encodePHC(params Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, params.MemoryKiB, params.Iterations, params.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// maxStoredMemoryKiB caps the cost a stored hash may demand, so a corrupted
// or planted row cannot make one login allocate gigabytes.
const maxStoredMemoryKiB = 1 << 20

func decodePHC(encoded string) (Argon2Params, []byte, []byte, error) {
	var params Argon2Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return params, nil, nil, errMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return params, nil, nil, errMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &params.MemoryKiB, &params.Iterations, &params.Parallelism); err != nil {
		return params, nil, nil, errMalformedHash
	}
	if params.MemoryKiB == 0 || params.MemoryKiB > maxStoredMemoryKiB || params.Iterations == 0 || params.Iterations > 64 || params.Parallelism == 0 {
		return params, nil, nil, errMalformedHash
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return params, nil, nil, errMalformedHash
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return params, nil, nil, errMalformedHash
	}
	params.SaltLen = uint32(len(salt))
	params.KeyLen = uint32(len(key))
	return params, salt, key, nil
}
