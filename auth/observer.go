package auth

// Observer is told about events worth counting (metrics). Implementations
// must be cheap and safe for concurrent use.
type Observer interface {
	// Login reports a login attempt's result: "success", "failure" or
	// "rate_limited".
	Login(result string)
	// RefreshReuse reports a detected refresh-token reuse (theft).
	RefreshReuse()
	// Revoked reports n new revocation entries of kind.
	Revoked(kind RevocationKind, n int)
	// RateLimited reports an attempt refused by a rate limit.
	RateLimited(op Operation)
}

type nopObserver struct{}

func (nopObserver) Login(string)                {}
func (nopObserver) RefreshReuse()               {}
func (nopObserver) Revoked(RevocationKind, int) {}
func (nopObserver) RateLimited(Operation)       {}
