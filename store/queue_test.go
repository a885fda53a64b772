package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clustropg/clustro/request"
)

func TestQueueLifecycle(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now), WithMaxAttempts(3))

		later, _, err := s.Enqueue(ctx, NewJob{Kind: "wait-ready", RunAt: clk.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		job, created, err := s.Enqueue(ctx, NewJob{Kind: "plan", RequestID: "r1", Workspace: "dev/payments/orders", Payload: []byte(`{"pr":7}`)})
		if err != nil || !created {
			t.Fatalf("enqueue: created %v, %v", created, err)
		}
		if job.State != JobQueued || job.MaxAttempts != 3 || !job.RunAt.Equal(clk.Now()) {
			t.Errorf("enqueued %+v, want queued, 3 attempts, due now", job)
		}
		if got, _ := s.GetJob(ctx, job.ID); !reflect.DeepEqual(got, job) {
			t.Errorf("get job:\n%+v\nwant what enqueue returned\n%+v", got, job)
		}

		// Only the kinds asked for, and only what is due.
		if _, ok, err := s.Claim(ctx, "w1", time.Minute, "apply"); ok || err != nil {
			t.Fatalf("claim apply jobs: ok %v, %v; want nothing", ok, err)
		}
		got, ok, err := s.Claim(ctx, "w1", time.Minute, "plan", "apply")
		if err != nil || !ok || got.ID != job.ID {
			t.Fatalf("claim: %+v, ok %v, %v; want %s", got, ok, err, job.ID)
		}
		if got.State != JobRunning || got.LeaseOwner != "w1" || got.Attempts != 1 || !got.LeaseUntil.Equal(clk.Now().Add(time.Minute)) {
			t.Errorf("claimed %+v, want running for w1, attempt 1, leased a minute", got)
		}
		if string(got.Payload) != `{"pr":7}` {
			t.Errorf("payload %s", got.Payload)
		}
		if _, ok, _ := s.Claim(ctx, "w2", time.Minute); ok {
			t.Error("claimed a job while nothing else is due")
		}

		clk.Advance(50 * time.Second)
		if err := s.Heartbeat(ctx, job.ID, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(50 * time.Second) // past the first lease, within the extended one
		if _, ok, _ := s.Claim(ctx, "w2", time.Minute, "plan"); ok {
			t.Error("took over a job whose lease was extended")
		}
		if err := s.Complete(ctx, job.ID, "w1", []byte(`{"summary":"1 to add"}`)); err != nil {
			t.Fatal(err)
		}
		done, _ := s.GetJob(ctx, job.ID)
		if done.State != JobDone || string(done.Result) != `{"summary":"1 to add"}` || done.Attempts != 1 {
			t.Errorf("completed job %+v", done)
		}
		if err := s.Complete(ctx, job.ID, "w1", nil); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("complete twice: %v, want ErrLeaseLost", err)
		}
		if err := s.Heartbeat(ctx, job.ID, "w1", time.Minute); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("heartbeat a done job: %v, want ErrLeaseLost", err)
		}
		if err := s.Complete(ctx, "nope", "w1", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("complete an unknown job: %v, want ErrNotFound", err)
		}

		clk.Advance(time.Hour)
		if got, ok, _ := s.Claim(ctx, "w2", time.Minute); !ok || got.ID != later.ID {
			t.Errorf("claim after an hour: %+v, ok %v; want the delayed job", got, ok)
		}
	})
}

