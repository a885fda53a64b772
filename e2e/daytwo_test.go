package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// ready provisions a database through the whole loop and returns its
// ready record.
func (w *world) ready(spec request.Spec) store.Record {
	w.t.Helper()
	rec, _, err := w.pipe.Submit(w.ctx, request.DatabaseRequest{
		Spec: spec, Requester: request.Requester{ID: "U9"}, Origin: request.Origin{Kind: request.OriginAPI, APIClient: "backstage"},
	}, store.Idempotency{})
	if err != nil {
		w.t.Fatal(err)
	}
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
		w.t.Fatal(err)
	}
	return w.waitState(rec.ID(), request.Ready, 3*time.Minute)
}

// watchOf reads a database's watch record (the zero record when none).
func (w *world) watchOf(key store.DatabaseKey) store.Watch {
	w.t.Helper()
	wr, err := w.store.GetWatch(w.ctx, key)
	if err != nil && !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
		w.t.Fatal(err)
	}
	return wr
}

// driftEngine runs the drift checks on an engine of their own, as serve does.
func (w *world) driftEngine() {
	w.t.Helper()
	eng := engine.New(w.store, engine.Poll(20*time.Millisecond), engine.Workers(1), engine.Logger(zerolog.New(w.logs)))
	w.pipe.RegisterDrift(eng, nil)
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	w.t.Cleanup(func() { cancel(); <-done })
}

// checkDrift runs one drift pass and waits until its checks are done.
func (w *world) checkDrift() {
	w.t.Helper()
	before := w.doneJobs(pipeline.JobDrift)
	if err := w.pipe.CheckDrift(w.ctx, 0); err != nil {
		w.t.Fatal(err)
	}
	w.waitFor("a drift check", 2*time.Minute, func() bool { return w.doneJobs(pipeline.JobDrift) > before })
	w.waitFor("the queue to drain", 30*time.Second, func() bool { return w.pending() == 0 })
}

func (w *world) doneJobs(kind string) int {
	js, err := w.store.ListJobs(w.ctx, store.JobFilter{Kind: kind, States: []store.JobState{store.JobDone}})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(js)
}

func (w *world) pending() int {
	js, err := w.store.ListJobs(w.ctx, store.JobFilter{States: []store.JobState{store.JobQueued, store.JobRunning}})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(js)
}

