package terraform

import (
	"context"
	"slices"
	"sync"
	"testing"
)

func TestMemoryLocker(t *testing.T) {
	var l MemoryLocker
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	unlockA, err := l.LockWorkspace(ctx, "a")
	if err != nil {
		t.Fatalf("lock a: %v", err)
	}
	steps := []struct {
		name      string
		ctx       context.Context
		workspace string
		wantErr   bool
	}{
		{"a is held: waiting ends with the context", cancelled, "a", true},
		{"b is free", ctx, "b", false},
	}
	for _, s := range steps {
		unlock, err := l.LockWorkspace(s.ctx, s.workspace)
		if (err != nil) != s.wantErr {
			t.Fatalf("%s: err %v", s.name, err)
		}
		if unlock != nil {
			if err := unlock(); err != nil {
				t.Fatalf("%s: unlock: %v", s.name, err)
			}
		}
	}

	if err := unlockA(); err != nil {
		t.Fatalf("unlock a: %v", err)
	}
	unlockA2, err := l.LockWorkspace(cancelled, "a")
	if err != nil {
		// Both select cases may be ready; a free lock must still be
		// takeable with a live context.
		unlockA2, err = l.LockWorkspace(ctx, "a")
		if err != nil {
			t.Fatalf("relock a: %v", err)
		}
	}
	// A second call of the first unlock must not release the new holder.
	if err := unlockA(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	if _, err := l.LockWorkspace(cancelled, "a"); err == nil {
		t.Fatal("a was released by a stale unlock")
	}
	if err := unlockA2(); err != nil {
		t.Fatal(err)
	}
}

// recordingLocker wraps a Locker and records the workspaces it locks.
type recordingLocker struct {
	Locker
	mu     sync.Mutex
	locked []string
}

func (l *recordingLocker) LockWorkspace(ctx context.Context, ws string) (func() error, error) {
	unlock, err := l.Locker.LockWorkspace(ctx, ws)
	if err == nil {
		l.mu.Lock()
		l.locked = append(l.locked, ws)
		l.mu.Unlock()
	}
	return unlock, err
}

// TestApplyExclusive: two applies of one workspace, started together on a
// Runner that could run both at once, run one after the other: they never
// overlap, and the second finds the first one's work done.
func TestApplyExclusive(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	ws := f.workspace(t, "a", map[string]any{})
	var (
		mu        sync.Mutex
		active    int
		maxActive int
	)
	hooks := Hooks{
		OnStart: func(Job) {
			mu.Lock()
			defer mu.Unlock()
			active++
			maxActive = max(maxActive, active)
		},
		OnEnd: func(Job, error) {
			mu.Lock()
			defer mu.Unlock()
			active--
		},
	}
	locker := &recordingLocker{Locker: &MemoryLocker{}}
	r := newRunner(t, WithParallelism(2), WithHooks(hooks), WithLocker(locker))

	summaries := make([]string, 2)
	var wg sync.WaitGroup
	for i := range summaries {
		wg.Go(func() {
			res, err := r.Apply(context.Background(), ws)
			if err != nil {
				t.Errorf("Apply %d: %v", i, err)
				return
			}
			summaries[i] = res.Plan.Summary.String()
		})
	}
	wg.Wait()

	if maxActive != 1 {
		t.Errorf("%d jobs ran on the workspace at once", maxActive)
	}
	if want := []string{ws.Dir, ws.Dir}; !slices.Equal(locker.locked, want) {
		t.Errorf("locked %v, want %v", locker.locked, want)
	}
	slices.Sort(summaries)
	want := []string{"No changes. Your infrastructure matches the configuration.", "Plan: 6 to add, 0 to change, 0 to destroy."}
	if !slices.Equal(summaries, want) {
		t.Errorf("summaries %q, want %q", summaries, want)
	}
}
