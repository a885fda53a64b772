package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot"
	"github.com/clustropg/clustro/gitops"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// reader is an integration that reads the whole body, as Slack's and
// GitHub's signature checks do, and counts the requests it was given.
type reader struct {
	calls atomic.Int32
	// started receives each request's Content-Length once the handler runs.
	started chan int64
}

func (h *reader) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	if h.started != nil {
		h.started <- r.ContentLength
	}
	if _, err := io.ReadAll(r.Body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// limitedServer runs the HTTP surface behind a real listener and
// http.Server built from l, with h serving Slack and GitHub.
func limitedServer(t *testing.T, l Limits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.HTTPServer(New(Deps{Log: zerolog.Nop(), Store: pinger{}, Registry: prometheus.NewRegistry(),
		Slack:  Integration{Name: "slack", Handler: h, MaxBody: bot.MaxBody},
		GitHub: Integration{Name: "github", Handler: h, MaxBody: gitops.MaxPayload}, API: Integration{Name: "api", Missing: "api.tokens"}, Limits: l}))
	go srv.Serve(l.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// post opens a connection, sends a POST's headers declaring length (-1:
// chunked) and body, and leaves the connection open.
func post(t *testing.T, addr, path string, length int64, body string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	framing := fmt.Sprintf("Content-Length: %d", length)
	if length < 0 {
		framing = "Transfer-Encoding: chunked"
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: clustro\r\nContent-Type: application/json\r\n%s\r\n\r\n%s", path, framing, body)
	return conn
}

// answer reads the response on conn.
func answer(t *testing.T, conn net.Conn) (*http.Response, *bufio.Reader) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, br
}

// closed reports whether the server closed the connection after its
// answer (within a generous bound that only a hang reaches).
func closed(br *bufio.Reader) bool {
	_, err := br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestBodyLimitsPerRoute: a Content-Length over what the route's sender
// can send is answered 413 without the integration seeing it, and the
// connection is closed rather than the body drained.
func TestBodyLimitsPerRoute(t *testing.T) {
	h := &reader{}
	addr := limitedServer(t, Limits{}, h)
	tests := []struct {
		name   string
		path   string
		length int64
		want   int
	}{
		{"GitHub's 25 MB cap and a byte", "/webhooks/github", 25<<20 + 1, http.StatusRequestEntityTooLarge},
		{"a Slack command of 1 MiB and a byte", "/slack/commands", 1<<20 + 1, http.StatusRequestEntityTooLarge},
		{"a Slack event of 1 MiB and a byte", "/slack/events", 1<<20 + 1, http.StatusRequestEntityTooLarge},
		{"an interaction of 1 MiB and a byte", "/slack/interactions", 1<<20 + 1, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, br := answer(t, post(t, addr, tc.path, tc.length, "{"))
			if resp.StatusCode != tc.want || !closed(br) {
				t.Errorf("status %d, connection left open; want %d and closed", resp.StatusCode, tc.want)
			}
		})
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("the integration saw %d refused requests", n)
	}

	// Without a Content-Length, the body is cut at the route's limit.
	conn := post(t, addr, "/slack/events", -1, "")
	chunk := strings.Repeat("x", 64<<10)
	go func() {
		for range 20 { // 1.25 MiB
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		io.WriteString(conn, "0\r\n\r\n")
	}()
	if resp, br := answer(t, conn); resp.StatusCode != http.StatusRequestEntityTooLarge || !closed(br) {
		t.Errorf("chunked Slack body of 1.25 MiB: status %d, want 413 and the connection closed", resp.StatusCode)
	}
}

// TestBodyBudget: while bodies that fill the budget are held, another
// request is answered 503 with Retry-After at once, is not queued (the
// integration never sees it) and its connection is closed; once the held
// ones are answered, the budget is free again.
func TestBodyBudget(t *testing.T) {
	h := &reader{started: make(chan int64, 10)}
	addr := limitedServer(t, Limits{BodyBudget: 30 << 20}, h)

	// 24 MiB declared, a byte sent: the integration holds it, reading.
	held := post(t, addr, "/webhooks/github", 24<<20, "{")
	<-h.started
	tests := []struct {
		name   string
		path   string
		length int64
	}{
		{"another 24 MiB delivery", "/webhooks/github", 24 << 20},
		{"a 7 MiB delivery", "/webhooks/github", 7 << 20},
		{"a chunked delivery, charged GitHub's 25 MB", "/webhooks/github", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, br := answer(t, post(t, addr, tc.path, tc.length, "{"))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !closed(br) {
				t.Errorf("status %d, Retry-After %q; want 503, a Retry-After and the connection closed",
					resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
	// What still fits is served: a Slack command and a 5 MiB delivery.
	for _, tc := range []struct {
		path   string
		length int
	}{{"/slack/commands", 2 << 10}, {"/webhooks/github", 5 << 20}} {
		conn := post(t, addr, tc.path, int64(tc.length), strings.Repeat("x", tc.length))
		<-h.started
		if resp, _ := answer(t, conn); resp.StatusCode != http.StatusAccepted {
			t.Errorf("%s, %d bytes, within the budget: status %d, want 202", tc.path, tc.length, resp.StatusCode)
		}
	}
	if n := h.calls.Load(); n != 3 {
		t.Errorf("the integration saw %d requests, want 3 (the held one and two that fit)", n)
	}
	// The held delivery ends (its client goes away) and its bytes come
	// back: another 24 MiB delivery is let in.
	held.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn := post(t, addr, "/webhooks/github", 24<<20, "{")
		refused := make(chan int, 1)
		go func() {
			if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				refused <- resp.StatusCode
			}
		}()
		select {
		case <-h.started:
			return
		case code := <-refused:
			if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("after the held delivery ended: status %d", code)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestTrickleIsCut: a body sent a byte at a time is cut at the read
// timeout, whatever is left to send, and its connection closed.
func TestTrickleIsCut(t *testing.T) {
	h := &reader{}
	addr := limitedServer(t, Limits{ReadTimeout: time.Second}, h)
	for _, path := range []string{"/webhooks/github", "/slack/events", "/api/v1/databases"} {
		t.Run(path, func(t *testing.T) {
			conn := post(t, addr, path, 1000, "")
			stop := make(chan struct{})
			defer close(stop)
			go func() { // 1000 bytes at one per 100 ms would take 100 s
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}()
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the trickling connection was still open after 20 s")
			}
		})
	}
}

// TestMaxConnections: past the cap, a new connection waits until one of
// the open ones is closed.
func TestMaxConnections(t *testing.T) {
	addr := limitedServer(t, Limits{MaxConnections: 2}, &reader{})
	var open []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		open = append(open, conn)
	}
	get := func(timeout time.Duration) error {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(300 * time.Millisecond); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	open[0].Close()
	if err := get(20 * time.Second); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
}

// TestHTTPServerSettings: the http.Server carries the limits, the zero
// Limits its defaults.
func TestHTTPServerSettings(t *testing.T) {
	tests := []struct {
		name                     string
		limits                   Limits
		readTimeout, headerTimer time.Duration
	}{
		{"defaults", Limits{}, 20 * time.Second, 10 * time.Second},
		{"a longer read timeout", Limits{ReadTimeout: time.Minute}, time.Minute, 10 * time.Second},
		{"a read timeout under the header timeout", Limits{ReadTimeout: 5 * time.Second}, 5 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.limits.HTTPServer(http.NotFoundHandler())
			if srv.ReadTimeout != tc.readTimeout || srv.ReadHeaderTimeout != tc.headerTimer ||
				srv.IdleTimeout != 90*time.Second || srv.MaxHeaderBytes != 64<<10 {
				t.Errorf("ReadTimeout %s, ReadHeaderTimeout %s, IdleTimeout %s, MaxHeaderBytes %d",
					srv.ReadTimeout, srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
			}
		})
	}
}

// TestBudgetRefusalIsJSONAndLogged: the refusal reads like the server's
// errors, and the budget refusal is logged with the request id.
func TestBudgetRefusalIsJSONAndLogged(t *testing.T) {
	var logs strings.Builder
	h := New(Deps{Log: zerolog.New(&logs), Store: pinger{}, Registry: prometheus.NewRegistry(),
		GitHub: Integration{Name: "github", Handler: &reader{}, MaxBody: gitops.MaxPayload}, Limits: Limits{BodyBudget: 1}})
	r := httptest.NewRequest(http.MethodPost, "/webhooks/github", strings.NewReader("{}"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"error"`) ||
		!strings.Contains(logs.String(), "budget for unauthenticated bodies") || !strings.Contains(logs.String(), w.Header().Get("X-Request-Id")) {
		t.Errorf("%d %s\n%s", w.Code, w.Body, logs.String())
	}
}
