package kube_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/clustropg/clustro/kube"
)

// recorder collects what a ClusterWatch hands its handler, for one
// namespace (the other tests' Clusters are seen too).
type recorder struct {
	ns string
	mu sync.Mutex
	// all is every status of the namespace seen, in order.
	all     []kube.Status
	changed chan struct{}
	calls   int // handle calls in progress; must never exceed 1
	overlap bool
}

func newRecorder(ns string) *recorder {
	return &recorder{ns: ns, changed: make(chan struct{}, 1)}
}

func (r *recorder) handle(s kube.Status) {
	r.mu.Lock()
	r.calls++
	if r.calls > 1 {
		r.overlap = true
	}
	r.mu.Unlock()
	time.Sleep(time.Millisecond) // give a concurrent call a chance to overlap
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls--
	if s.Namespace != r.ns {
		return
	}
	r.all = append(r.all, s)
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// count is how many statuses seen so far match ok.
func (r *recorder) count(ok func(kube.Status) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.all {
		if ok(s) {
			n++
		}
	}
	return n
}

// await waits until a status matching ok is seen after the first from
// statuses (an index into all); it returns the index after it.
func (r *recorder) await(t *testing.T, from int, what string, ok func(kube.Status) bool) int {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		for i := from; i < len(r.all); i++ {
			if ok(r.all[i]) {
				r.mu.Unlock()
				return i + 1
			}
		}
		var last string
		if n := len(r.all); n > 0 {
			last = r.all[n-1].String()
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-timeout:
			t.Fatalf("never saw %s; last status: %s", what, last)
		}
	}
}

// runWatch runs w until the test ends and checks Run's result then.
func runWatch(t *testing.T, w *kube.ClusterWatch) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !w.HasSynced() {
		if time.Now().After(deadline) {
			t.Fatal("the watch never synced")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func named(name string, ok func(kube.Status) bool) func(kube.Status) bool {
	return func(s kube.Status) bool { return s.Name == name && ok(s) }
}

func TestWatchClustersFollowsAClusterFromCreationToDeletion(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-watch")
	rec := newRecorder(ns)
	w := c.WatchClusters(rec.handle)
	if _, ok := w.Get(ns, "watched"); ok || w.HasSynced() {
		t.Error("a watch that was not run has a cache")
	}
	runWatch(t, w)

	createCluster(t, ns, "watched", 2)
	i := rec.await(t, 0, "the Cluster found", named("watched", func(s kube.Status) bool { return s.Found }))
	i = rec.await(t, i, "the Cluster ready with its primary", named("watched", func(s kube.Status) bool {
		return s.Ready() && s.CurrentPrimary == "watched-1"
	}))
	if s, ok := w.Get(ns, "watched"); !ok || !s.Found || s.Name != "watched" || s.Namespace != ns || s.Instances != 2 {
		t.Errorf("Get = %v, %v; want the Cluster", s, ok)
	}

	// A status written through the status subresource is seen (the
	// stand-in then writes its own back, which is seen too).
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"status":{"readyInstances":1,"currentPrimary":"watched-2","targetPrimary":"watched-2"}}`)
	if _, err := dyn.Resource(clusters).Namespace(ns).Patch(context.Background(), "watched", types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	i = rec.await(t, i, "the patched status", named("watched", func(s kube.Status) bool {
		return s.ReadyInstances == 1 && s.CurrentPrimary == "watched-2"
	}))

	if err := dyn.Resource(clusters).Namespace(ns).Delete(context.Background(), "watched", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.await(t, i, "the deletion", named("watched", func(s kube.Status) bool { return !s.Found }))
	if s, ok := w.Get(ns, "watched"); ok || s.Found || s.Namespace != ns || s.Name != "watched" {
		t.Errorf("Get after the deletion = %v, %v; want absent", s, ok)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.overlap {
		t.Error("handle was called concurrently")
	}
}

func TestWatchClustersResyncsAndSelects(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-watch-resync")
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"picked", "ignored"} {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "postgresql.cnpg.io/v1",
			"kind":       "Cluster",
			"metadata":   map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"watch-test": name}},
			"spec":       map[string]any{"instances": int64(1), "storage": map[string]any{"size": "1Gi"}},
		}}
		if _, err := dyn.Resource(clusters).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WaitReady(context.Background(), ns, "picked", kube.Timeout(time.Minute)); err != nil {
		t.Fatal(err)
	}

	rec := newRecorder(ns)
	w := c.WatchClusters(rec.handle, kube.Resync(200*time.Millisecond), kube.LabelSelector("watch-test=picked"))
	runWatch(t, w)
	// The Cluster is healthy and left alone: every delivery after the
	// first is a resync.
	ready := named("picked", kube.Status.Ready)
	i := rec.await(t, 0, "the ready Cluster", ready)
	for n := range 3 {
		i = rec.await(t, i, "resync "+string(rune('1'+n)), ready)
	}
	if n := rec.count(func(s kube.Status) bool { return s.Name == "ignored" }); n != 0 {
		t.Errorf("the Cluster the selector excludes was handed over %d times", n)
	}
	if _, ok := w.Get(ns, "ignored"); ok {
		t.Error("Get finds the Cluster the selector excludes")
	}
}

func TestWatchClustersFailsWithoutTheCRD(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	var mu sync.Mutex
	var watchErrs []error
	missing := schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "nosuchclusters"}
	w := kube.WatchResource(c, missing, func(kube.Status) {}, kube.SyncTimeout(2*time.Second), kube.OnWatchError(func(err error) {
		mu.Lock()
		watchErrs = append(watchErrs, err)
		mu.Unlock()
	}))
	start := time.Now()
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "CRD installed") {
		t.Fatalf("Run = %v, want an error asking about the CRD", err)
	}
	t.Logf("Run: %v", err)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Run took %s to give up", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(watchErrs) == 0 {
		t.Error("OnWatchError was not called")
	}
	if err := w.Run(context.Background()); err == nil {
		t.Error("a second Run did not fail")
	}
	if ctxErr := errors.Unwrap(err); ctxErr == nil {
		t.Error("Run's error wraps nothing")
	}
}

func TestWatchClustersSeesAFailover(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-watch-failover")
	rec := newRecorder(ns)
	w := c.WatchClusters(rec.handle)
	runWatch(t, w)
	createCluster(t, ns, "watch-fo", 3)
	i := rec.await(t, 0, "the Cluster ready on watch-fo-1", named("watch-fo", func(s kube.Status) bool {
		return s.Ready() && s.CurrentPrimary == "watch-fo-1"
	}))
	env.op.Failover("watch-fo")
	rec.await(t, i, "the Cluster ready on watch-fo-2", named("watch-fo", func(s kube.Status) bool {
		return s.Ready() && s.CurrentPrimary == "watch-fo-2" && s.TargetPrimary == "watch-fo-2"
	}))
	// The watch delivers every update: the failover itself was seen.
	if n := rec.count(named("watch-fo", func(s kube.Status) bool {
		return s.Phase == "Failing over" && s.CurrentPrimary == "watch-fo-1" && s.TargetPrimary == "watch-fo-2" && !s.Ready()
	})); n == 0 {
		t.Error("the Failing over status was not handed over")
	}
	if s, ok := w.Get(ns, "watch-fo"); !ok || s.CurrentPrimary != "watch-fo-2" {
		t.Errorf("Get = %v, %v; want primary watch-fo-2", s, ok)
	}
}
