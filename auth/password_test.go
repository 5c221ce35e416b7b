package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func newPasswords(t *testing.T, params Argon2Params, concurrency int) *Passwords {
	t.Helper()
	p, err := NewPasswords(params, concurrency)
	if err != nil {
		t.Fatalf("NewPasswords: %v", err)
	}
	return p
}

func hashPassword(t *testing.T, p *Passwords, password string) string {
	t.Helper()
	encoded, err := p.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return encoded
}

func TestHashProducesPHCString(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 1)
	encoded := hashPassword(t, p, "correct horse battery staple")
	// 16-byte salt and 32-byte key in unpadded standard base64.
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(encoded) {
		t.Errorf("Hash = %q, want match for %s", encoded, phc)
	}
}

func TestOWASPParams(t *testing.T) {
	want := Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if got := OWASPParams(); got != want {
		t.Fatalf("OWASPParams() = %+v, want %+v", got, want)
	}
	p := newPasswords(t, OWASPParams(), 1)
	encoded := hashPassword(t, p, "correct horse battery staple")
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want the OWASP parameters in it", encoded)
	}
	ok, rehash, err := p.Verify(context.Background(), "correct horse battery staple", encoded)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyChecksPassword(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 1)
	encoded := hashPassword(t, p, "correct horse battery staple")
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", "correct horse battery staple", true},
		{"wrong password", "incorrect horse battery staple", false},
		{"different case", "Correct horse battery staple", false},
		{"prefix", "correct horse battery", false},
		{"trailing space", "correct horse battery staple ", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := p.Verify(context.Background(), tt.password, encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.want {
				t.Errorf("Verify(%q) = %v, want %v", tt.password, ok, tt.want)
			}
		})
	}
}

func TestHashUsesFreshSaltEachTime(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 1)
	first := hashPassword(t, p, "correct horse battery staple")
	second := hashPassword(t, p, "correct horse battery staple")
	if first == second {
		t.Fatalf("two hashes of one password are equal (%s): the salt is not random", first)
	}
	for _, encoded := range []string{first, second} {
		if ok, _, err := p.Verify(context.Background(), "correct horse battery staple", encoded); err != nil || !ok {
			t.Errorf("Verify(%s) = %v, %v; want true, nil", encoded, ok, err)
		}
	}
}

func TestVerifyReportsRehashWhenParamsChange(t *testing.T) {
	stored := hashPassword(t, newPasswords(t, cheapArgon2, 1), "correct horse battery staple")
	tests := []struct {
		name       string
		edit       func(*Argon2Params)
		wantRehash bool
	}{
		{"same params", func(*Argon2Params) {}, false},
		{"more memory", func(p *Argon2Params) { p.MemoryKiB = 128 }, true},
		{"more iterations", func(p *Argon2Params) { p.Iterations = 2 }, true},
		{"more parallelism", func(p *Argon2Params) { p.Parallelism = 2 }, true},
		{"longer salt", func(p *Argon2Params) { p.SaltLen = 32 }, true},
		{"longer key", func(p *Argon2Params) { p.KeyLen = 64 }, true},
		{"OWASP params", func(p *Argon2Params) { *p = OWASPParams() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := cheapArgon2
			tt.edit(&params)
			ok, rehash, err := newPasswords(t, params, 1).Verify(context.Background(), "correct horse battery staple", stored)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// The stored hash's own parameters verify it, whatever the
			// current ones are.
			if !ok {
				t.Error("Verify rejected the right password")
			}
			if rehash != tt.wantRehash {
				t.Errorf("needsRehash = %v, want %v", rehash, tt.wantRehash)
			}
		})
	}
}

