package bot

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// The work that follows an acknowledgement (an answer on a response_url, a
// card, a note) runs on a pool, not on a goroutine of its own: at most
// Workers tasks run at once and at most Queue more wait, so a burst of
// commands costs a bounded number of goroutines, store connections and
// calls to Slack, and every accepted task starts within the time the
// workers take to go through one full queue.
//
// A slash command that finds the pool full is answered at once, in its
// acknowledgement, with a short ephemeral "busy, try again": the user
// learns it within Slack's 3 s, and nothing waits. A click or an event
// cannot be answered in its acknowledgement, so it waits for a place up to
// admitWait (inside Slack's 3 s) and is dropped, and logged, if none frees.
//
// Workers are started when there is work and stop when the queue is empty:
// an idle bot runs no goroutine of its own.
//
// Reading the store and building a message take the CPU; waiting for
// Slack does not. So a worker's store read and render (a /pg list page, a
// status, the database a change names) also take one of a few read
// places, one per CPU (readSlots): a burst of answers queues here instead
// of crowding the acknowledgements (signature, claim) off the CPU, while
// the other workers wait on Slack.

// Pool defaults (Deps.Workers, Deps.Queue). An answer is one store read
// and one HTTPS call to Slack, about 100 to 300 ms with Slack's latency:
// 16 workers answer 50 to 150 commands a second, and a full queue of 128
// waits about 1 to 2.5 s, inside the 3 s a user waits for an answer. More
// workers do not help where the answers are fast (bot/slashload, whose
// response_urls answer at once): at 200 /pg list a second on 2 CPUs, 32
// workers put the acknowledgements' p99 at 80 to 250 ms, 16 at 5 to 10 ms.
const (
	DefaultWorkers = 16
	DefaultQueue   = 128
)

// admitWait is how long a click or an event waits for a place in the pool.
const admitWait = time.Second

// taskTimeout bounds one task (its Slack calls retry rate limits).
const taskTimeout = 5 * time.Minute

// readSlots is how many store reads and renders the workers run at once.
func readSlots() int { return max(2, runtime.GOMAXPROCS(0)) }

// reading takes a read place, waiting for one; release gives it back.
func (b *Bot) reading(ctx context.Context) (release func(), err error) {
	select {
	case b.reads <- struct{}{}:
		return func() { <-b.reads }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type task struct {
	what string
	f    func(ctx context.Context) error
}

// pool runs tasks on at most workers goroutines, with at most queue tasks
// waiting.
type pool struct {
	log zerolog.Logger
	// slots holds one token per task admitted and not finished: its
	// capacity, workers+queue, is the bound.
	slots chan struct{}
	size  int

	mu      sync.Mutex
	queue   []task
	running int  // workers started and not stopped
	closed  bool // no task is admitted any more
	// done counts the admitted tasks not finished.
	done sync.WaitGroup
	// base is every task's parent context; close cancels it once the
	// grace period is over.
	base   context.Context
	cancel context.CancelFunc
}

// closeGrace is how long the admitted tasks get to finish on shutdown
// before their contexts are cancelled (a task may wait out Slack's rate
// limits for minutes).
const closeGrace = 20 * time.Second

func newPool(workers, queue int, log zerolog.Logger) *pool {
	base, cancel := context.WithCancel(context.Background())
	return &pool{log: log, size: workers, slots: make(chan struct{}, workers+queue), base: base, cancel: cancel}
}

// try admits f if there is a place now, and reports whether it did.
func (p *pool) try(what string, f func(ctx context.Context) error) bool {
	select {
	case p.slots <- struct{}{}:
		return p.start(task{what, f})
	default:
		return false
	}
}

// wait admits f once there is a place, or gives up after d.
func (p *pool) wait(what string, d time.Duration, f func(ctx context.Context) error) bool {
	if p.try(what, f) {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return p.start(task{what, f})
	case <-t.C:
		return false
	}
}

// start queues t, which holds a slot, and starts a worker if fewer than
// size run.
func (p *pool) start(t task) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		<-p.slots
		return false
	}
	p.done.Add(1)
	p.queue = append(p.queue, t)
	if p.running < p.size {
		p.running++
		go p.work()
	}
	return true
}

// work runs queued tasks until the queue is empty.
func (p *pool) work() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running--
			p.mu.Unlock()
			return
		}
		t := p.queue[0]
		p.queue[0] = task{}
		p.queue = p.queue[1:]
		p.mu.Unlock()
		p.run(t)
		<-p.slots
		p.done.Done()
	}
}

func (p *pool) run(t task) {
	defer func() {
		// A bug in one task must not take the process down.
		if v := recover(); v != nil {
			p.log.Error().Interface("panic", v).Str("work", t.what).Msg("slack work panicked")
		}
	}()
	ctx, cancel := context.WithTimeout(p.base, taskTimeout)
	defer cancel()
	if err := t.f(ctx); err != nil {
		p.log.Error().Err(err).Str("work", t.what).Msg("slack work failed")
	}
}

// close admits nothing more and waits for the admitted tasks to finish;
// after grace it cancels their contexts, then waits for them to return.
func (p *pool) close(grace time.Duration) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	finished := make(chan struct{})
	go func() { p.done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(grace):
		p.cancel()
		<-finished
	}
	p.cancel()
}

// settle waits for the admitted tasks to finish (tests).
func (p *pool) settle() { p.done.Wait() }