func TestEnqueueIdempotent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		delivery := Idempotency{Scope: "github-delivery", Key: "d-1/closed"}
		first, created, err := s.Enqueue(ctx, NewJob{Kind: "apply", Key: delivery})
		if err != nil || !created {
			t.Fatalf("enqueue: created %v, %v", created, err)
		}
		again, created, err := s.Enqueue(ctx, NewJob{Kind: "apply", Key: delivery})
		if err != nil || created || again.ID != first.ID {
			t.Errorf("redelivery: %s created %v, %v; want %s, not created", again.ID, created, err, first.ID)
		}
		if jobs, _ := s.ListJobs(ctx, JobFilter{Kind: "apply"}); len(jobs) != 1 {
			t.Errorf("%d apply jobs after a redelivery, want 1", len(jobs))
		}

		// A transition and the job it starts are written together, or not at all.
		rec := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
		merge := AndEnqueue(NewJob{Kind: "apply", Workspace: "dev/payments/orders", Key: Idempotency{Scope: "github-delivery", Key: "d-2/closed"}})
		if _, err := s.Transition(ctx, rec.ID(), request.Merged, request.Event{Actor: "octocat"}, merge); !isIllegal(err) {
			t.Fatalf("submitted -> merged: %v, want illegal", err)
		}
		if jobs, _ := s.ListJobs(ctx, JobFilter{RequestID: rec.ID()}); len(jobs) != 0 {
			t.Errorf("an illegal transition enqueued %d jobs", len(jobs))
		}
		mustTransition(t, s, rec.ID(), request.PROpen)
		if _, err := s.Transition(ctx, rec.ID(), request.Merged, request.Event{Actor: "octocat"}, merge); err != nil {
			t.Fatal(err)
		}
		jobs, _ := s.ListJobs(ctx, JobFilter{RequestID: rec.ID()})
		if len(jobs) != 1 || jobs[0].Workspace != "dev/payments/orders" {
			t.Errorf("jobs after the merge: %+v, want one apply job", jobs)
		}
	})
}

func TestFailAndBackoff(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now), WithBackoff(time.Minute, 3*time.Minute))
		job, _, _ := s.Enqueue(ctx, NewJob{Kind: "apply", MaxAttempts: 3})

		// Each failure waits between half and all of base * 2^(attempt-1).
		for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute} {
			got, ok, err := s.Claim(ctx, "w1", time.Minute)
			if err != nil || !ok || got.Attempts != attempt+1 {
				t.Fatalf("claim attempt %d: %+v, ok %v, %v", attempt+1, got, ok, err)
			}
			failed, err := s.Fail(ctx, job.ID, "w1", fmt.Errorf("terraform apply: exit %d", attempt+1), true)
			if err != nil {
				t.Fatal(err)
			}
			delay := failed.RunAt.Sub(clk.Now())
			if failed.State != JobQueued || failed.Attempts != attempt+1 || delay < wait/2 || delay > wait {
				t.Errorf("after failure %d: %s, attempts %d, retry in %v; want queued, %d, within [%v, %v]",
					attempt+1, failed.State, failed.Attempts, delay, attempt+1, wait/2, wait)
			}
			if failed.LastError != fmt.Sprintf("terraform apply: exit %d", attempt+1) {
				t.Errorf("last error %q", failed.LastError)
			}
			if stored, _ := s.GetJob(ctx, job.ID); !reflect.DeepEqual(stored, failed) {
				t.Errorf("stored job\n%+v\nwant what Fail returned\n%+v", stored, failed)
			}
			if _, ok, _ := s.Claim(ctx, "w1", time.Minute); ok {
				t.Errorf("claimed during the backoff after failure %d", attempt+1)
			}
			clk.Advance(wait)
		}
		if _, ok, _ := s.Claim(ctx, "w1", time.Minute); !ok {
			t.Fatal("no third attempt")
		}
		dead, err := s.Fail(ctx, job.ID, "w1", errors.New("still broken"), true)
		if err != nil || dead.State != JobDead || dead.Attempts != 3 {
			t.Errorf("after the last attempt: %+v, %v; want dead after 3", dead, err)
		}

		// A failure retrying cannot fix ends the job at once.
		other, _, _ := s.Enqueue(ctx, NewJob{Kind: "render"})
		if _, ok, _ := s.Claim(ctx, "w1", time.Minute); !ok {
			t.Fatal("claim the render job")
		}
		// Tool output may hold anything; a long one is cut, maybe mid-rune.
		cause := errors.New("invalid spec\x00: " + strings.Repeat("€", 2000))
		got, err := s.Fail(ctx, other.ID, "w1", cause, false)
		if err != nil || got.State != JobFailed {
			t.Errorf("non-retryable failure: %+v, %v; want failed", got, err)
		}
		if stored, _ := s.GetJob(ctx, other.ID); !utf8.ValidString(stored.LastError) || !strings.HasPrefix(stored.LastError, "invalid spec: €") || len(stored.LastError) > 4200 {
			t.Errorf("stored last error %.40q... (%d bytes), want it cleaned and cut", stored.LastError, len(stored.LastError))
		}
		if _, err := s.Fail(ctx, other.ID, "w1", errors.New("again"), true); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("fail a finished job: %v, want ErrLeaseLost", err)
		}
	})
}

