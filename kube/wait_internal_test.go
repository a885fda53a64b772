package kube

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

// at is a Cluster at a resourceVersion in a phase, ready or not.
func at(rv int, phase string, ready bool) *unstructured.Unstructured {
	cond := "False"
	readyInstances := int64(0)
	if ready {
		cond, readyInstances = "True", 1
	}
	u := cluster(int64(1), map[string]any{"phase": phase, "readyInstances": readyInstances, "conditions": readyCondition(cond, 0)})
	u.SetResourceVersion(strconv.Itoa(rv))
	return u
}

// A watch the server closes is opened again from the last resourceVersion
// seen; one that expired (410) makes WaitReady read the Cluster again.
func TestWaitReadyReestablishesTheWatch(t *testing.T) {
	closed := watch.NewFakeWithChanSize(4, false)
	closed.Modify(at(11, "Setting up primary", false))
	closed.Stop()
	expired := watch.NewFakeWithChanSize(4, false)
	expired.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
	healthy := watch.NewFakeWithChanSize(4, false)
	healthy.Modify(at(21, HealthyPhase, true))
	watchers := []*watch.FakeWatcher{closed, expired, healthy}

	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{clusterResource: "ClusterList"})
	var mu sync.Mutex
	var gets int
	var watchedFrom []string
	client.PrependReactor("get", "clusters", func(clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		gets++
		return true, at(gets*10, "Setting up primary", false), nil
	})
	client.PrependWatchReactor("clusters", func(a clienttesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		watchedFrom = append(watchedFrom, a.(clienttesting.WatchAction).GetWatchRestrictions().ResourceVersion)
		w := watchers[0]
		watchers = watchers[1:]
		return true, w, nil
	})

	c := &Client{dyn: client}
	var phases []string
	st, err := c.WaitReady(context.Background(), "billing-prod", "ledger", OnProgress(func(s Status) { phases = append(phases, s.Phase) }))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready() {
		t.Errorf("WaitReady returned %v, want ready", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"10", "11", "20"}; !slices.Equal(watchedFrom, want) {
		t.Errorf("watched from resource versions %q, want %q", watchedFrom, want)
	}
	if gets != 2 {
		t.Errorf("read the Cluster %d times, want 2 (at the start and after the 410)", gets)
	}
	if want := []string{"Setting up primary", HealthyPhase}; !slices.Equal(phases, want) {
		t.Errorf("progress = %q, want %q", phases, want)
	}
}
