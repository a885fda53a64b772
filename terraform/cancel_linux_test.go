package terraform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCancel: an apply stuck in a provisioner (a shell whose child sleeps
// 30 s) is stopped when the job's timeout expires or its context is
// cancelled. Apply returns a cancellation error without waiting for the
// sleep, and no process of the job is left running.
func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration // the run's timeout; the runner's when zero
		cancel  bool          // cancel the context once the provisioner runs
		want    error
	}{
		{name: "timeout", timeout: 3 * time.Second, want: context.DeadlineExceeded},
		{name: "cancel", cancel: true, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newInfra(t)
			pidFile := filepath.Join(t.TempDir(), "sleep.pid")
			ws := f.workspace(t, "a", map[string]any{"slow": true, "pid_file": pidFile})
			r := newRunner(t, WithWaitDelay(10*time.Second))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var opts []RunOption
			if tt.timeout > 0 {
				opts = append(opts, WithTimeout(tt.timeout))
			}
			if tt.cancel {
				go func() {
					for ctx.Err() == nil {
						if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
							cancel()
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}

			start := time.Now()
			_, err := r.Apply(ctx, ws, opts...)
			elapsed := time.Since(start)

			var te *Error
			if !errors.As(err, &te) || !te.Cancelled() || !errors.Is(err, tt.want) {
				t.Fatalf("Apply: %v, want a cancelled *Error wrapping %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "cancelled: "+tt.want.Error()) {
				t.Errorf("error does not say it was cancelled: %v", err)
			}
			if elapsed >= 30*time.Second {
				t.Errorf("Apply waited for the provisioner's sleep (%v)", elapsed)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				if tt.cancel {
					t.Fatalf("read the sleep's pid: %v", err)
				}
				return // timed out before the provisioner ran
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file: %v", err)
			}
			if alive(pid) {
				t.Errorf("the provisioner's sleep (pid %d) outlived the job", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
}