func TestBackoffBounds(t *testing.T) {
	s := &sqlStore{cfg: config{backoffBase: time.Second, backoffMax: 10 * time.Second}}
	tests := []struct {
		attempt int
		max     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second},
		{5, 10 * time.Second}, {60, 10 * time.Second},
	}
	for _, tc := range tests {
		for range 100 {
			if d := s.backoff(tc.attempt); d < tc.max/2 || d > tc.max {
				t.Fatalf("backoff after attempt %d = %v, want within [%v, %v]", tc.attempt, d, tc.max/2, tc.max)
			}
		}
	}
}

func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		job, _, _ := s.Enqueue(ctx, NewJob{Kind: "apply", Workspace: "dev/payments/orders"})
		if _, ok, _ := s.Claim(ctx, "zombie", 10*time.Second); !ok {
			t.Fatal("first claim")
		}
		clk.Advance(11 * time.Second)
		got, ok, err := s.Claim(ctx, "survivor", time.Minute)
		if err != nil || !ok || got.ID != job.ID || got.LeaseOwner != "survivor" || got.Attempts != 2 {
			t.Fatalf("takeover: %+v, ok %v, %v; want the job on its second attempt", got, ok, err)
		}

		// The zombie wakes up: whatever it tries is refused and changes nothing.
		zombie := []struct {
			name string
			do   func() error
		}{
			{"complete", func() error { return s.Complete(ctx, job.ID, "zombie", []byte("stale")) }},
			{"heartbeat", func() error { return s.Heartbeat(ctx, job.ID, "zombie", time.Hour) }},
			{"fail", func() error { _, err := s.Fail(ctx, job.ID, "zombie", errors.New("x"), true); return err }},
			{"release", func() error { return s.Release(ctx, job.ID, "zombie") }},
		}
		for _, z := range zombie {
			if err := z.do(); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("zombie %s: %v, want ErrLeaseLost", z.name, err)
			}
		}
		if now, _ := s.GetJob(ctx, job.ID); !reflect.DeepEqual(now, got) {
			t.Errorf("the zombie changed the job:\n%+v\nwant\n%+v", now, got)
		}
		if err := s.Complete(ctx, job.ID, "survivor", []byte("applied")); err != nil {
			t.Fatal(err)
		}

		// A worker that dies on the last attempt leaves a dead job.
		last, _, _ := s.Enqueue(ctx, NewJob{Kind: "apply", MaxAttempts: 1})
		if _, ok, _ := s.Claim(ctx, "zombie", 10*time.Second); !ok {
			t.Fatal("claim the one-attempt job")
		}
		clk.Advance(11 * time.Second)
		if got, ok, _ := s.Claim(ctx, "survivor", time.Minute); ok {
			t.Errorf("took over a job with no attempts left: %+v", got)
		}
		if got, _ := s.GetJob(ctx, last.ID); got.State != JobDead || got.LastError == "" {
			t.Errorf("one-attempt job after its worker died: %+v, want dead with the reason", got)
		}
	})
}