// TestDriftIsToldOnceAndReconciled: a Cluster edited behind Terraform's
// back (3 instances to 1, a parameter changed) is found by the drift
// check and told once, however often it is checked; a reconcile shows the
// plan, applies it once confirmed, and the drift is gone.
func TestDriftIsToldOnceAndReconciled(t *testing.T) {
	w := newWorld(t, 2*time.Minute)
	w.driftEngine()
	rec := w.ready(request.Spec{Name: "orders", Team: "shop", Environment: "prod", Size: request.SizeS, Instances: 3})
	key := store.DatabaseKey{Environment: "prod", Team: "shop", Name: "orders"}
	ns := w.cfg.Policy.NamespaceFor(rec.Request.Spec)

	// A clean workspace is not news.
	w.checkDrift()
	if n := len(w.notices.find(request.NoticeDrift)); n != 0 {
		t.Fatalf("%d drift notices for a workspace nobody touched", n)
	}

	// Someone edits the Cluster by hand.
	patch := `{"spec":{"instances":1,"postgresql":{"parameters":{"work_mem":"64MB"}}}}`
	if _, err := w.dyn.Resource(clusterGVR).Namespace(ns).Patch(w.ctx, "orders", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.checkDrift()
	w.checkDrift() // the same drift again: no second notice
	drifts := w.notices.find(request.NoticeDrift)
	if len(drifts) != 1 {
		t.Fatalf("%d drift notices after two checks of one drift, want 1: %+v", len(drifts), drifts)
	}
	if !strings.Contains(drifts[0].Text, "kubectl_manifest.cluster") || !strings.Contains(drifts[0].Plan, "1 to change") {
		t.Errorf("the drift notice does not say what drifted: %q (plan %q)", drifts[0].Text, drifts[0].Plan)
	}
	wr := w.watchOf(key)
	if wr.Drift == nil || wr.Drift.Summary != drifts[0].Plan || len(wr.Drift.Resources) == 0 {
		t.Fatalf("the database's record lacks the drift: %+v", wr.Drift)
	}

	// Reconcile: a plan to confirm, nothing applied before.
	who := request.Requester{ID: "U42", Name: "Grace"}
	r, err := w.pipe.Reconcile(w.ctx, key, who, request.Origin{Kind: request.OriginSlack, SlackChannel: "C1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("the reconcile plan", time.Minute, func() bool { return len(w.notices.find(request.NoticeReconcilePlan)) == 1 })
	plan := w.notices.find(request.NoticeReconcilePlan)[0]
	if plan.Reconcile == nil || plan.Reconcile.ID != r.ID || plan.Reconcile.State != request.ReconcilePlanned || !strings.Contains(plan.Plan, "1 to change") {
		t.Fatalf("reconcile plan notice = %+v", plan)
	}
	if got := nestedInt(t, w.get(clusterGVR, ns, "orders"), "spec", "instances"); got != 1 {
		t.Fatalf("instances = %d before the reconcile was confirmed, want the drifted 1", got)
	}
	if _, err := w.pipe.Reconcile(w.ctx, key, who, request.Origin{Kind: request.OriginSlack}, "not-"+r.ID); err == nil {
		t.Fatal("a reconcile confirmed with a wrong id was accepted")
	}
	if _, err := w.pipe.Reconcile(w.ctx, key, who, request.Origin{Kind: request.OriginSlack}, r.ID); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the reconcile", 2*time.Minute, func() bool { return len(w.notices.find(request.NoticeReconciled)) == 1 })
	c := w.get(clusterGVR, ns, "orders")
	if got := nestedInt(t, c, "spec", "instances"); got != 3 {
		t.Errorf("instances = %d after the reconcile, want 3", got)
	}
	if v, _, _ := unstructured.NestedString(c.Object, "spec", "postgresql", "parameters", "work_mem"); v == "64MB" {
		t.Errorf("work_mem is still the hand-set 64MB after the reconcile")
	}
	wr = w.watchOf(key)
	if wr.Drift != nil || wr.Reconcile == nil || wr.Reconcile.State != request.ReconcileDone || wr.Reconcile.Confirmer == nil || wr.Reconcile.Confirmer.ID != "U42" {
		t.Fatalf("after the reconcile: drift %+v, reconcile %+v", wr.Drift, wr.Reconcile)
	}
	w.checkDrift()
	if n := len(w.notices.find(request.NoticeDrift)); n != 1 {
		t.Errorf("%d drift notices after the reconcile, want still 1", n)
	}
	evs, err := w.store.Events(w.ctx, rec.ID())
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	for _, e := range evs {
		if strings.Contains(e.Detail, "reconcile") {
			audit = append(audit, e.Actor+": "+e.Detail)
		}
	}
	if len(audit) != 3 {
		t.Errorf("audit of the reconcile = %q, want asked, confirmed and done", audit)
	}
}

func nestedInt(t *testing.T, u *unstructured.Unstructured, fields ...string) int64 {
	t.Helper()
	v, _, err := unstructured.NestedInt64(u.Object, fields...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHealthIsToldOncePerTransition: two replicas, each with its own
// store connection, watch the same cluster; a degraded cluster, its
// recovery, a failover and the Cluster's deletion are each told once, in
// the database's thread. On SQLite and on PostgreSQL.
func TestHealthIsToldOncePerTransition(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			testHealthIsToldOncePerTransition(t, newWorldWith(t, worldOptions{readyTimeout: 2 * time.Minute, postgres: backend == "postgres"}))
		})
	}
}

func testHealthIsToldOncePerTransition(t *testing.T, w *world) {
	rec := w.ready(request.Spec{Name: "stock", Team: "shop", Environment: "prod", Size: request.SizeS, Instances: 3})
	key := store.DatabaseKey{Environment: "prod", Team: "shop", Name: "stock"}
	ns := w.cfg.Policy.NamespaceFor(rec.Request.Spec)

	// Two replicas: two pipelines, each with its own watch, sharing the store.
	for i := range 2 {
		st, err := store.Open(w.ctx, w.storeDSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		p := pipeline.New(pipeline.Deps{Store: st, Renderer: w.renderer, Log: zerolog.New(w.logs).With().Int("replica", i).Logger()}, pipeline.Config{})
		c, err := kube.New(w.cp.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(w.ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.Watch(ctx, map[string]*kube.Client{"prod": c}, pipeline.WatchOptions{Resync: 2 * time.Second})
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	w.waitFor("the first observation", 30*time.Second, func() bool { return w.watchOf(key).Health != nil })
	if h := w.watchOf(key).Health; !h.Healthy() || h.Primary != "stock-1" {
		t.Fatalf("first health = %s, want healthy with primary stock-1", h)
	}
	if n := len(w.healthNotices()); n != 0 {
		t.Fatalf("a healthy cluster was told: %v", w.healthNotices())
	}

	// step acts, waits for the notices it must cause, lets two resyncs
	// pass (a duplicate from either replica would show by then) and
	// returns what was told.
	step := func(what string, act func(), wait string) []request.Notice {
		t.Helper()
		before := len(w.healthNotices())
		act()
		w.waitFor(what, 30*time.Second, func() bool {
			for _, n := range w.healthNotices()[before:] {
				if n.Kind == wait {
					return true
				}
			}
			return false
		})
		time.Sleep(3 * time.Second)
		return w.healthNotices()[before:]
	}
	once := func(what string, got []request.Notice, want ...string) {
		t.Helper()
		if fmt.Sprint(kinds(got)) != fmt.Sprint(want) {
			t.Fatalf("%s: notices %v, want %v", what, texts(got), want)
		}
	}
	once("a degraded cluster", step("a degraded cluster", func() { w.op.Behave("stock", controlplane.Degraded("node lost")) }, request.NoticeUnhealthy), request.NoticeUnhealthy)
	if h := w.watchOf(key).Health; h.Healthy() || h.ReadyInstances != 2 || h.Reason != "node lost" {
		t.Errorf("recorded health = %s, want 2/3 ready for node lost", h)
	}
	once("its recovery", step("its recovery", func() { w.op.Behave("stock", controlplane.Ready()) }, request.NoticeRecovered), request.NoticeRecovered)

	// A failover goes through the "Failing over" phase; whether the watch
	// sees it depends on timing, but the primary's change is told once,
	// and an unhealthy notice only with its recovery.
	got := step("a failover", func() { w.op.Failover("stock") }, request.NoticeFailover)
	count := map[string]int{}
	for _, n := range got {
		count[n.Kind]++
		if n.Kind == request.NoticeFailover && !strings.Contains(n.Text, "from stock-1 to stock-2") {
			t.Errorf("failover notice = %q, want the old and new primary", n.Text)
		}
	}
	if count[request.NoticeFailover] != 1 || count[request.NoticeUnhealthy] > 1 || count[request.NoticeUnhealthy] != count[request.NoticeRecovered] || count[request.NoticeGone] > 0 {
		t.Fatalf("a failover: notices %v, want one failover (and at most one unhealthy with its recovery)", texts(got))
	}
	if h := w.watchOf(key).Health; !h.Healthy() || h.Primary != "stock-2" {
		t.Errorf("recorded health after the failover = %s, want healthy with primary stock-2", h)
	}
	once("the Cluster deleted by hand", step("the Cluster deleted by hand", func() {
		if err := w.dyn.Resource(clusterGVR).Namespace(ns).Delete(w.ctx, "stock", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}, request.NoticeGone), request.NoticeGone)
	if h := w.watchOf(key).Health; h.Found {
		t.Errorf("recorded health = %s after the deletion", h)
	}
	raw, _ := json.Marshal(w.healthNotices())
	for _, secret := range []string{webhookSecret, githubToken} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("a notice holds a secret")
		}
	}
}

func (w *world) healthNotices() []request.Notice {
	var out []request.Notice
	for _, n := range w.notices.all() {
		switch n.Kind {
		case request.NoticeUnhealthy, request.NoticeRecovered, request.NoticeFailover, request.NoticeGone:
			out = append(out, n)
		}
	}
	return out
}

func kinds(ns []request.Notice) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Kind
	}
	return out
}

func texts(ns []request.Notice) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Kind + ": " + n.Text
	}
	return out
}
