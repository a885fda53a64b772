package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/internal/loadrun"
	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// driftedWorkspaces is how many real workspaces BenchmarkDriftCheck plans.
const driftedWorkspaces = 3

// BenchmarkDriftCheck measures a drift pass over real workspaces
// (provisioned through the whole loop): the CPU of the checks, terraform
// included, and the GitHub calls of a pass. One op is one pass over
// driftedWorkspaces workspaces; the README scales it to 1,000.
func BenchmarkDriftCheck(b *testing.B) {
	w := newWorldB(b)
	w.driftEngine()
	for i := range driftedWorkspaces {
		w.ready(request.Spec{Name: fmt.Sprintf("drift%d", i), Team: "perf", Environment: "dev", Size: request.SizeS})
	}
	w.checkDrift() // the first pass downloads the base branch's tree
	var selfCPU, childCPU time.Duration
	var github int
	b.ResetTimer()
	for range b.N {
		s0, c0, g0, d0 := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN), len(w.gh.Requests()), w.doneJobs(pipeline.JobDrift)
		if err := w.pipe.CheckDrift(w.ctx, 0); err != nil {
			b.Fatal(err)
		}
		w.waitFor("a drift pass", 5*time.Minute, func() bool { return w.doneJobs(pipeline.JobDrift) >= d0+driftedWorkspaces })
		selfCPU += cpuTime(syscall.RUSAGE_SELF) - s0
		childCPU += cpuTime(syscall.RUSAGE_CHILDREN) - c0
		github += len(w.gh.Requests()) - g0
	}
	b.StopTimer()
	checks := float64(b.N * driftedWorkspaces)
	b.ReportMetric(float64(selfCPU.Milliseconds())/checks, "clustro-cpu-ms/check")
	b.ReportMetric(float64(childCPU.Milliseconds())/checks, "terraform-cpu-ms/check")
	b.ReportMetric(float64(github)/float64(b.N), "github-calls/pass")
}

// watchedDatabases is how many ready databases BenchmarkWatchCost watches.
const watchedDatabases = 1000

// BenchmarkWatchCost measures the health watch of 1,000 ready databases
// (1,000 stand-in Cluster objects in the real API server, 1,000 ready
// requests in a SQLite store): the Kubernetes calls and the CPU of the
// first sync, then of each resync round (the informer redelivers every
// Cluster and the sweep checks every ready database). One op is one
// resync round; the README turns it into a cost per hour.
//
// No operator stand-in may run meanwhile (it would provision the 1,000
// Clusters): BenchmarkDriftCheck, above it in this file, runs and stops
// its own before this one starts.
func BenchmarkWatchCost(b *testing.B) {
	// The testing package calls a benchmark once with b.N = 1 before the
	// real run: the 1,000 databases and the watch are set up once.
	watchBenchOnce.Do(func() { watchBench, watchBenchErr = startWatchBench(b) })
	if watchBenchErr != nil {
		b.Fatal(watchBenchErr)
	}
	wb := watchBench
	wb.calls.Store(0)
	cpu0 := cpuTime(syscall.RUSAGE_SELF)
	b.ResetTimer()
	time.Sleep(time.Duration(b.N) * watchBenchResync)
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(syscall.RUSAGE_SELF)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/resync")
	b.ReportMetric(float64(wb.calls.Load())/float64(b.N), "kube-calls/resync")
	b.ReportMetric(float64(wb.firstSync.Milliseconds()), "first-sync-ms")
	b.ReportMetric(float64(wb.firstCPU.Milliseconds()), "first-sync-cpu-ms")
	b.ReportMetric(float64(wb.firstCalls), "first-sync-kube-calls")
}

// watchBenchResync is the resync period of BenchmarkWatchCost: one op.
const watchBenchResync = 3 * time.Second

var (
	watchBenchOnce sync.Once
	watchBench     *watchBenchState
	watchBenchErr  error
)

// watchBenchState is BenchmarkWatchCost's watch, running until the
// process ends.
type watchBenchState struct {
	calls      atomic.Int64 // Kubernetes calls of the watch's client
	firstSync  time.Duration
	firstCPU   time.Duration
	firstCalls int64
}

func startWatchBench(b *testing.B) (*watchBenchState, error) {
	startShared(b)
	ctx := context.Background()
	cfg, err := config.Load("", nil)
	if err != nil {
		return nil, err
	}
	renderer, err := templates.New(cfg.Templates())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "clustro-watch-bench-")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, filepath.Join(dir, "clustro.db"))
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(sharedCP.RESTConfig())
	if err != nil {
		return nil, err
	}
	envs := map[string]bool{}
	for i := range watchedDatabases {
		r, err := loadrun.Database(&cfg.Policy, fmt.Sprintf("w%04d", i), i, request.Origin{Kind: request.OriginAPI})
		if err != nil {
			return nil, err
		}
		if err := loadrun.CreateReady(ctx, st, r, request.Event{Actor: "bench", Origin: "bench"}); err != nil {
			return nil, err
		}
		ns := cfg.Policy.NamespaceFor(r.Spec)
		if err := sharedCP.EnsureNamespace(ctx, ns); err != nil {
			return nil, err
		}
		if err := createHealthyCluster(ctx, dyn, ns, r.Spec.Name, int64(r.Spec.Instances)); err != nil {
			return nil, err
		}
		envs[r.Spec.Environment] = true
	}

	wb := &watchBenchState{}
	rc := sharedCP.RESTConfig()
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) { wb.calls.Add(1); return rt.RoundTrip(r) })
	}
	kc, err := kube.New(rc)
	if err != nil {
		return nil, err
	}
	clients := map[string]*kube.Client{}
	for env := range envs {
		clients[env] = kc // one API server plays every environment's cluster
	}
	p := pipeline.New(pipeline.Deps{Store: st, Renderer: renderer, Log: zerolog.Nop()}, pipeline.Config{})
	cpu0 := cpuTime(syscall.RUSAGE_SELF)
	start := time.Now()
	go p.Watch(ctx, clients, pipeline.WatchOptions{Resync: watchBenchResync})
	for {
		n, err := st.CountWatches(ctx)
		if err != nil {
			return nil, err
		}
		if n.Watched == watchedDatabases {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return nil, fmt.Errorf("%d of %d databases observed after 5 minutes", n.Watched, watchedDatabases)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wb.firstSync, wb.firstCPU, wb.firstCalls = time.Since(start), cpuTime(syscall.RUSAGE_SELF)-cpu0, wb.calls.Load()
	return wb, nil
}

// createHealthyCluster creates a Cluster labelled as ClustroPG's with the
// status CloudNativePG writes for a healthy one.
func createHealthyCluster(ctx context.Context, dyn dynamic.Interface, ns, name string, instances int64) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app.kubernetes.io/managed-by": "clustropg"}},
		"spec":     map[string]any{"instances": instances, "storage": map[string]any{"size": "1Gi"}},
	}}
	created, err := dyn.Resource(clusterGVR).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Object["status"] = map[string]any{
		"phase": request.HealthyPhase, "instances": instances, "readyInstances": instances,
		"currentPrimary": name + "-1", "targetPrimary": name + "-1",
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "Cluster is Ready",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
	}
	_, err = dyn.Resource(clusterGVR).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cpuTime is the user and system CPU time of who (RUSAGE_SELF: this
// process; RUSAGE_CHILDREN: its children that have ended, e.g. terraform).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
