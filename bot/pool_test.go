package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/request"
)

// slowResponseURL is a response_url that holds every answer until release
// is called, counting how many it holds at once.
type slowResponseURL struct {
	*httptest.Server
	release func()

	mu          sync.Mutex
	held, most  int
	texts       []string
	arrived     chan struct{} // one value per answer that arrives
	releaseOnce sync.Once
}

func newSlowResponseURL(t *testing.T) *slowResponseURL {
	s := &slowResponseURL{arrived: make(chan struct{}, 1000)}
	gate := make(chan struct{})
	s.release = func() { s.releaseOnce.Do(func() { close(gate) }) }
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Text string }
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &m)
		s.mu.Lock()
		s.held++
		s.most = max(s.most, s.held)
		s.mu.Unlock()
		s.arrived <- struct{}{}
		<-gate
		s.mu.Lock()
		s.held--
		s.texts = append(s.texts, m.Text)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(func() { s.release(); s.Close() })
	return s
}

// TestCommandsAreAnsweredByABoundedPool: with a pool of 2 workers and a
// queue of 3, and a response_url that does not answer, 200 /pg list
// commands put at most 2 answers in flight and at most 5 admitted; every
// other command is answered at once, in its acknowledgement, "busy". The
// bot's goroutines do not grow with the commands (one per command used
// to), and once Slack answers, every admitted command gets its list.
func TestCommandsAreAnsweredByABoundedPool(t *testing.T) {
	const workers, queue, commands = 2, 3, 200
	h := newHarness(t)
	h.workers, h.queue = workers, queue
	h.restart()
	h.readyDatabase("dev", "billing", "invoices", alice, request.Ready)
	slow := newSlowResponseURL(t)

	before := runtime.NumGoroutine()
	var busy, empty int
	for i := range commands {
		r, err := h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: general, Text: "list",
			ResponseURL: fmt.Sprintf("%s/commands/%d", slow.URL, i)})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r) // no settle: the answers are held
		switch got := ackText(t, w); got {
		case "":
			empty++
		case busyText:
			busy++
		default:
			t.Fatalf("command %d acknowledged with %q", i, got)
		}
	}
	if empty != workers+queue || busy != commands-workers-queue {
		t.Errorf("%d commands taken and %d answered busy; want %d and %d", empty, busy, workers+queue, commands-workers-queue)
	}
	for range workers { // the workers' answers reach Slack, and wait there
		<-slow.arrived
	}
	// Per answer in flight: a worker, and the client's and the server's
	// connection goroutines; the rest is slack for the runtime. The
	// store's transactions leave goroutines that end a moment after them:
	// the count must come under the bound, not be under it at once.
	bound := before + workers*6 + 20
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > bound; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after %d commands (%d before): the bot spawns per command\n%s",
				runtime.NumGoroutine(), commands, before, buf[:runtime.Stack(buf, true)])
		}
	}

	slow.release()
	h.bot.settle()
	slow.mu.Lock()
	defer slow.mu.Unlock()
	if slow.most > workers {
		t.Errorf("%d answers in flight at once; the pool has %d workers", slow.most, workers)
	}
	if len(slow.texts) != workers+queue {
		t.Fatalf("%d answers delivered, want one per command taken (%d)", len(slow.texts), workers+queue)
	}
	for _, txt := range slow.texts {
		mustContain(t, "an answer", txt, "dev/billing/invoices")
	}
}

// TestEveryCommandAnsweredUnderTheBound: in normal conditions (a pool of
// 2 and commands that do not all arrive at once) every command is
// answered, on its response_url.
func TestEveryCommandAnsweredUnderTheBound(t *testing.T) {
	h := newHarness(t)
	h.workers, h.queue = 2, 1
	h.restart()
	h.readyDatabase("dev", "billing", "invoices", alice, request.Ready)
	for range 20 {
		if got := ackText(t, h.command(alice, general, "status invoices")); got != "" {
			t.Fatalf("acknowledged with %q", got)
		}
	}
	rs := h.responses()
	if len(rs) != 20 {
		t.Fatalf("%d answers for 20 commands", len(rs))
	}
	for _, r := range rs {
		mustContain(t, "a status", r, "invoices")
	}
}

// TestPoolStopsWithTheBot: once Run's context is done the bot takes no
// more work (a command is answered busy), and Run returns after the work
// already taken.
func TestPoolStopsWithTheBot(t *testing.T) {
	h := newHarness(t)
	slow := newSlowResponseURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.bot.Run(ctx) }()

	r, err := h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: general, Text: "list", ResponseURL: slow.URL + "/commands/1"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	if got := ackText(t, w); got != "" {
		t.Fatalf("acknowledged with %q", got)
	}
	<-slow.arrived
	cancel()
	select {
	case <-ran:
		t.Fatal("Run returned while an answer was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	slow.release()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := ackText(t, h.command(alice, general, "list")); got != busyText {
		t.Errorf("a command after shutdown was acknowledged with %q, want busy", got)
	}
}

// TestPoolPanics: a task that panics is logged; the worker goes on.
func TestPoolPanics(t *testing.T) {
	p := newPool(1, 1, zerolog.Nop())
	p.try("boom", func(context.Context) error { panic("boom") })
	done := false
	p.try("after", func(context.Context) error { done = true; return errors.New("logged") })
	p.settle()
	if !done {
		t.Error("the task after a panic did not run")
	}
}

// TestPoolCloseCancelsAfterGrace: on shutdown a task that does not finish
// within the grace period has its context cancelled, and close returns.
func TestPoolCloseCancelsAfterGrace(t *testing.T) {
	p := newPool(1, 0, zerolog.Nop())
	started, cancelled := make(chan struct{}), make(chan error, 1)
	if !p.try("stuck", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return nil
	}) {
		t.Fatal("the pool took no task")
	}
	<-started
	p.close(10 * time.Millisecond)
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("the stuck task ended with %v, want its context cancelled", err)
	}
}
