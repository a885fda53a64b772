package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/store"
)

// Queue is the part of the store the engine uses.
type Queue interface {
	Claim(ctx context.Context, worker string, lease time.Duration, kinds ...string) (store.Job, bool, error)
	Heartbeat(ctx context.Context, id, worker string, lease time.Duration) error
	Complete(ctx context.Context, id, worker string, result []byte) error
	Fail(ctx context.Context, id, worker string, cause error, retryable bool) (store.Job, error)
	Release(ctx context.Context, id, worker string) error
	Defer(ctx context.Context, id, worker string, until time.Time) error
}

// A Handler does one job. Its ctx is cancelled when the lease is lost or
// the shutdown grace period ends; it should stop then.
type Handler func(ctx context.Context, job store.Job) (result []byte, err error)

// Engine runs handlers for the jobs in a queue.
type Engine struct {
	q        Queue
	handlers map[string]Handler
	cfg      config
	log      zerolog.Logger
	wake     chan struct{}
}

type config struct {
	worker   string
	workers  int
	lease    time.Duration
	poll     time.Duration
	grace    time.Duration
	log      zerolog.Logger
	observer Observer
}

// Observer is told of every job's outcome, for metrics.
type Observer interface {
	JobFinished(kind, outcome string, took time.Duration)
}

// Outcomes reported to the Observer.
const (
	OutcomeDone     = "done"
	OutcomeRetry    = "retry"
	OutcomeFailed   = "failed"
	OutcomeReleased = "released"
	OutcomeDeferred = "deferred"
	OutcomeLost     = "lease_lost"
)

// Option configures an Engine.
type Option func(*config)

// WorkerID names this process in leases (default: hostname-pid).
func WorkerID(id string) Option { return func(c *config) { c.worker = id } }

// Workers sets how many jobs run at once in this process (default 4).
func Workers(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.workers = n
		}
	}
}

// Lease sets how long a claimed job stays leased without a heartbeat
// (default 30s); heartbeats run every third of it. A crashed worker's job
// is taken over after the lease.
func Lease(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lease = d
		}
	}
}

// Poll sets how often an idle worker looks for work (default 500ms).
func Poll(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.poll = d
		}
	}
}

// Grace sets how long running jobs may finish after shutdown begins
// before their context is cancelled (default 60s).
func Grace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// Logger sets the logger.
func Logger(l zerolog.Logger) Option { return func(c *config) { c.log = l } }

// Observe reports outcomes to o.
func Observe(o Observer) Option { return func(c *config) { c.observer = o } }

// New makes an engine over q.
func New(q Queue, opts ...Option) *Engine {
	host, _ := os.Hostname()
	cfg := config{
		worker:  fmt.Sprintf("%s-%d", host, os.Getpid()),
		workers: 4,
		lease:   30 * time.Second,
		poll:    500 * time.Millisecond,
		grace:   60 * time.Second,
		log:     zerolog.Nop(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &Engine{q: q, handlers: map[string]Handler{}, cfg: cfg, log: cfg.log, wake: make(chan struct{}, 1)}
}

// Handle registers the handler of a job kind. Only registered kinds are
// claimed. Call it before Run.
func (e *Engine) Handle(kind string, h Handler) { e.handlers[kind] = h }

// HasHandlers reports whether any job kind is registered.
func (e *Engine) HasHandlers() bool { return len(e.handlers) > 0 }

// Notify wakes an idle worker at once, after this process enqueued a job.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx is done, then shuts down gracefully and returns.
func (e *Engine) Run(ctx context.Context) error {
	if len(e.handlers) == 0 {
		return errors.New("engine: no job handlers registered")
	}
	kinds := make([]string, 0, len(e.handlers))
	for k := range e.handlers {
		kinds = append(kinds, k)
	}
	// Handlers run under their own context: shutdown (ctx) stops claiming
	// at once, and cancels running handlers only after the grace period.
	jobsCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	go func() {
		<-ctx.Done()
		if e.cfg.grace > 0 {
			t := time.NewTimer(e.cfg.grace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-jobsCtx.Done():
				return
			}
		}
		cancelJobs()
	}()
	var wg sync.WaitGroup
	for i := range e.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.work(ctx, jobsCtx, fmt.Sprintf("%s/%d", e.cfg.worker, i), kinds)
		}()
	}
	wg.Wait()
	e.log.Info().Msg("engine stopped")
	return nil
}

