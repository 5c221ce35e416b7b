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
// CPU-bound, so at most `slots` run at once: a burst of logins queues here
// instead of exhausting memory or starving cheap requests of CPU.
type Passwords struct {
	params  Argon2Params
	slots   chan struct{}
	waiting atomic.Int64
	// computed counts argon2id evaluations, hashes and verifications alike.
	computed atomic.Int64
	// dummyHash is verified against when the user does not exist, so an
	// unknown username costs the same time as a wrong password.
	dummyHash string
}

// NewPasswords returns a hasher with the given parameters running at most
// concurrency hashes at once (0 means GOMAXPROCS).
func NewPasswords(params Argon2Params, concurrency int) (*Passwords, error) {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	p := &Passwords{params: params, slots: make(chan struct{}, concurrency)}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
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

func (p *Passwords) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
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
	key := argon2.IDKey([]byte(password), salt, p.params.Iterations, p.params.MemoryKiB, p.params.Parallelism, p.params.KeyLen)
	p.computed.Add(1)
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
	got := argon2.IDKey([]byte(password), salt, params.Iterations, params.MemoryKiB, params.Parallelism, uint32(len(want)))
	p.computed.Add(1)
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