func TestVerifyRejectsMalformedHash(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	phc := func(variant, version, params, salt, key string) string {
		return "$" + variant + "$" + version + "$" + params + "$" + salt + "$" + key
	}
	const params = "m=64,t=1,p=1"
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"argon2i", phc("argon2i", "v=19", params, salt, key)},
		{"argon2d", phc("argon2d", "v=19", params, salt, key)},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"version 16", phc("argon2id", "v=16", params, salt, key)},
		{"version not a number", phc("argon2id", "v=x", params, salt, key)},
		{"missing version", "$argon2id$" + params + "$" + salt + "$" + key},
		{"missing key", "$argon2id$v=19$" + params + "$" + salt},
		{"extra part", phc("argon2id", "v=19", params, salt, key) + "$" + key},
		{"no leading dollar", phc("argon2id", "v=19", params, salt, key)[1:]},
		{"params out of order", phc("argon2id", "v=19", "t=1,m=64,p=1", salt, key)},
		{"missing parallelism", phc("argon2id", "v=19", "m=64,t=1", salt, key)},
		{"huge memory", phc("argon2id", "v=19", "m=99999999,t=1,p=1", salt, key)},
		{"memory beyond uint32", phc("argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key)},
		{"zero memory", phc("argon2id", "v=19", "m=0,t=1,p=1", salt, key)},
		{"negative memory", phc("argon2id", "v=19", "m=-64,t=1,p=1", salt, key)},
		{"zero iterations", phc("argon2id", "v=19", "m=64,t=0,p=1", salt, key)},
		{"too many iterations", phc("argon2id", "v=19", "m=64,t=65,p=1", salt, key)},
		{"zero parallelism", phc("argon2id", "v=19", "m=64,t=1,p=0", salt, key)},
		{"parallelism beyond uint8", phc("argon2id", "v=19", "m=64,t=1,p=256", salt, key)},
		{"salt not base64", phc("argon2id", "v=19", params, "!!!!!!!!!!!!", key)},
		{"salt padded", phc("argon2id", "v=19", params, salt+"==", key)},
		{"salt with non-zero trailing bits", phc("argon2id", "v=19", params, setSpareBit(salt), key)},
		{"salt too short", phc("argon2id", "v=19", params, base64.RawStdEncoding.EncodeToString([]byte("1234")), key)},
		{"empty salt", phc("argon2id", "v=19", params, "", key)},
		{"key not base64", phc("argon2id", "v=19", params, salt, "!!!!!!!!!!!!!!!!!!!!!!!!")},
		{"key too short", phc("argon2id", "v=19", params, salt, base64.RawStdEncoding.EncodeToString([]byte("01234567")))},
		{"key too long", phc("argon2id", "v=19", params, salt, base64.RawStdEncoding.EncodeToString(make([]byte, 129)))},
	}
	p := newPasswords(t, cheapArgon2, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := p.Verify(context.Background(), "0123456789", tt.encoded)
			if !errors.Is(err, errMalformedHash) {
				t.Errorf("Verify(%q) error = %v, want errMalformedHash", tt.encoded, err)
			}
			if ok || rehash {
				t.Errorf("Verify(%q) = %v, %v with an error, want false, false", tt.encoded, ok, rehash)
			}
		})
	}
}

func TestVerifyDummySucceedsWithoutError(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 1)
	for _, password := range []string{"", "correct horse battery staple"} {
		if err := p.VerifyDummy(context.Background(), password); err != nil {
			t.Errorf("VerifyDummy(%q): %v", password, err)
		}
	}
}

// The dummy hash must cost what a real one costs, or timing tells unknown
// users from wrong passwords.
func TestDummyHashUsesConfiguredParams(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 1)
	params, salt, key, err := decodePHC(p.dummyHash)
	if err != nil {
		t.Fatalf("decodePHC(dummy hash): %v", err)
	}
	params.SaltLen, params.KeyLen = uint32(len(salt)), uint32(len(key))
	if params != cheapArgon2 {
		t.Errorf("dummy hash params = %+v, want %+v", params, cheapArgon2)
	}
}

func TestNewPasswordsDefaultsConcurrencyToHalfTheCores(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 0)
	if got, want := p.Concurrency(), max(1, runtime.GOMAXPROCS(0)/2); got != want {
		t.Errorf("slots = %d, want half of GOMAXPROCS (%d), at least 1: %d", got, runtime.GOMAXPROCS(0), want)
	}
}

func TestPasswordOpsUnavailableWhileSlotsBusyAndContextCancelled(t *testing.T) {
	p := newPasswords(t, cheapArgon2, 1)
	stored := hashPassword(t, p, "correct horse battery staple")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{"Hash", func(ctx context.Context) error {
			_, err := p.Hash(ctx, "correct horse battery staple")
			return err
		}},
		{"Verify", func(ctx context.Context) error {
			_, _, err := p.Verify(ctx, "correct horse battery staple", stored)
			return err
		}},
		{"VerifyDummy", func(ctx context.Context) error {
			return p.VerifyDummy(ctx, "correct horse battery staple")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.slots <- struct{}{} // the only slot, taken as by a running hash
			err := tt.op(cancelled)
			<-p.slots
			if KindOf(err) != KindUnavailable {
				t.Errorf("%s with busy slots and cancelled context = %v (kind %v), want kind %v",
					tt.name, err, KindOf(err), KindUnavailable)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s error %v does not wrap context.Canceled", tt.name, err)
			}
			if err := tt.op(context.Background()); err != nil {
				t.Errorf("%s once the slot is free: %v", tt.name, err)
			}
		})
	}
}

func TestHashWaitsForSlot(t *testing.T) {
	tests := []struct {
		name   string
		cancel bool
	}{
		{"slot freed", false},
		{"context cancelled while waiting", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPasswords(t, cheapArgon2, 1)
			p.slots <- struct{}{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := p.Hash(ctx, "correct horse battery staple")
				done <- err
			}()
			waitFor(t, func() bool { return p.Waiting() == 1 })
			if tt.cancel {
				cancel()
			} else {
				<-p.slots
			}
			err := <-done
			if tt.cancel {
				if KindOf(err) != KindUnavailable {
					t.Errorf("Hash = %v, want kind %v", err, KindUnavailable)
				}
			} else if err != nil {
				t.Errorf("Hash: %v", err)
			}
			if n := p.Waiting(); n != 0 {
				t.Errorf("Waiting() = %d after the hash returned, want 0", n)
			}
		})
	}
}

// waitFor polls cond; it is used only where a goroutine must reach a
// blocking point that the test cannot observe otherwise.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
