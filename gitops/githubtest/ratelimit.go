package githubtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rate limits and conditional requests, as GitHub answers them.
//
// Every API call (a /repos/... route, once authenticated) counts against
// the budget of Options.RateLimit calls per Options.RateLimitWindow and
// carries X-RateLimit-Limit, -Remaining, -Used, -Reset and -Resource. Once
// the budget is used up, calls answer GitHub's 403 "API rate limit
// exceeded" with X-RateLimit-Remaining: 0 until the window resets. A GET
// answered 200 carries an ETag; the same GET with If-None-Match of that
// ETag answers 304 Not Modified without a body, and, as on GitHub, a 304
// does not count against the budget. SecondaryRateLimit makes the next
// calls answer GitHub's secondary rate limit with Retry-After.

// Documentation URLs GitHub gives with its rate-limit answers; go-github
// recognises the secondary one by its suffix.
const (
	docsPrimaryLimit   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
	docsSecondaryLimit = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

// RateLimit is the API budget as the emulator counts it.
type RateLimit struct {
	Limit, Remaining, Used int
	// Reset is when the current window ends and the budget is whole again.
	Reset time.Time
}

// secondaryLimit is one call to refuse with a secondary rate limit.
type secondaryLimit struct {
	status     int
	retryAfter time.Duration
}

// SecondaryRateLimit makes the next calls answer GitHub's secondary rate
// limit (status 403 or 429, with Retry-After: retryAfter rounded up to
// seconds), one call per value of calls. Those calls do nothing and do not
// count against the budget.
func (s *Server) SecondaryRateLimit(status int, retryAfter time.Duration, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range calls {
		s.secondary = append(s.secondary, secondaryLimit{status: status, retryAfter: retryAfter})
	}
}

// RateLimit returns the budget as it stands.
func (s *Server) RateLimit() RateLimit {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollWindow()
	return s.rateLimit()
}

// Calls counts the requests received for method and path (unescaped, as
// Request.Path), whatever their query and answer.
func (s *Server) Calls(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// rollWindow starts a new window once the current one is over. Callers
// hold s.mu.
func (s *Server) rollWindow() {
	if now := s.now(); s.rateReset.IsZero() || !now.Before(s.rateReset) {
		s.rateUsed, s.rateReset = 0, now.Add(s.opts.RateLimitWindow)
	}
}

// rateLimit is the budget now. Callers hold s.mu.
func (s *Server) rateLimit() RateLimit {
	return RateLimit{Limit: s.opts.RateLimit, Remaining: max(0, s.opts.RateLimit-s.rateUsed), Used: s.rateUsed, Reset: s.rateReset}
}

func setRateHeaders(h http.Header, rl RateLimit) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(rl.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rl.Remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(rl.Used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(rl.Reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// limited counts an API call against the budget and answers it: GitHub's
// rate-limit errors when the budget is spent or a secondary limit was
// asked for, 304 for a GET whose If-None-Match is the answer's ETag.
func (s *Server) limited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.rollWindow()
		if len(s.secondary) > 0 {
			sec := s.secondary[0]
			s.secondary = s.secondary[1:]
			setRateHeaders(w.Header(), s.rateLimit())
			s.mu.Unlock()
			secs := int((sec.retryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, r, newError(sec.status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."), docsSecondaryLimit)
			return
		}
		if s.rateUsed >= s.opts.RateLimit {
			setRateHeaders(w.Header(), s.rateLimit())
			s.mu.Unlock()
			writeError(w, r, newError(http.StatusForbidden, fmt.Sprintf("API rate limit exceeded for user ID %d.", userIDBase+1)), docsPrimaryLimit)
			return
		}
		s.rateUsed++ // reserved now, so that concurrent calls cannot overspend
		s.mu.Unlock()

		buf := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(buf, r)
		status := buf.status
		if status == 0 {
			status = http.StatusOK
		}
		etag := ""
		if r.Method == http.MethodGet && status == http.StatusOK {
			sum := sha256.Sum256(buf.body.Bytes())
			etag = `W/"` + hex.EncodeToString(sum[:]) + `"`
			if matchesETag(r.Header.Get("If-None-Match"), etag) {
				status = http.StatusNotModified
			}
		}
		s.mu.Lock()
		if status == http.StatusNotModified && s.rateUsed > 0 {
			s.rateUsed-- // GitHub does not count a 304
		}
		rl := s.rateLimit()
		s.mu.Unlock()

		h := buf.header
		setRateHeaders(h, rl)
		if etag != "" {
			h.Set("ETag", etag)
			h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
			h.Add("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		}
		if status == http.StatusNotModified {
			h.Del("Content-Type")
			h.Del("Link")
			buf.body.Reset()
		}
		buf.writeTo(w, status)
	})
}

// matchesETag reports whether an If-None-Match header names etag (weak
// comparison, as GitHub does; "*" matches anything).
func matchesETag(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	weak := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == weak {
			return true
		}
	}
	return false
}

// bufferedResponse holds a handler's answer until it is recorded and its
// ETag known.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// writeTo sends the held answer with status.
func (b *bufferedResponse) writeTo(w http.ResponseWriter, status int) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(status)
	if b.body.Len() > 0 {
		_, _ = w.Write(b.body.Bytes()) // the client went away: nothing left to tell it
	}
}
