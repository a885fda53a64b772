package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what a client costs the server before it has proved who it
// is: Slack and GitHub sign their requests, and the signature can only be
// checked once the whole body is in. The zero value uses the defaults.
type Limits struct {
	// BodyBudget is how many bytes of request bodies the unauthenticated
	// routes (Slack, the GitHub webhook) may hold at once, across the
	// process (default 64 MiB: two of GitHub's largest deliveries, or
	// hundreds of ordinary ones). A request is charged its Content-Length,
	// or its route's limit when it has none, from before its body is read
	// until it is answered; one that does not fit is answered 503 with
	// Retry-After at once, unread. Memory: while attackers keep the budget
	// full, RSS stays under about RSS at rest plus twice the budget (Go's
	// collector lets the heap grow to twice what is live); see
	// server/bodyload.
	BodyBudget int64
	// ReadTimeout is how long a client has to send a whole request,
	// headers and body (default 20s). GitHub gives up on a delivery after
	// 10 s and Slack after 3 s, so a sender that needs longer has already
	// failed; a body trickled in is cut at this point.
	ReadTimeout time.Duration
	// MaxConnections caps the connections open at once (default 1024);
	// more wait to be accepted.
	MaxConnections int
}

// The defaults of Limits.
const (
	DefaultBodyBudget     = 64 << 20
	DefaultReadTimeout    = 20 * time.Second
	DefaultMaxConnections = 1024
)

const (
	// readHeaderTimeout is how long a client has to send its headers.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes a kept-alive connection with no request: above the
	// 60 s idle timeout of common load balancers, so that they, not the
	// server, close the connections they pool.
	idleTimeout = 90 * time.Second
	// maxHeaderBytes: Slack and GitHub send a few KB of headers; this
	// leaves room for proxies' and API clients' (Go's default is 1 MB).
	maxHeaderBytes = 64 << 10
	// retryAfter is what a request refused for the budget is told to wait.
	retryAfter = 5 * time.Second
)

func (l Limits) bodyBudget() int64 {
	if l.BodyBudget > 0 {
		return l.BodyBudget
	}
	return DefaultBodyBudget
}

func (l Limits) readTimeout() time.Duration {
	if l.ReadTimeout > 0 {
		return l.ReadTimeout
	}
	return DefaultReadTimeout
}

func (l Limits) maxConnections() int {
	if l.MaxConnections > 0 {
		return l.MaxConnections
	}
	return DefaultMaxConnections
}

// HTTPServer returns the http.Server of `clustro serve` for h, with l's
// timeouts and header cap.
func (l Limits) HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(readHeaderTimeout, l.readTimeout()),
		ReadTimeout:       l.readTimeout(),
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// Listener caps the connections ln lets in at l.MaxConnections.
func (l Limits) Listener(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, l.maxConnections())
}

// budget counts the bytes of unauthenticated bodies being held.
type budget struct {
	mu        sync.Mutex
	used, max int64
}

func newBudget(max int64) *budget { return &budget{max: max} }

// reserve takes n bytes if they fit, and reports whether they did.
func (b *budget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.max-b.used {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// limitBody bounds the bodies of an unauthenticated route: a Content-Length
// over limit is answered 413 unread, a body without one is cut at limit,
// and the body's bytes (its Content-Length, or limit when it has none) are
// taken from the budget until the request is answered; when they do not
// fit, the request is answered 503 with Retry-After at once, unread and
// not queued. A refused request's connection is closed, so its body is
// never drained.
func limitBody(b *budget, limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				refuseUnread(w)
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
					"error": fmt.Sprintf("body of %d bytes is over this route's limit of %d", r.ContentLength, limit)})
				return
			}
			charge := r.ContentLength
			if charge < 0 {
				charge = limit
			}
			if !b.reserve(charge) {
				logger(r.Context()).Warn().Int64("bytes", charge).Int64("budget", b.max).
					Msg("request refused: the budget for unauthenticated bodies is spent")
				refuseUnread(w)
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{
					"error": "too many request bodies in flight; retry later"})
				return
			}
			defer b.release(charge)
			r.Body = limitedBody{http.MaxBytesReader(w, r.Body, limit), w}
			next.ServeHTTP(w, r)
		})
	}
}

// limitedBody closes the connection of a body cut at its route's limit
// (http.MaxBytesReader does so only when given the server's own
// ResponseWriter, not a middleware's).
type limitedBody struct {
	io.ReadCloser
	w http.ResponseWriter
}

func (b limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		refuseUnread(b.w)
	}
	return n, err
}

// refuseUnread closes the connection once the answer is written, without
// reading what is left of the body (the server would otherwise drain up
// to 256 KB of it, waiting on a slow client until the read timeout).
func refuseUnread(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
}
