package kube_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/kube"
)

// describe is a progress report in a comparable form.
func describe(s kube.Status) string {
	if !s.Found {
		return "absent"
	}
	return strings.TrimSpace(s.Phase + " " + strings.Repeat("*", int(s.ReadyInstances)))
}

func TestWaitReadyFollowsAClusterCreatedAfterItStarted(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-later")
	env.op.Behave("late", controlplane.Slow(time.Second))

	var progress []string
	started := make(chan struct{})
	type result struct {
		status kube.Status
		err    error
	}
	done := make(chan result, 1)
	go func() {
		st, err := c.WaitReady(context.Background(), ns, "late", kube.Timeout(time.Minute), kube.OnProgress(func(s kube.Status) {
			progress = append(progress, describe(s))
			if len(progress) == 1 {
				close(started)
			}
		}))
		done <- result{st, err}
	}()
	<-started // WaitReady saw that the Cluster does not exist yet
	createCluster(t, ns, "late", 2)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.status.Ready() || r.status.ReadyInstances != 2 || r.status.Instances != 2 {
		t.Errorf("WaitReady returned %v, want ready with 2/2 instances", r.status)
	}
	want := []string{"absent", "", "Setting up primary", "Cluster in healthy state **"}
	if !slices.Equal(progress, want) {
		t.Errorf("progress = %q, want %q", progress, want)
	}
}

func TestWaitReadyOnAReadyCluster(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-ready")
	readyCluster(t, c, ns, "steady")

	var progress []string
	st, err := c.WaitReady(context.Background(), ns, "steady", kube.OnProgress(func(s kube.Status) { progress = append(progress, describe(s)) }))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready() {
		t.Errorf("status %v is not ready", st)
	}
	if want := []string{"Cluster in healthy state *"}; !slices.Equal(progress, want) {
		t.Errorf("progress = %q, want %q", progress, want)
	}
}

func TestWaitReadyTimesOutWithTheReason(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-fail")
	const reason = "ImagePullBackOff: ghcr.io/cloudnative-pg/postgresql:99 not found"
	env.op.Behave("ledger", controlplane.Fail(reason))
	createCluster(t, ns, "ledger", 3)

	// Wait until the stand-in has reported the failure, then give up: a
	// cancelled wait is a NotReadyError too.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.WaitReady(ctx, ns, "ledger", kube.OnProgress(func(s kube.Status) {
		if s.PhaseReason != "" {
			cancel()
		}
	}))
	cancel()
	var nre *kube.NotReadyError
	if !errors.As(err, &nre) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled WaitReady = %v, want a *NotReadyError wrapping context.Canceled", err)
	}

	_, err = c.WaitReady(context.Background(), ns, "ledger", kube.Timeout(time.Second))
	if !errors.As(err, &nre) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady = %v, want a *NotReadyError wrapping context.DeadlineExceeded", err)
	}
	msg := err.Error()
	t.Logf("timeout: %s", msg)
	for _, want := range []string{
		"cluster kube-fail/ledger not ready after 1s: ",
		`phase "Setting up primary"`,
		"0/3 instances ready",
		"Ready=False (ClusterIsNotReady: " + reason + ")",
		"recent events: Warning SetupFailed: " + reason,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q\nlacks %q", msg, want)
		}
	}
	if nre.Last.Phase != "Setting up primary" || nre.Last.Ready() || len(nre.Events) == 0 {
		t.Errorf("NotReadyError = %+v: want the last status and events", nre)
	}
}
