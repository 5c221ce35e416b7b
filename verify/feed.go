package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxPollWait keeps the long poll under keycard's limit of 30 s.
	maxPollWait = 25 * time.Second
	// pollSlack is how much longer than the requested wait a poll may
	// take before it is abandoned.
	pollSlack = 10 * time.Second
	// minPollGap paces a feed that answers "nothing new" at once instead
	// of holding the poll, so it is asked at most a few times a second.
	minPollGap = 250 * time.Millisecond
	// backoffBase is the first pause after a failed poll; it doubles with
	// each failure up to half of MaxStaleness.
	backoffBase = 100 * time.Millisecond
	// sweepInterval is how often entries past their exp are dropped.
	sweepInterval = 30 * time.Second
	// missingExpHorizon is how long an entry that lacks exp is kept: a
	// malformed entry still refuses what it names rather than nothing.
	missingExpHorizon = 24 * time.Hour
)

// follower follows keycard's revocation feed (GET revocation_feed_endpoint
// ?after=CURSOR&wait=SECONDS) into revocations. One goroutine polls; Verify
// only reads.
type follower struct {
	endpoint     *url.URL
	credential   string
	client       *http.Client
	now          func() time.Time
	leeway       time.Duration
	maxStaleness time.Duration
	// wait is the long poll asked for: short enough that an idle, healthy
	// feed answers well within maxStaleness.
	wait       time.Duration
	backoffMax time.Duration
	log        *slog.Logger

	revocations *revocations
	// freshAt is when (Options.Now, unix ns) the feed last answered in
	// full; zero before the first answer and once nobody follows.
	freshAt atomic.Int64

	mu        sync.Mutex
	cursor    string
	lastErr   error
	lastSweep time.Time
}

func newFollower(endpoint string, o Options) (*follower, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("verify: revocation_feed_endpoint: %w", err)
	}
	wait := min(o.MaxStaleness/2, maxPollWait)
	if o.HTTPClient.Timeout > 0 {
		wait = min(wait, o.HTTPClient.Timeout/2)
	}
	return &follower{
		endpoint:     u,
		credential:   o.Credential,
		client:       o.HTTPClient,
		now:          o.Now,
		leeway:       o.Leeway,
		maxStaleness: o.MaxStaleness,
		wait:         wait.Truncate(time.Second),
		backoffMax:   min(max(o.MaxStaleness/2, time.Second), 30*time.Second),
		log:          o.Logger,
		revocations:  newRevocations(),
	}, nil
}

// check refuses a token the feed revoked, and every token once the feed
// has been silent too long (fail closed: a revocation may be waiting).
func (f *follower) check(t *verifiedToken, now time.Time) error {
	if err := f.revocations.check(t); err != nil {
		return err
	}
	if now.UnixNano()-f.freshAt.Load() > int64(f.maxStaleness) {
		return ErrFeedStale
	}
	return nil
}

// run polls until ctx ends, backing off with jitter while the feed fails.
func (f *follower) run(ctx context.Context) {
	// Once nobody follows the feed, nothing it says reaches Verify.
	defer f.freshAt.Store(0)
	failures := 0
	for ctx.Err() == nil {
		started := time.Now()
		entries, err := f.poll(ctx, f.wait)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			// The 1st, 2nd, 4th, 8th… failure: an outage of an hour
			// is a dozen lines, not seven hundred.
			if failures&(failures-1) == 0 {
				f.log.Warn("verify: revocation feed poll failed; tokens are refused once it has failed for longer than MaxStaleness",
					"err", err, "failures", failures, "max_staleness", f.maxStaleness)
			}
			pause(ctx, f.backoff(failures))
		default:
			if failures > 0 {
				f.log.Info("verify: revocation feed answers again", "failures", failures)
				failures = 0
			}
			if gap := minPollGap - time.Since(started); entries == 0 && gap > 0 {
				pause(ctx, gap)
			}
		}
	}
}