func TestRelease(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		job, _, _ := s.Enqueue(ctx, NewJob{Kind: "apply", Workspace: "dev/payments/orders"})
		if _, ok, _ := s.Claim(ctx, "w1", time.Minute); !ok {
			t.Fatal("claim")
		}
		if err := s.Release(ctx, job.ID, "w1"); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Claim(ctx, "w2", time.Minute)
		if err != nil || !ok || got.ID != job.ID || got.Attempts != 1 {
			t.Errorf("claim after release: %+v, ok %v, %v; want the job, still on its first attempt", got, ok, err)
		}
	})
}

// TestDefer: a deferred job waits until its time, its attempt not counted;
// only the worker holding it may defer it.
func TestDefer(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		job, _, _ := s.Enqueue(ctx, NewJob{Kind: "plan", Workspace: "dev/payments/orders"})
		if _, ok, _ := s.Claim(ctx, "w1", time.Minute); !ok {
			t.Fatal("claim")
		}
		if err := s.Defer(ctx, job.ID, "w2", clk.Now().Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("defer by a worker without the lease: %v, want ErrLeaseLost", err)
		}
		if err := s.Defer(ctx, job.ID, "w1", clk.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Claim(ctx, "w2", time.Minute); err != nil || ok {
			t.Errorf("claimed a deferred job before its time: %+v, %v", got, err)
		}
		clk.Advance(time.Hour + time.Second)
		got, ok, err := s.Claim(ctx, "w2", time.Minute)
		if err != nil || !ok || got.ID != job.ID || got.Attempts != 1 {
			t.Errorf("claim after the deferral: %+v, ok %v, %v; want the job, on its first attempt", got, ok, err)
		}
	})
}

