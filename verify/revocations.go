package verify

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// The kinds of feed entry, by what they name.
type revocationKind uint8

const (
	revokedSession revocationKind = iota // by sid
	revokedToken                         // by jti
	revokedUser                          // by sub, for tokens issued before a cut-off
)

// revocationKey names what an entry refuses. The id is held in 16 bytes:
// a UUID in canonical lower-case form (keycard's ids) as its own bytes,
// any other string as the first 16 bytes of its SHA-256, flagged so the
// two never meet. Fixed-size and pointer-free, a million entries cost the
// garbage collector nothing to scan and a look-up hashes 18 bytes.
type revocationKey struct {
	kind   revocationKind
	hashed bool
	id     [16]byte
}

func keyOf(kind revocationKind, id string) revocationKey {
	k := revocationKey{kind: kind}
	if !parseUUID(id, &k.id) {
		sum := sha256.Sum256([]byte(id))
		k.hashed = true
		copy(k.id[:], sum[:16])
	}
	return k
}

// parseUUID reads xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in lower-case hex
// only: one spelling per byte string, so the mapping is exact.
func parseUUID(s string, out *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	n := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := hexDigit(s[i])
		lo, ok2 := hexDigit(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		out[n] = hi<<4 | lo
		n++
		i += 2
	}
	return true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

type revocation struct {
	// exp (unix seconds): every token the entry covers has expired by
	// then; with leeway added, the entry may be forgotten.
	exp int64
	// iatBefore (unix seconds) of a user entry: its tokens issued
	// strictly earlier are refused.
	iatBefore int64
}

const revocationShards = 16

// revocations is what the feed has said is revoked, held in memory so a
// check costs three map look-ups. Adding is idempotent: the feed may send
// an entry more than once.
type revocations struct {
	shards [revocationShards]revocationShard
	size   atomic.Int64
}

type revocationShard struct {
	mu      sync.RWMutex
	entries map[revocationKey]revocation
}

func newRevocations() *revocations {
	r := &revocations{}
	for i := range r.shards {
		r.shards[i].entries = make(map[revocationKey]revocation)
	}
	return r
}

func (r *revocations) shard(key revocationKey) *revocationShard {
	// UUIDs (v4, v7) and hashes end in random bits.
	return &r.shards[int(key.id[15])%revocationShards]
}

// add records an entry; a repeated one keeps the later exp and cut-off, so
// the order of delivery never narrows what is refused.
func (r *revocations) add(key revocationKey, rev revocation) {
	s := r.shard(key)
	s.mu.Lock()
	prev, existed := s.entries[key]
	if existed {
		rev.exp = max(rev.exp, prev.exp)
		rev.iatBefore = max(rev.iatBefore, prev.iatBefore)
	}
	s.entries[key] = rev
	s.mu.Unlock()
	if !existed {
		r.size.Add(1)
	}
}

// check refuses t if an entry covers it.
func (r *revocations) check(t *verifiedToken) error {
	if r.size.Load() == 0 {
		return nil
	}
	if _, ok := r.get(t.sessionKey); ok {
		return errSessionRevoked
	}
	if _, ok := r.get(t.tokenKey); ok {
		return errTokenRevoked
	}
	// Strict: keycard sets iat_before to the floor of the revocation
	// time, and a token issued in that same second (the session that
	// changed the password) must live on; the session entries sent
	// with the cut-off cover the others of that second.
	if cut, ok := r.get(t.userKey); ok && t.issuedAt.Before(time.Unix(cut.iatBefore, 0)) {
		return errUserRevoked
	}
	return nil
}

func (r *revocations) get(key revocationKey) (revocation, bool) {
	s := r.shard(key)
	s.mu.RLock()
	rev, ok := s.entries[key]
	s.mu.RUnlock()
	return rev, ok
}

// forget drops the entries whose exp is at or before expiredBy (now less
// the leeway): every token they cover fails its own exp check by now.
func (r *revocations) forget(expiredBy time.Time) {
	cutoff := expiredBy.Unix()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for key, rev := range s.entries {
			if rev.exp <= cutoff {
				delete(s.entries, key)
				r.size.Add(-1)
			}
		}
		s.mu.Unlock()
	}
}

func (r *revocations) len() int { return int(r.size.Load()) }
