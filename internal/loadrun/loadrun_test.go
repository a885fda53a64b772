package loadrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

func TestReadMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status: Linux only")
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("this test's memory is %+v: want RSS > 0 and the peak (HWM) at least RSS", m)
	}
	if _, err := ReadMemory(1 << 30); err == nil {
		t.Error("read the memory of a process that does not exist")
	}
}

func TestMachine(t *testing.T) {
	got := Machine()
	for _, want := range []string{fmt.Sprintf(", %d cores", runtime.NumCPU()), runtime.Version()} {
		if !strings.Contains(got, want) {
			t.Errorf("Machine() = %q, does not say %q", got, want)
		}
	}
}

// TestSeed: the seeded databases are stored, each ready.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	path := StorePath(t.TempDir())
	ev := request.Event{Actor: "loadrun-test", Origin: "seed"}
	err := Seed(ctx, path, func(st store.Store, policy *request.Policy) error {
		for i := range 3 {
			r, err := Database(policy, fmt.Sprintf("db%d", i), i, request.Origin{Kind: request.OriginAPI})
			if err != nil {
				return err
			}
			if err := CreateReady(ctx, st, r, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts, err := st.CountRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[request.Ready] != 3 || len(counts) != 1 {
		t.Errorf("the store holds %v, want 3 ready", counts)
	}
}

func TestGitHubEnv(t *testing.T) {
	dir := t.TempDir()
	env, err := GitHubEnv(dir, "http://127.0.0.1:9/", "load/infra", "a-token", "a-secret")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	for _, want := range []string{"CLUSTRO_KUBECONFIG=" + kubeconfig, "CLUSTRO_GITHUB_REPO=load/infra", "CLUSTRO_GITHUB_WEBHOOK_SECRET=a-secret"} {
		if !strings.Contains(strings.Join(env, "\n"), want) {
			t.Errorf("GitHubEnv is %q: no %q", env, want)
		}
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Error(err)
	}
}