func (e *Engine) work(ctx, jobsCtx context.Context, worker string, kinds []string) {
	for ctx.Err() == nil {
		job, ok, err := e.q.Claim(ctx, worker, e.cfg.lease, kinds...)
		if err != nil && ctx.Err() == nil {
			e.log.Error().Err(err).Msg("claim job")
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-e.wake:
			case <-time.After(e.cfg.poll):
			}
			continue
		}
		e.run(jobsCtx, worker, job)
	}
}

// run does one claimed job and records its outcome.
func (e *Engine) run(ctx context.Context, worker string, job store.Job) {
	log := e.log.With().Str("job", job.ID).Str("kind", job.Kind).Str("request", job.RequestID).
		Str("workspace", job.Workspace).Int("attempt", job.Attempts).Logger()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Keep the lease alive; losing it means another worker owns the job now.
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(e.cfg.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.q.Heartbeat(ctx, job.ID, worker, e.cfg.lease); err != nil {
					if errors.Is(err, store.ErrLeaseLost) {
						cancel(err)
						return
					}
					log.Warn().Err(err).Msg("heartbeat")
				}
			}
		}
	}()

	start := time.Now()
	log.Info().Msg("job started")
	result, err := e.call(ctx, job)
	cause := context.Cause(ctx) // nil unless the lease was lost or the grace period ended
	cancel(nil)
	<-hbDone
	took := time.Since(start)

	// Recording the outcome must not be cut short by the shutdown.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	outcome := e.record(rctx, worker, job, result, err, cause, log)
	if e.cfg.observer != nil {
		e.cfg.observer.JobFinished(job.Kind, outcome, took)
	}
	log.Info().Str("outcome", outcome).Dur("took", took).Msg("job finished")
}

func (e *Engine) call(ctx context.Context, job store.Job) (result []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("job %s (%s) panicked: %v", job.ID, job.Kind, r))
		}
	}()
	return e.handlers[job.Kind](ctx, job)
}

func (e *Engine) record(ctx context.Context, worker string, job store.Job, result []byte, err, cause error, log zerolog.Logger) string {
	var outcome string
	var rerr error
	var d deferError
	switch {
	case errors.Is(cause, store.ErrLeaseLost):
		return OutcomeLost
	case err == nil:
		outcome, rerr = OutcomeDone, e.q.Complete(ctx, job.ID, worker, result)
	case cause != nil || errors.Is(err, context.Canceled):
		// Shut down mid-job: give it back without counting the attempt.
		outcome, rerr = OutcomeReleased, e.q.Release(ctx, job.ID, worker)
	case errors.As(err, &d):
		outcome, rerr = OutcomeDeferred, e.q.Defer(ctx, job.ID, worker, d.until)
		log.Info().Err(err).Time("retry_at", d.until).Msg("job deferred")
	default:
		var j store.Job
		j, rerr = e.q.Fail(ctx, job.ID, worker, err, !IsPermanent(err))
		outcome = OutcomeRetry
		if j.State == store.JobFailed || j.State == store.JobDead {
			outcome = OutcomeFailed
		}
		log.Warn().Err(err).Str("state", string(j.State)).Time("retry_at", j.RunAt).Msg("job attempt failed")
	}
	if errors.Is(rerr, store.ErrLeaseLost) {
		return OutcomeLost
	}
	if rerr != nil {
		log.Error().Err(rerr).Str("outcome", outcome).Msg("record job outcome")
	}
	return outcome
}

// deferError asks for the job to run again at until, the attempt not
// counted.
type deferError struct {
	err   error
	until time.Time
}

func (d deferError) Error() string { return d.err.Error() }
func (d deferError) Unwrap() error { return d.err }

// RetryAt gives the job back to run again at until without counting the
// attempt: for work held up by an outside limit (GitHub's rate limit),
// which retries with backoff would turn into a failure.
func RetryAt(err error, until time.Time) error {
	if err == nil {
		return nil
	}
	return deferError{err: err, until: until}
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the job fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