func TestWorkspaceExclusive(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.newDSN(t)
		// Two handles on one database, as two replicas. The clock only moves
		// to order the first jobs; leases never run out.
		clk := newClock()
		replicas := []Store{openDSN(t, dsn, WithClock(clk.Now)), openDSN(t, dsn, WithClock(clk.Now))}
		s := replicas[0]

		var first []Job
		for _, ws := range []string{"a", "a", "b"} {
			j, _, err := s.Enqueue(ctx, NewJob{Kind: "apply", Workspace: ws})
			if err != nil {
				t.Fatal(err)
			}
			first = append(first, j)
			clk.Advance(time.Second)
		}
		a1, a2, b1 := first[0], first[1], first[2]
		for _, want := range []string{a1.ID, b1.ID} {
			if got, ok, _ := s.Claim(ctx, "w1", time.Minute); !ok || got.ID != want {
				t.Fatalf("claimed %s (ok %v), want %s: the second job of workspace a waits", got.ID, ok, want)
			}
		}
		if got, ok, _ := s.Claim(ctx, "w2", time.Minute); ok {
			t.Fatalf("claimed %s while workspace %s is busy", got.ID, got.Workspace)
		}
		if err := s.Complete(ctx, a1.ID, "w1", nil); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := s.Claim(ctx, "w2", time.Minute); !ok || got.ID != a2.ID {
			t.Fatalf("after a1 is done claimed %s (ok %v), want %s", got.ID, ok, a2.ID)
		}
		s.Complete(ctx, a2.ID, "w2", nil)
		s.Complete(ctx, b1.ID, "w1", nil)

		// Many workers, many jobs on few workspaces. An append-only log of
		// starts and ends proves that no workspace ever ran two jobs at once
		// and that every job ran exactly once.
		const jobs = 40
		workspaces := []string{"dev/a/one", "dev/a/two", "prod/b/three", ""}
		for i := range jobs {
			if _, _, err := s.Enqueue(ctx, NewJob{Kind: "apply", Workspace: workspaces[i%len(workspaces)]}); err != nil {
				t.Fatal(err)
			}
		}
		type entry struct {
			start   bool
			job, ws string
			worker  string
		}
		var (
			mu   sync.Mutex
			log  []entry
			done atomic.Int64
			wg   sync.WaitGroup
		)
		deadline := time.Now().Add(45 * time.Second)
		for w := range 8 {
			worker := fmt.Sprintf("worker-%d", w)
			st := replicas[w%2]
			wg.Go(func() {
				for done.Load() < jobs && time.Now().Before(deadline) {
					job, ok, err := st.Claim(ctx, worker, time.Minute, "apply")
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						time.Sleep(2 * time.Millisecond)
						continue
					}
					mu.Lock()
					log = append(log, entry{true, job.ID, job.Workspace, worker})
					mu.Unlock()
					time.Sleep(time.Millisecond) // the "terraform apply"
					mu.Lock()
					log = append(log, entry{false, job.ID, job.Workspace, worker})
					mu.Unlock()
					if err := st.Complete(ctx, job.ID, worker, nil); err != nil {
						t.Error(err)
						return
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
		if n := done.Load(); n != jobs {
			t.Fatalf("%d of %d jobs done", n, jobs)
		}
		running := map[string]string{} // workspace -> job
		runs := map[string]int{}
		for _, e := range log {
			if e.start {
				runs[e.job]++
				if other, busy := running[e.ws]; busy && e.ws != "" {
					t.Errorf("job %s started on %s while %s ran there", e.job, e.ws, other)
				}
				running[e.ws] = e.job
			} else {
				delete(running, e.ws)
			}
		}
		for id, n := range runs {
			if n != 1 {
				t.Errorf("job %s ran %d times", id, n)
			}
		}
		if len(runs) != jobs {
			t.Errorf("%d jobs ran, want %d", len(runs), jobs)
		}
		all, _ := s.ListJobs(ctx, JobFilter{States: []JobState{JobDone}})
		if len(all) != jobs+3 {
			t.Errorf("%d jobs done, want %d", len(all), jobs+3)
		}
	})
}

func TestQueueStats(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		if st, err := s.Stats(ctx); err != nil || len(st.Depth) != 0 || st.OldestDue != 0 {
			t.Errorf("stats of an empty queue: %+v, %v", st, err)
		}
		s.Enqueue(ctx, NewJob{Kind: "plan"})
		clk.Advance(time.Minute)
		s.Enqueue(ctx, NewJob{Kind: "plan"})
		s.Enqueue(ctx, NewJob{Kind: "apply", RunAt: clk.Now().Add(time.Hour)}) // not due: no lag
		s.Enqueue(ctx, NewJob{Kind: "apply"})
		if _, ok, _ := s.Claim(ctx, "w1", time.Minute, "apply"); !ok {
			t.Fatal("claim")
		}
		clk.Advance(time.Minute)

		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []QueueDepth{
			{Kind: "apply", State: JobQueued, Jobs: 1},
			{Kind: "apply", State: JobRunning, Jobs: 1},
			{Kind: "plan", State: JobQueued, Jobs: 2},
		}
		if !reflect.DeepEqual(st.Depth, want) || st.OldestDue != 2*time.Minute {
			t.Errorf("stats %+v, want depth %+v and the oldest due job waiting 2m", st, want)
		}
	})
}

func TestLockWorkspace(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.newDSN(t)
		one := openDSN(t, dsn)
		// Another replica on PostgreSQL; SQLite is one process, so the same handle.
		two := one
		if b.name == "postgres" {
			two = openDSN(t, dsn)
		}

		unlock, err := one.LockWorkspace(ctx, "dev/payments/orders")
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := two.LockWorkspace(short, "dev/payments/orders"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("lock a held workspace: %v, want the deadline", err)
		}
		otherUnlock, err := two.LockWorkspace(ctx, "dev/payments/ledger")
		if err != nil {
			t.Fatalf("lock another workspace: %v", err)
		}
		otherUnlock()

		acquired := make(chan func() error)
		go func() {
			u, err := two.LockWorkspace(ctx, "dev/payments/orders")
			if err != nil {
				t.Error(err)
				close(acquired)
				return
			}
			acquired <- u
		}()
		select {
		case <-acquired:
			t.Fatal("acquired a held lock")
		case <-time.After(100 * time.Millisecond):
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Errorf("unlock twice: %v", err)
		}
		select {
		case u := <-acquired:
			if u == nil {
				return
			}
			if err := u(); err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the waiter never got the lock after unlock")
		}
	})
}