// backoff is the pause after the n-th failure in a row: exponential,
// capped, with jitter so services cut off together do not return in step.
func (f *follower) backoff(n int) time.Duration {
	d := f.backoffMax
	if n < 30 {
		d = min(backoffBase<<(n-1), f.backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// poll asks for everything after the cursor, applies it and moves the
// cursor. It returns how many entries came.
func (f *follower) poll(ctx context.Context, wait time.Duration) (int, error) {
	entries, err := f.fetch(ctx, wait)
	f.mu.Lock()
	f.lastErr = err
	f.mu.Unlock()
	return entries, err
}

func (f *follower) fetch(ctx context.Context, wait time.Duration) (int, error) {
	f.mu.Lock()
	cursor := f.cursor
	f.mu.Unlock()
	u := *f.endpoint
	q := u.Query()
	if cursor != "" {
		q.Set("after", cursor)
	}
	q.Set("wait", strconv.Itoa(int(wait/time.Second)))
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(ctx, wait+pollSlack)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+f.credential)
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return 0, fmt.Errorf("status %d: keycard refused the credential (Options.Credential must be its KEYCARD_INTROSPECTION_TOKEN)", resp.StatusCode)
	case http.StatusNotFound:
		return 0, errors.New("status 404: keycard serves no revocation feed (is KEYCARD_INTROSPECTION_TOKEN set on it?)")
	case http.StatusBadRequest:
		// The wait asked for is always valid, so it is the cursor:
		// keycard's log was replaced or its cursors changed form.
		// Asking again with it would fail forever; a snapshot of
		// everything in force is safe to apply over what is held.
		f.mu.Lock()
		f.cursor = ""
		f.mu.Unlock()
		return 0, errors.New("status 400: keycard refused the cursor; starting over from a snapshot")
	default:
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	now := f.now()
	next, entries, err := f.read(resp.Body, now)
	if err != nil {
		// Entries applied so far stay applied (they only refuse more);
		// the cursor stays, so the next poll has them sent again.
		return entries, fmt.Errorf("reading the feed: %w", err)
	}
	f.mu.Lock()
	f.cursor = next
	sweep := now.Sub(f.lastSweep) >= sweepInterval
	if sweep {
		f.lastSweep = now
	}
	f.mu.Unlock()
	if sweep {
		f.revocations.forget(now.Add(-f.leeway))
	}
	f.freshAt.Store(f.now().UnixNano())
	return entries, nil
}

// feedEntry is one revocation as the feed sends it. Times are numbers of
// seconds; read as floats so that a fraction cannot fail the whole answer.
type feedEntry struct {
	Type      string  `json:"type"`
	SID       string  `json:"sid"`
	JTI       string  `json:"jti"`
	Sub       string  `json:"sub"`
	IatBefore float64 `json:"iat_before"`
	Exp       float64 `json:"exp"`
}

// read decodes {"cursor": ..., "revocations": [...]} entry by entry,
// applying each as it comes, so a large answer never sits in memory whole.
func (f *follower) read(body io.Reader, now time.Time) (cursor string, entries int, err error) {
	dec := json.NewDecoder(body)
	if err := expectDelim(dec, '{'); err != nil {
		return "", 0, err
	}
	haveCursor, skipped := false, 0
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return "", entries, err
		}
		switch name {
		case "cursor":
			if err := dec.Decode(&cursor); err != nil {
				return "", entries, fmt.Errorf("cursor: %w", err)
			}
			haveCursor = true
		case "revocations":
			tok, err := dec.Token()
			if err != nil {
				return "", entries, err
			}
			if tok == nil { // null: nothing revoked
				continue
			}
			if tok != json.Delim('[') {
				return "", entries, errors.New("revocations is not an array")
			}
			for dec.More() {
				var e feedEntry
				if err := dec.Decode(&e); err != nil {
					return "", entries, fmt.Errorf("revocation entry: %w", err)
				}
				entries++
				if !f.apply(e, now) {
					skipped++
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return "", entries, err
			}
		default:
			var ignored json.RawMessage
			if err := dec.Decode(&ignored); err != nil {
				return "", entries, err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return "", entries, err
	}
	if skipped > 0 {
		f.log.Warn("verify: revocation feed entries not understood were skipped", "skipped", skipped)
	}
	if !haveCursor {
		return "", entries, errors.New("answer has no cursor")
	}
	return cursor, entries, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("answer is not the feed's JSON: want %v, got %v", want, tok)
	}
	return nil
}

// apply records e; false means it named nothing this verifier can refuse
// (an unknown type, a missing id).
func (f *follower) apply(e feedEntry, now time.Time) bool {
	var kind revocationKind
	var id string
	var rev revocation
	switch e.Type {
	case "session":
		kind, id = revokedSession, e.SID
	case "token":
		kind, id = revokedToken, e.JTI
	case "user":
		if e.IatBefore <= 0 {
			return false
		}
		kind, id = revokedUser, e.Sub
		// Rounding up refuses a fraction of a second more, never less.
		rev.iatBefore = int64(math.Ceil(e.IatBefore))
	default:
		return false
	}
	if id == "" {
		return false
	}
	key := keyOf(kind, id)
	rev.exp = int64(math.Ceil(e.Exp))
	if e.Exp <= 0 {
		rev.exp = now.Add(missingExpHorizon).Unix()
	}
	if rev.exp <= now.Add(-f.leeway).Unix() {
		return true // every token it covers has expired already
	}
	f.revocations.add(key, rev)
	return true
}

// status reports the follower's progress for FeedStatus.
func (f *follower) status(now time.Time) FeedStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := FeedStatus{Following: true, Cursor: f.cursor, Revocations: f.revocations.len(), Err: f.lastErr}
	if at := f.freshAt.Load(); at != 0 {
		s.LastSuccess = time.Unix(0, at)
	}
	s.Stale = now.UnixNano()-f.freshAt.Load() > int64(f.maxStaleness)
	return s
}
