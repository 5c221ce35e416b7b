package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The rate-limit policy: which operations are limited, per what, how
// strictly by default, and how an operator's overrides are checked. The
// buckets themselves are a Limiter's (package ratelimit).

// Rate is a limit: Events per Per, with bursts up to Events.
type Rate struct {
	Events int
	Per    time.Duration
}

// Limiter is a shared token-bucket store (in memory, or Redis for a fleet).
type Limiter interface {
	// Take spends one token of key's bucket under r. When there is none
	// left it reports false and how long until the next one.
	Take(ctx context.Context, key string, r Rate) (ok bool, retryAfter time.Duration, err error)
	// Refund gives a token back, for an attempt that turned out not to
	// count (a successful login is not a guess).
	Refund(ctx context.Context, key string, r Rate) error
}

// Operation names a rate-limited operation.
type Operation string

const (
	OpLogin          Operation = "login"
	OpRegister       Operation = "register"
	OpRefresh        Operation = "refresh"
	OpChangePassword Operation = "changePassword"
	// OpRevoke is RFC 7009 token revocation: unauthenticated, so a caller
	// could otherwise make keycard look up tokens without end.
	OpRevoke Operation = "revoke"
	// OpPasskeyLogin counts begun passkey logins: unauthenticated, and
	// each one a stored challenge.
	OpPasskeyLogin Operation = "passkeyLogin"
	// OpPasskeyRegistration counts begun passkey registrations.
	OpPasskeyRegistration Operation = "passkeyRegistration"
)

// Operations lists the rate-limited operations, in the order messages name
// them.
func Operations() []Operation {
	return []Operation{OpLogin, OpRegister, OpRefresh, OpChangePassword, OpRevoke, OpPasskeyLogin, OpPasskeyRegistration}
}

// Dimension is what a limit is counted per.
type Dimension string

const (
	// PerIP counts per client address: an IPv4 address, or the IPv6
	// prefix (a /64 by default) around an IPv6 one.
	PerIP Dimension = "ip"
	// PerUsername counts per typed username, whoever types it. For login
	// it is a ceiling, not a lockout: once it is reached, only clients at
	// an address the user already has a session from may still try (see
	// Login).
	PerUsername Dimension = "username"
	// PerUsernameIP counts per pair of typed username and client address:
	// the tight limit on one guesser at one account, which cannot touch
	// the owner's own pair.
	PerUsernameIP Dimension = "username_ip"
	PerUser       Dimension = "user"
)

// Dimensions lists what limits can be counted per, in the order messages
// name them.
func Dimensions() []Dimension {
	return []Dimension{PerIP, PerUsername, PerUsernameIP, PerUser}
}

// RateLimits maps operation and dimension to a rate; a missing pair is
// unlimited.
type RateLimits map[Operation]map[Dimension]Rate

// DefaultRateLimits are generous enough for people and strict enough for
// scripts. Login, refresh, password change and token revocation count
// attempts that fail: successful ones are refunded, so a busy legitimate
// client never trips them; register counts every account created, and
// the passkey operations every ceremony begun.
//
// Login has three: one address may try one account 10 times per 15
// minutes (then one try every 90 s), and try any accounts 100 times a
// minute; every address together may try one account 50 times an hour
// (1,200 a day), the ceiling that bounds a guesser spread over many
// addresses. Reaching the ceiling does not lock the owner out (see Login).
func DefaultRateLimits() RateLimits {
	return RateLimits{
		OpLogin: {
			PerUsernameIP: {10, 15 * time.Minute},
			PerUsername:   {50, time.Hour},
			PerIP:         {100, time.Minute},
		},
		OpRegister:       {PerIP: {30, time.Minute}},
		OpRefresh:        {PerIP: {100, time.Minute}},
		OpChangePassword: {PerUser: {5, time.Minute}, PerIP: {20, time.Minute}},
		OpRevoke:         {PerIP: {60, time.Minute}},
		// Every begun ceremony counts, finished or not.
		OpPasskeyLogin:        {PerIP: {100, time.Minute}},
		OpPasskeyRegistration: {PerUser: {20, time.Minute}, PerIP: {60, time.Minute}},
	}
}

// RateLimitOverride replaces one limit: the rate of Operation counted per
// Dimension, both as an operator wrote them (Rate.Events 0: unlimited).
type RateLimitOverride struct {
	Operation string
	Dimension string
	Rate      Rate
}

