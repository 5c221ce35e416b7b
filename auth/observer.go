package auth

import "time"

// Observer is told about events worth counting (metrics) as they happen;
// Stats are the counters read on demand. Implementations
// must be cheap and safe for concurrent use.
type Observer interface {
	// Login reports a login attempt's result: "success", "failure",
	// "rate_limited", or "overloaded" (refused because the hash queue could
	// not serve it in time).
	Login(result string)
	// RefreshReuse reports a detected refresh-token reuse (theft).
	RefreshReuse()
	// Revoked reports n new revocation entries of kind.
	Revoked(kind RevocationKind, n int)
	// RateLimited reports an attempt refused by a rate limit.
	RateLimited(op Operation)
	// PasskeyLogin reports a finished passkey login's result: "success",
	// "failure" or "sign_count_regressed".
	PasskeyLogin(result string)
}

type nopObserver struct{}

func (nopObserver) Login(string)                {}
func (nopObserver) RefreshReuse()               {}
func (nopObserver) Revoked(RevocationKind, int) {}
func (nopObserver) RateLimited(Operation)       {}
func (nopObserver) PasskeyLogin(string)         {}

// Stats are counters for monitoring, read at scrape time.
type Stats struct {
	// PasswordHashes counts argon2id evaluations; PasswordQueue is how
	// many wait for a hashing slot now.
	PasswordHashes int64
	PasswordQueue  int64
	// RevokedEntries is the size of the in-memory revocation list.
	RevokedEntries int
	// RevocationSyncAge is how long ago the last successful revocation
	// sync started (by the service's clock); past the staleness bound
	// token checks fail closed. Negative before the first sync.
	RevocationSyncAge time.Duration
	// AuditDropped counts background audit events that could not be
	// written.
	AuditDropped int64
}

// Stats reports the service's counters.
func (s *Service) Stats() Stats {
	return Stats{
		PasswordHashes:    s.passwords.Computed(),
		PasswordQueue:     s.passwords.Waiting(),
		RevokedEntries:    s.revocations.Len(),
		RevocationSyncAge: s.revocations.SyncAge(),
		AuditDropped:      s.background.dropped.Load(),
	}
}
