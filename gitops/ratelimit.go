package gitops

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is GitHub's rate limit as its last answer reported it
// (X-RateLimit-Limit, -Remaining, -Used, -Reset and -Resource).
type Rate struct {
	Resource               string
	Limit, Remaining, Used int
	Reset                  time.Time
}

// RateLimitError is returned instead of calling GitHub when its rate
// limit would make the call wait longer than Options.MaxWait: the primary
// limit is spent until Until, or a secondary limit asked to retry after
// it. Nothing was done; the same call succeeds after Until. The pipeline
// treats it as a transient error.
type RateLimitError struct {
	Until     time.Time
	Secondary bool
}

func (e *RateLimitError) Error() string {
	kind := "rate limit is spent"
	if e.Secondary {
		kind = "secondary rate limit asks to wait"
	}
	return fmt.Sprintf("github: the %s until %s", kind, e.Until.UTC().Format(time.RFC3339))
}

// Defaults of the rate-limit handling.
const (
	// DefaultMaxWait is how long a call waits for a rate limit by default.
	DefaultMaxWait = time.Minute
	// secondaryWait is how long to wait after a secondary limit that gives
	// no Retry-After: GitHub says at least a minute.
	secondaryWait = time.Minute
	// resetSlack covers the clock difference with GitHub's X-RateLimit-Reset.
	resetSlack = time.Second
	// limitedRetries bounds how often one call is retried after a limit.
	limitedRetries = 3
)

// limiter is the client's transport: it makes calls wait while GitHub's
// rate limit is spent (X-RateLimit-Remaining 0, until X-RateLimit-Reset)
// or a secondary limit asked to wait (403 or 429 with Retry-After), retries
// a call GitHub refused for a limit, and returns *RateLimitError when the
// wait would be longer than maxWait. It reports the REST API's (core) Rate
// of every answer to observe.
type limiter struct {
	next    http.RoundTripper
	maxWait time.Duration
	observe func(Rate)
	now     func() time.Time

	mu        sync.Mutex
	until     time.Time // no call before this
	secondary bool      // until was set by a secondary limit
}

func newLimiter(next http.RoundTripper, maxWait time.Duration, observe func(Rate)) *limiter {
	return &limiter{next: next, maxWait: maxWait, observe: observe, now: time.Now}
}

func (l *limiter) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if err := l.wait(req.Context()); err != nil {
			return nil, err
		}
		resp, err := l.next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		rate, ok := parseRate(resp.Header)
		if ok && isCore(rate) && l.observe != nil {
			l.observe(rate)
		}
		until, secondary, limited := l.limitOf(resp, rate)
		if !limited {
			if ok && rate.Remaining == 0 && isCore(rate) {
				// The last call of the budget: the next ones wait here.
				// go-github would refuse them itself until Reset, without
				// waiting; it does not when it sees no Reset.
				l.block(rate.Reset.Add(resetSlack), false)
				resp.Header.Del("X-RateLimit-Reset")
			}
			return resp, nil
		}
		l.block(until, secondary)
		_, _ = io.Copy(io.Discard, resp.Body) // drained so that the connection is reused
		resp.Body.Close()
		if attempt >= limitedRetries || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return nil, &RateLimitError{Until: until, Secondary: secondary}
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// wait blocks until no limit is in force, or returns *RateLimitError if
// that is further away than maxWait, or ctx's error.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	until, secondary := l.until, l.secondary
	l.mu.Unlock()
	d := until.Sub(l.now())
	if d <= 0 {
		return nil
	}
	if d > l.maxWait {
		return &RateLimitError{Until: until, Secondary: secondary}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// block holds calls until until (a later limit in force is kept).
func (l *limiter) block(until time.Time, secondary bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.until) {
		l.until, l.secondary = until, secondary
	}
}

// maxRetryAfter bounds a Retry-After, in seconds (a day).
const maxRetryAfter = 24 * 60 * 60

// limitOf says whether resp refuses the call for a rate limit, and until
// when: a 403 or 429 with Retry-After or a secondary-limit message (a
// secondary limit), or with X-RateLimit-Remaining 0 (the primary limit).
// Any other 403 (a missing permission) is not a limit.
func (l *limiter) limitOf(resp *http.Response, rate Rate) (time.Time, bool, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return time.Time{}, false, false
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && secs >= 0 {
			secs = min(secs, maxRetryAfter) // a huge value must not overflow into "now"
			return l.now().Add(time.Duration(secs) * time.Second), true, true
		}
		if at, err := http.ParseTime(s); err == nil {
			return at, true, true
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" && !rate.Reset.IsZero() && isCore(rate) {
		return rate.Reset.Add(resetSlack), false, true
	}
	// Peek at the message, and put the body back for the caller.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err == nil && strings.Contains(strings.ToLower(string(body)), "secondary rate limit") {
		return l.now().Add(secondaryWait), true, true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return l.now().Add(secondaryWait), true, true
	}
	return time.Time{}, false, false
}

// rewind is req again, with a fresh copy of its body.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("github: replay %s %s after a rate limit: %w", req.Method, req.URL.Path, err)
		}
		r.Body = body
	}
	return r, nil
}

// parseRate reads the X-RateLimit-* headers; ok is false without them.
func parseRate(h http.Header) (Rate, bool) {
	limit, err := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	if err != nil {
		return Rate{}, false
	}
	r := Rate{Resource: h.Get("X-RateLimit-Resource"), Limit: limit}
	r.Remaining, _ = strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	r.Used, _ = strconv.Atoi(h.Get("X-RateLimit-Used"))
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && reset > 0 {
		r.Reset = time.Unix(reset, 0)
	}
	return r, true
}

// isCore reports whether r is the REST API's budget, the one the client
// spends.
func isCore(r Rate) bool { return r.Resource == "" || r.Resource == "core" }