// Override applies overrides to l. An override naming an unknown operation
// or dimension is refused with an error that names it and the known ones;
// every refused override is reported, and none of them applied.
func (l RateLimits) Override(overrides []RateLimitOverride) error {
	var errs []error
	for _, o := range overrides {
		op, dim := Operation(o.Operation), Dimension(o.Dimension)
		switch {
		case !slices.Contains(Operations(), op):
			errs = append(errs, fmt.Errorf("%s.%s: unknown operation %q (%s)", o.Operation, o.Dimension, o.Operation, list(Operations())))
		case !slices.Contains(Dimensions(), dim):
			errs = append(errs, fmt.Errorf("%s.%s: unknown dimension %q (%s)", o.Operation, o.Dimension, o.Dimension, list(Dimensions())))
		case o.Rate.Events < 0 || (o.Rate.Events > 0 && o.Rate.Per <= 0):
			errs = append(errs, fmt.Errorf("%s.%s: %d per %s is not a rate", o.Operation, o.Dimension, o.Rate.Events, o.Rate.Per))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, o := range overrides {
		op, dim := Operation(o.Operation), Dimension(o.Dimension)
		if l[op] == nil {
			l[op] = map[Dimension]Rate{}
		}
		if o.Rate.Events == 0 {
			delete(l[op], dim)
			continue
		}
		l[op][dim] = o.Rate
	}
	return nil
}

func list[T ~string](names []T) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ", ")
}

// DefaultIPv6Prefix is how many leading bits of an IPv6 address per-address
// limits count by: a subscriber is usually given a whole /64 (RFC 6177), so
// counting single addresses would give each one 2^64 buckets.
const DefaultIPv6Prefix = 64

// throttle applies RateLimits through a Limiter.
type throttle struct {
	limiter Limiter
	limits  RateLimits
	// ipv6Prefix is the prefix length IPv6 clients are grouped by.
	ipv6Prefix int
}

// address is what per-address limits count a client address as: an IPv4
// address (IPv4-mapped IPv6 ones included), or the IPv6 prefix around an
// IPv6 one, its zone dropped. Every peer counts, loopback included: a
// local proxy's clients are told apart through KEYCARD_TRUSTED_PROXIES, not
// by exempting the proxy. What is not an address at all (a Unix socket
// peer) counts as itself.
func (l *throttle) address(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	bits := l.ipv6Prefix
	if bits <= 0 || bits > 128 {
		bits = DefaultIPv6Prefix
	}
	prefix, _ := addr.Prefix(bits)
	return prefix.String()
}

// taken remembers which buckets an attempt spent, so they can be refunded.
type taken []struct {
	key  string
	rate Rate
}

// take spends one token of op for each dimension keys gives a value (a
// client IP, a username key, a user id); dimensions op has no limit for are
// skipped. If any bucket is empty, the tokens already spent are given back
// and a RATE_LIMITED error says when to retry.
func (l *throttle) take(ctx context.Context, op Operation, keys map[Dimension]string) (taken, error) {
	if l == nil || l.limiter == nil {
		return nil, nil
	}
	var spent taken
	for dim, value := range keys {
		rate, limited := l.limits[op][dim]
		if !limited || value == "" {
			continue
		}
		if dim == PerIP {
			value = l.address(value)
		}
		key := string(op) + ":" + string(dim) + ":" + value
		ok, retryAfter, err := l.limiter.Take(ctx, key, rate)
		if err != nil {
			// The limiters fall back rather than fail; should one fail
			// anyway, an outage of the limiter is not an outage of login.
			continue
		}
		if !ok {
			l.refund(ctx, spent)
			return nil, RateLimited(max(retryAfter, time.Second))
		}
		spent = append(spent, struct {
			key  string
			rate Rate
		}{key, rate})
	}
	return spent, nil
}

// refund gives back what take spent. Best effort: a failed refund only
// makes the limit a little stricter.
func (l *throttle) refund(ctx context.Context, spent taken) {
	for _, s := range spent {
		_ = l.limiter.Refund(ctx, s.key, s.rate)
	}
}

// limit spends rate-limit tokens for one attempt at op, and logs the first
// refusal of a burst at WARN.
func (s *Service) limit(ctx context.Context, op Operation, keys map[Dimension]string) (taken, error) {
	spent, err := s.limits.take(ctx, op, keys)
	if err != nil {
		s.observe.RateLimited(op)
		if s.limited.hit(string(op)+":"+keys[PerIP], s.now()) == 1 {
			s.log.WarnContext(ctx, "rate limit reached", "operation", op, "ip", keys[PerIP], "user_id", keys[PerUser])
		}
	}
	return spent, err
}
