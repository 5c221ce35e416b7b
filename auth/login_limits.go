package auth

import (
	"context"
	"strings"
)

// How login is rate-limited so that nobody can lock an account's owner
// out, while a guesser, on one address or spread over thousands, stays
// bounded. Three buckets (numbers in DefaultRateLimits):
//
//   - per (username, address): the tight limit on one guesser at one
//     account. An attacker elsewhere never spends the owner's pair.
//   - per address: one address spraying many accounts.
//   - per username, every address together: the ceiling on a distributed
//     guesser. Reaching it does not refuse everyone: a client at an address
//     the user already has a session from (opened or last refreshed there;
//     sessions are kept until the janitor removes them) still gets its
//     password checked, limited by its own (username, address) bucket.
//     Other addresses are refused until the ceiling refills; they are the
//     ones a distributed guesser has, and the price is that the owner on a
//     new network waits out an attack in progress.
//
// Addresses are compared as the limits count them (IPv6 by prefix, see
// throttle.address). The check of known addresses runs for every possible
// username whether or not it exists, so its cost does not tell them apart.

// maxKnownAddresses bounds the session addresses one ceiling check reads.
const maxKnownAddresses = 200

// limitLogin spends the rate-limit tokens of one login attempt for the
// typed username (usernameKey is its canonical form, possible whether it
// could name an account at all) and returns what to refund on success.
func (s *Service) limitLogin(ctx context.Context, username, usernameKey string, possible bool, client Client) (taken, error) {
	// Names that cannot exist are limited too, so the limit does not tell
	// them apart.
	name := clip(strings.ToLower(username), 64)
	spent, err := s.limit(ctx, OpLogin, map[Dimension]string{
		PerIP:         client.IP,
		PerUsernameIP: name + " " + s.limits.address(client.IP),
	})
	if err != nil {
		return nil, err
	}
	ceiling, refused := s.limits.take(ctx, OpLogin, map[Dimension]string{PerUsername: name})
	if refused == nil {
		return append(spent, ceiling...), nil
	}
	if s.limited.hit("login ceiling:"+name, s.now()) == 1 {
		s.log.WarnContext(ctx, "login attempts for one username reached the ceiling: only addresses it has sessions from may sign in",
			"username", usernameKey, "ip", client.IP)
	}
	if possible {
		known, err := s.knownAddress(ctx, usernameKey, client)
		if err != nil {
			s.limits.refund(ctx, spent)
			return nil, err
		}
		if known {
			return spent, nil
		}
	}
	// The refused attempt keeps its per-address tokens: it cost a query,
	// and a guesser must not retry for free.
	s.observe.RateLimited(OpLogin)
	return nil, refused
}

// knownAddress reports whether the user named by usernameKey has a session
// from the client's address, as per-address limits count addresses.
func (s *Service) knownAddress(ctx context.Context, usernameKey string, client Client) (bool, error) {
	ips, err := s.store.SessionIPs(ctx, usernameKey, maxKnownAddresses)
	if err != nil {
		return false, err
	}
	want := s.limits.address(client.IP)
	for _, ip := range ips {
		if s.limits.address(ip) == want {
			return true, nil
		}
	}
	return false, nil
}
