package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConversations(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		c := Conversation{
			ID: "C1/171.1/U1", UserID: "U1", Channel: "C1", Thread: "171.1",
			State: []byte(`{"step":"size"}`), ExpiresAt: clk.Now().Add(10 * time.Minute),
		}
		if err := s.SaveConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.UpdatedAt = clk.Now()
		if got, err := s.GetConversation(ctx, c.ID); err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("get: %+v, %v; want %+v", got, err, c)
		}

		clk.Advance(time.Minute)
		c.State = []byte(`{"step":"backups"}`)
		if err := s.SaveConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		lookups := []struct {
			channel, thread, user string
			want                  error
		}{
			{"C1", "171.1", "U1", nil},
			{"C1", "171.1", "U2", ErrNotFound}, // another user in the same thread
			{"C1", "172.9", "U1", ErrNotFound},
		}
		for _, l := range lookups {
			got, err := s.FindConversation(ctx, l.channel, l.thread, l.user)
			if !errors.Is(err, l.want) || (err == nil && string(got.State) != `{"step":"backups"}`) {
				t.Errorf("find %s/%s/%s: %s, %v; want %v", l.channel, l.thread, l.user, got.State, err, l.want)
			}
		}

		clk.Advance(10 * time.Minute)
		if _, err := s.GetConversation(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("get an expired conversation: %v, want ErrNotFound", err)
		}
		if _, err := s.FindConversation(ctx, "C1", "171.1", "U1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("find an expired conversation: %v, want ErrNotFound", err)
		}

		c.ExpiresAt = clk.Now().Add(time.Hour)
		if err := s.SaveConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.DeleteConversation(ctx, c.ID); err != nil {
				t.Errorf("delete: %v", err)
			}
		}
		if _, err := s.GetConversation(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("get a deleted conversation: %v, want ErrNotFound", err)
		}
		if err := s.SaveConversation(ctx, Conversation{ID: "x"}); err == nil {
			t.Error("saved a conversation that never expires")
		}
	})
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.newDSN(t)
		first := openDSN(t, dsn)
		rec := mustCreate(t, first, dbRequest("dev", "payments", "orders", "U1"))
		known := len(mustMigrations(t, first))

		// Reopening applies nothing and keeps the data.
		again := openDSN(t, dsn).(*sqlStore)
		var versions int
		if err := again.w.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&versions); err != nil {
			t.Fatal(err)
		}
		if versions != known {
			t.Errorf("%d migrations recorded after reopening, want %d", versions, known)
		}
		if got, err := again.GetRequest(ctx, rec.ID()); err != nil || !reflect.DeepEqual(got, rec) {
			t.Errorf("after reopening: %+v, %v", got, err)
		}

		// A newer clustro migrated this database: refuse it.
		newer := known + 6
		if _, err := again.w.ExecContext(ctx, again.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			newer, "0007_future.sql", again.ts(time.Now())); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, dsn)
		want := fmt.Sprintf("database schema is version %d but this clustro knows up to %d; upgrade clustro", newer, known)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("open a newer schema: %v, want %q", err, want)
		}
	})
}

func mustMigrations(t *testing.T, s Store) []migration {
	t.Helper()
	ms, err := loadMigrations(s.(*sqlStore).dialect)
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations: %d, %v", len(ms), err)
	}
	return ms
}

func TestOpenRefusesMemory(t *testing.T) {
	if _, err := Open(t.Context(), ":memory:"); err == nil {
		t.Error("opened an in-memory SQLite store")
	}
}

// crashWorkerEnv tells the test binary to run as the crash test's worker,
// on the store at its value.
const crashWorkerEnv = "CLUSTRO_STORE_TEST_CRASH_WORKER_DSN"

// runCrashWorker claims a "crash" job with a one-second lease, says so on
// stdout, then hangs mid-job until it is killed.
func runCrashWorker(dsn string) int {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	job, ok, err := s.Claim(ctx, "doomed", time.Second, "crash")
	if err != nil || !ok {
		fmt.Fprintf(os.Stderr, "claim: ok %v, %v\n", ok, err)
		return 1
	}
	fmt.Printf("claimed %s\n", job.ID)
	time.Sleep(10 * time.Minute) // "running terraform"
	return 1
}

func TestCrashedWorker(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.newDSN(t)
		s := openDSN(t, dsn)
		job, _, err := s.Enqueue(ctx, NewJob{Kind: "crash", Workspace: "dev/payments/orders"})
		if err != nil {
			t.Fatal(err)
		}

		// A real worker process claims the job, and is SIGKILLed mid-job.
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashWorkerEnv+"="+dsn)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line := make(chan string, 1)
		go func() {
			l, _ := bufio.NewReader(stdout).ReadString('\n')
			line <- strings.TrimSpace(l)
		}()
		select {
		case l := <-line:
			if l != "claimed "+job.ID {
				t.Fatalf("worker said %q, want it to claim %s; stderr:\n%s", l, job.ID, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the worker did not claim the job; stderr:\n%s", stderr.String())
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if got, _ := s.GetJob(ctx, job.ID); got.State != JobRunning || got.LeaseOwner != "doomed" {
			t.Fatalf("after the kill the job is %+v, want still leased to the dead worker", got)
		}

		// Once the lease runs out a second worker takes the job over.
		var taken Job
		eventually(t, "the takeover", func() bool {
			j, ok, err := s.Claim(ctx, "survivor", time.Minute, "crash")
			if err != nil {
				t.Fatal(err)
			}
			taken = j
			return ok
		})
		if taken.ID != job.ID || taken.Attempts != 2 || taken.LeaseOwner != "survivor" {
			t.Fatalf("took over %+v, want %s on its second attempt", taken, job.ID)
		}
		// The dead worker's Complete, had it come back, is refused.
		if err := s.Complete(ctx, job.ID, "doomed", []byte("zombie")); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("the dead worker's complete: %v, want ErrLeaseLost", err)
		}
		if err := s.Complete(ctx, job.ID, "survivor", []byte("applied")); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetJob(ctx, job.ID)
		if got.State != JobDone || string(got.Result) != "applied" || got.LeaseOwner != "survivor" {
			t.Errorf("final job %+v, want done once, by the survivor", got)
		}
		if j, ok, _ := s.Claim(ctx, "third", time.Minute, "crash"); ok {
			t.Errorf("a done job was claimed again: %+v", j)
		}
	})
}

func BenchmarkQueue(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := b.Context()
			s := be.open(b)
			for b.Loop() {
				if _, _, err := s.Enqueue(ctx, NewJob{Kind: "bench", Workspace: "dev/bench/db"}); err != nil {
					b.Fatal(err)
				}
				job, ok, err := s.Claim(ctx, "w1", time.Minute, "bench")
				if err != nil || !ok {
					b.Fatalf("claim: ok %v, %v", ok, err)
				}
				if err := s.Complete(ctx, job.ID, "w1", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
