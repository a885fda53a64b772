package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "clustro.db"), store.WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueue(t *testing.T, s store.Store, kind string, attempts int) store.Job {
	t.Helper()
	j, _, err := s.Enqueue(context.Background(), store.NewJob{Kind: kind, MaxAttempts: attempts, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// waitJob polls the store until the job reaches a final or wanted state.
func waitJob(t *testing.T, s store.Store, id string, want store.JobState) store.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		j, err := s.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == want {
			return j
		}
		time.Sleep(10 * time.Millisecond)
	}
	j, _ := s.GetJob(context.Background(), id)
	t.Fatalf("job %s is %s after 20s, want %s (last error %q)", id, j.State, want, j.LastError)
	return j
}

type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *outcomes) JobFinished(kind, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, kind+":"+outcome)
}

func start(t *testing.T, e *engine.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestOutcomes(t *testing.T) {
	s := openStore(t)
	var obs outcomes
	e := engine.New(s, engine.Poll(5*time.Millisecond), engine.Workers(2), engine.Observe(&obs))
	var flaky atomic.Int32
	e.Handle("ok", func(ctx context.Context, j store.Job) ([]byte, error) { return []byte(`"fine"`), nil })
	e.Handle("flaky", func(ctx context.Context, j store.Job) ([]byte, error) {
		if flaky.Add(1) < 3 {
			return nil, errors.New("GitHub answered 502")
		}
		return nil, nil
	})
	e.Handle("permanent", func(ctx context.Context, j store.Job) ([]byte, error) {
		return nil, engine.Permanent(errors.New("workspace failed verification"))
	})
	e.Handle("hopeless", func(ctx context.Context, j store.Job) ([]byte, error) { return nil, errors.New("still down") })
	e.Handle("panics", func(ctx context.Context, j store.Job) ([]byte, error) { panic("nil map") })
	ok := enqueue(t, s, "ok", 3)
	fl := enqueue(t, s, "flaky", 5)
	pe := enqueue(t, s, "permanent", 5)
	ho := enqueue(t, s, "hopeless", 2)
	pa := enqueue(t, s, "panics", 5)
	stop := start(t, e)
	defer stop()

	if j := waitJob(t, s, ok.ID, store.JobDone); string(j.Result) != `"fine"` {
		t.Errorf("result = %s", j.Result)
	}
	if j := waitJob(t, s, fl.ID, store.JobDone); j.Attempts != 3 {
		t.Errorf("flaky job took %d attempts, want 3", j.Attempts)
	}
	if j := waitJob(t, s, pe.ID, store.JobFailed); j.Attempts != 1 || j.LastError != "workspace failed verification" {
		t.Errorf("permanent: %+v", j)
	}
	if j := waitJob(t, s, ho.ID, store.JobDead); j.Attempts != 2 {
		t.Errorf("hopeless: %d attempts", j.Attempts)
	}
	if j := waitJob(t, s, pa.ID, store.JobFailed); j.LastError == "" {
		t.Error("a panic left no error")
	}
}

// TestShutdownReleasesRunningJob: a job still running when the grace period
// ends is cancelled and given back without counting the attempt; the next
// engine completes it.
func TestShutdownReleasesRunningJob(t *testing.T) {
	s := openStore(t)
	started := make(chan struct{})
	e := engine.New(s, engine.Poll(5*time.Millisecond), engine.Grace(50*time.Millisecond))
	e.Handle("apply", func(ctx context.Context, j store.Job) ([]byte, error) {
		close(started)
		<-ctx.Done() // terraform would get SIGINT here
		return nil, ctx.Err()
	})
	j := enqueue(t, s, "apply", 3)
	stop := start(t, e)
	<-started
	stop()
	got := waitJob(t, s, j.ID, store.JobQueued)
	if got.Attempts != 0 {
		t.Errorf("released job has %d attempts counted, want 0", got.Attempts)
	}

	e2 := engine.New(s, engine.Poll(5*time.Millisecond))
	e2.Handle("apply", func(ctx context.Context, j store.Job) ([]byte, error) { return nil, nil })
	stop2 := start(t, e2)
	defer stop2()
	waitJob(t, s, j.ID, store.JobDone)
}

// TestGraceLetsJobFinish: a job that ends within the grace period completes.
func TestGraceLetsJobFinish(t *testing.T) {
	s := openStore(t)
	started := make(chan struct{})
	release := make(chan struct{})
	e := engine.New(s, engine.Poll(5*time.Millisecond), engine.Grace(10*time.Second))
	e.Handle("apply", func(ctx context.Context, j store.Job) ([]byte, error) {
		close(started)
		<-release
		return []byte(`1`), ctx.Err()
	})
	j := enqueue(t, s, "apply", 3)
	stop := start(t, e)
	<-started
	go func() { time.Sleep(100 * time.Millisecond); close(release) }()
	stop()
	if got := waitJob(t, s, j.ID, store.JobDone); string(got.Result) != "1" {
		t.Errorf("result %s", got.Result)
	}
}

// TestLostLeaseStopsHandler: when another worker takes the job over, the
// handler's context is cancelled and its outcome is not recorded.
func TestLostLeaseStopsHandler(t *testing.T) {
	s := openStore(t)
	var obs outcomes
	cancelled := make(chan struct{})
	e := engine.New(s, engine.Poll(5*time.Millisecond), engine.Lease(300*time.Millisecond), engine.Observe(&obs))
	e.Handle("slow", func(ctx context.Context, j store.Job) ([]byte, error) {
		<-ctx.Done()
		close(cancelled)
		return nil, nil
	})
	j := enqueue(t, s, "slow", 3)
	stop := start(t, e)
	defer stop()
	// Another worker steals the job: complete it behind the engine's back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := s.GetJob(context.Background(), j.ID)
		if got.State == store.JobRunning {
			if err := s.Complete(context.Background(), j.ID, got.LeaseOwner, []byte(`"other"`)); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("job never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not cancelled after its lease was lost")
	}
	if got, _ := s.GetJob(context.Background(), j.ID); string(got.Result) != `"other"` {
		t.Errorf("the zombie overwrote the result: %s", got.Result)
	}
}

// TestRetryAtDefersWithoutCountingAttempts: a job held up by an outside
// limit (GitHub's rate limit) more times than it has attempts is deferred
// each time, never failed, and runs once the limit lifts.
func TestRetryAtDefersWithoutCountingAttempts(t *testing.T) {
	s := openStore(t)
	var obs outcomes
	e := engine.New(s, engine.Poll(5*time.Millisecond), engine.Workers(1), engine.Observe(&obs))
	var calls atomic.Int32
	e.Handle("limited", func(ctx context.Context, j store.Job) ([]byte, error) {
		if calls.Add(1) <= 4 {
			return nil, engine.RetryAt(errors.New("github: the rate limit is spent"), time.Now().Add(20*time.Millisecond))
		}
		return nil, nil
	})
	j := enqueue(t, s, "limited", 2)
	stop := start(t, e)
	defer stop()
	done := waitJob(t, s, j.ID, store.JobDone)
	if done.Attempts != 1 || calls.Load() != 5 {
		t.Errorf("done after %d calls with %d attempts counted, want 5 calls and 1 attempt", calls.Load(), done.Attempts)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if n := strings.Count(strings.Join(obs.got, ","), "limited:deferred"); n != 4 {
		t.Errorf("outcomes %v, want 4 deferrals", obs.got)
	}
}
