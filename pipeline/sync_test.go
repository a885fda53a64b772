package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/server"
	"github.com/clustropg/clustro/store"
)

// syncWorld is a store and a GitHub emulator whose webhooks go nowhere:
// every delivery is missed, and only Sync can catch up.
type syncWorld struct {
	ctx context.Context
	st  store.Store
	gh  *githubtest.Server
	n   int
}

func newSyncWorld(t *testing.T, o githubtest.Options) *syncWorld {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "clustro.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o.Owner, o.Repo = "acme", "infra"
	return &syncWorld{ctx: ctx, st: st, gh: githubtest.NewT(t, o)}
}

// pipeline is a replica of ClustroPG: a Pipeline on the world's store,
// with its own GitHub client (its own memory of ETags). Options set the
// client's rate-limit handling.
func (w *syncWorld) pipeline(t *testing.T, o gitops.Options) *Pipeline {
	t.Helper()
	o.APIURL, o.Repo, o.Auth = w.gh.URL()+"/", "acme/infra", gitops.Auth{Token: w.gh.Token()}
	c, err := gitops.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return &Pipeline{store: w.st, github: c, wake: func() {}}
}

// openRequest stores a request whose pull request number is open: in
// state pr_open, or planned.
func (w *syncWorld) openRequest(t *testing.T, number int, planned bool) store.Record {
	t.Helper()
	w.n++
	r := request.DatabaseRequest{Kind: request.Create, Spec: request.Spec{Name: fmt.Sprintf("db%d", w.n), Team: "shop", Environment: "dev",
		Size: request.SizeS, Instances: 1, PostgresVersion: 17}, Requester: request.Requester{ID: "U1"}, Origin: request.Origin{Kind: request.OriginAPI}}
	rec, _, err := w.st.CreateRequest(w.ctx, store.NewRequest{Request: r, Event: request.Event{Actor: "U1", Origin: request.OriginAPI}})
	if err != nil {
		t.Fatal(err)
	}
	ev := request.Event{Actor: "clustro", Origin: "engine"}
	if _, err := w.st.UpdateRequest(w.ctx, rec.ID(), store.Change{PR: &store.PullRequest{Number: number}}, ev); err != nil {
		t.Fatal(err)
	}
	if rec, err = w.st.Transition(w.ctx, rec.ID(), request.PROpen, ev); err != nil {
		t.Fatal(err)
	}
	if planned {
		if rec, err = w.st.Transition(w.ctx, rec.ID(), request.Planned, ev); err != nil {
			t.Fatal(err)
		}
	}
	return rec
}

// openPR opens a real pull request on the emulator, and its request.
func (w *syncWorld) openPR(t *testing.T, p *Pipeline, planned bool) (gitops.PR, store.Record) {
	t.Helper()
	w.n++
	pr, err := p.github.OpenPR(w.ctx, gitops.Change{Branch: fmt.Sprintf("clustro/r%d", w.n), Title: "clustro: a database", Message: "a database",
		Files: map[string][]byte{fmt.Sprintf("databases/dev/shop/db%d/main.tf", w.n): []byte("# db\n")}})
	if err != nil {
		t.Fatal(err)
	}
	return pr, w.openRequest(t, pr.Number, planned)
}

// events are the github_event jobs queued so far.
func (w *syncWorld) events(t *testing.T) []gitops.Event {
	t.Helper()
	jobs, err := w.st.ListJobs(w.ctx, store.JobFilter{Kind: JobGitHubEvent})
	if err != nil {
		t.Fatal(err)
	}
	var out []gitops.Event
	for _, j := range jobs {
		var ev gitops.Event
		if err := json.Unmarshal(j.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// calls counts the requests the emulator answered since mark, and says
// what they were.
func (w *syncWorld) calls(mark int) (int, []string) {
	reqs := w.gh.Requests()[mark:]
	var what []string
	for _, r := range reqs {
		what = append(what, fmt.Sprintf("%s -> %d", r, r.StatusCode))
	}
	return len(reqs), what
}

func (w *syncWorld) sync(t *testing.T, p *Pipeline) (calls int, what []string) {
	t.Helper()
	mark := len(w.gh.Requests())
	if err := p.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	return w.calls(mark)
}

// TestSyncCallsDoNotGrowWithOpenRequests: with 1,000 open requests and
// nothing changed, a pass costs one call, and the next one a 304 that
// GitHub does not count. (Their pull requests are open on GitHub: Sync
// reads the list of closed ones, where they are not, so the emulator holds
// only the ones the test closes.)
func TestSyncCallsDoNotGrowWithOpenRequests(t *testing.T) {
	w := newSyncWorld(t, githubtest.Options{})
	p := w.pipeline(t, gitops.Options{})
	pr, _ := w.openPR(t, p, true)
	for i := range 999 {
		w.openRequest(t, 10_000+i, i%2 == 0)
	}
	const list = "/repos/acme/infra/pulls"
	lists := w.gh.Calls("GET", list) // OpenPR looked for an existing pull request
	first, what := w.sync(t, p)
	if first > 2 {
		t.Errorf("the first pass made %d calls with 1,000 open requests, want at most 2: %v", first, what)
	}
	used := w.gh.RateLimit().Used
	n, what := w.sync(t, p)
	if n != 1 || w.gh.Requests()[len(w.gh.Requests())-1].StatusCode != http.StatusNotModified {
		t.Errorf("the second pass made %v, want one 304", what)
	}
	if w.gh.RateLimit().Used != used {
		t.Errorf("the second pass cost %d of the budget, want none", w.gh.RateLimit().Used-used)
	}
	if evs := w.events(t); len(evs) != 0 {
		t.Errorf("queued %d events, want none: nothing was closed", len(evs))
	}
	if lists, reads := w.gh.Calls("GET", list)-lists, w.gh.Calls("GET", fmt.Sprintf("%s/%d", list, pr.Number)); lists != 2 || reads != 0 {
		t.Errorf("two passes listed %d times and read the open pull request %d times, want 2 and 0", lists, reads)
	}
	t.Logf("1,000 open requests (PR #%d and 999 others): %d call(s) on the first pass, then one 304", pr.Number, first)
}

// TestSyncFindsMissedCloses: a pull request merged and another closed
// while their deliveries were missed are found, each event queued once,
// as the webhook would have queued it (who merged, the merge commit).
func TestSyncFindsMissedCloses(t *testing.T) {
	w := newSyncWorld(t, githubtest.Options{})
	p := w.pipeline(t, gitops.Options{})
	merged, mergedRec := w.openPR(t, p, true)
	closed, closedRec := w.openPR(t, p, false)
	still, _ := w.openPR(t, p, true)
	w.sync(t, p)

	sha, err := w.gh.Merge(merged.Number, "reviewer")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.gh.ClosePull(closed.Number, "octocat"); err != nil {
		t.Fatal(err)
	}
	n, what := w.sync(t, p)
	if n > 2 {
		t.Errorf("the pass made %d calls, want the list and a read of the merged pull request: %v", n, what)
	}
	evs := w.events(t)
	want := []gitops.Event{
		{Type: "pull_request", Action: "closed", PR: merged.Number, Merged: true, MergeSHA: sha, Sender: "reviewer", Delivery: "sync"},
		{Type: "pull_request", Action: "closed", PR: closed.Number, Sender: "github", Delivery: "sync"},
	}
	if len(evs) != 2 {
		t.Fatalf("queued %+v, want the merge and the close", evs)
	}
	slices.SortFunc(evs, func(a, b gitops.Event) int { return a.PR - b.PR })
	for i, ev := range evs {
		if ev.Type != want[i].Type || ev.Action != want[i].Action || ev.PR != want[i].PR || ev.Merged != want[i].Merged ||
			ev.MergeSHA != want[i].MergeSHA || ev.Sender != want[i].Sender || ev.HeadRef == "" || ev.BaseRef != "main" {
			t.Errorf("event %d = %+v, want %+v", i, ev, want[i])
		}
	}
	jobs, _ := w.st.ListJobs(w.ctx, store.JobFilter{Kind: JobGitHubEvent})
	for _, j := range jobs {
		if j.RequestID != mergedRec.ID() && j.RequestID != closedRec.ID() {
			t.Errorf("job %s is for request %s", j.ID, j.RequestID)
		}
	}

	// The events are not handled yet (the requests are still open): the
	// next passes queue nothing more.
	w.sync(t, p)
	if _, err := w.gh.Comment(still.Number, "octocat", "a comment changes the list"); err != nil {
		t.Fatal(err)
	}
	w.sync(t, p)
	if evs := w.events(t); len(evs) != 2 {
		t.Errorf("after more passes, %d events, want the same 2", len(evs))
	}
}

// TestSyncPagesDownToTheWatermark: when the first page changed, a pass
// reads the next pages until a pull request updated before the last
// pass's watermark, and no further (here two a page).
func TestSyncPagesDownToTheWatermark(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Add(-24 * time.Hour)
	at := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	w := newSyncWorld(t, githubtest.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	p := w.pipeline(t, gitops.Options{PageSize: 2})
	target, _ := w.openPR(t, p, true)
	var old, recent []gitops.PR
	for range 3 {
		pr, err := p.github.OpenPR(w.ctx, gitops.Change{Branch: fmt.Sprintf("other/%d", w.n), Title: "by hand", Message: "by hand",
			Files: map[string][]byte{fmt.Sprintf("docs/%d.md", w.n): []byte("x\n")}})
		w.n++
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, pr)
	}
	for range 3 {
		pr, err := p.github.OpenPR(w.ctx, gitops.Change{Branch: fmt.Sprintf("other/%d", w.n), Title: "by hand", Message: "by hand",
			Files: map[string][]byte{fmt.Sprintf("docs/%d.md", w.n): []byte("x\n")}})
		w.n++
		if err != nil {
			t.Fatal(err)
		}
		recent = append(recent, pr)
	}
	for _, pr := range old { // closed yesterday
		if err := w.gh.ClosePull(pr.Number, "octocat"); err != nil {
			t.Fatal(err)
		}
	}
	if n, what := w.sync(t, p); n != 1 {
		t.Errorf("first pass: %v, want one page: yesterday's closes are before the oldest open request", what)
	}

	// Today: the request's pull request is closed, then three others, so
	// that it is on the second page, and yesterday's on the third.
	at(time.Now())
	for _, pr := range append([]gitops.PR{target}, recent...) {
		at(now.Add(time.Second))
		if err := w.gh.ClosePull(pr.Number, "octocat"); err != nil {
			t.Fatal(err)
		}
	}
	n, what := w.sync(t, p)
	if n != 3 {
		t.Errorf("second pass: %v, want pages 1 to 3: page 3 starts before the watermark", what)
	}
	if evs := w.events(t); len(evs) != 1 || evs[0].PR != target.Number {
		t.Errorf("events %+v, want the close of #%d, on page 2", evs, target.Number)
	}
}

// TestSyncAcrossRestarts: a new replica (a new Pipeline and client on the
// same store) finds a pull request closed while no replica ran, and an
// unchanged repository costs it one full read, not a catch-up.
func TestSyncAcrossRestarts(t *testing.T) {
	w := newSyncWorld(t, githubtest.Options{})
	before := w.pipeline(t, gitops.Options{})
	pr, _ := w.openPR(t, before, true)
	other, _ := w.openPR(t, before, true)
	if err := w.gh.ClosePull(other.Number, "octocat"); err != nil {
		t.Fatal(err)
	}
	w.sync(t, before)
	w.sync(t, before)

	// Restarted, nothing changed: one full read, recognised as seen.
	n, what := w.sync(t, w.pipeline(t, gitops.Options{}))
	if n != 1 {
		t.Errorf("after a restart with nothing changed: %v, want one call", what)
	}

	// Down; a merge is missed; up again.
	if _, err := w.gh.Merge(pr.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	after := w.pipeline(t, gitops.Options{})
	w.sync(t, after)
	found := false
	for _, ev := range w.events(t) {
		found = found || (ev.PR == pr.Number && ev.Merged)
	}
	if !found {
		t.Errorf("the merge of #%d during the restart was missed: %+v", pr.Number, w.events(t))
	}
}

// TestSyncWaitsForTheRateLimit: a spent budget makes the pass wait for the
// reset, and a secondary limit for its Retry-After, instead of failing;
// the gauge follows the remaining budget.
func TestSyncWaitsForTheRateLimit(t *testing.T) {
	w := newSyncWorld(t, githubtest.Options{RateLimit: 4, RateLimitWindow: 2 * time.Second})
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg, w.st)
	p := w.pipeline(t, gitops.Options{MaxWait: 10 * time.Second, OnRate: func(r gitops.Rate) { metrics.ObserveGitHubRate(r.Remaining) }})
	// Spend the budget but the list's call.
	for range 3 {
		if _, err := p.github.RecentlyClosed(w.ctx, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := gauge(t, reg); got != 1 {
		t.Errorf("gauge = %v, want 1", got)
	}
	w.sync(t, p) // the last call of the budget
	if got := gauge(t, reg); got != 0 {
		t.Errorf("gauge = %v, want 0", got)
	}
	w.gh.SecondaryRateLimit(http.StatusTooManyRequests, time.Second, 1)
	start := time.Now()
	if _, err := p.github.RecentlyClosed(w.ctx, 1, false); err != nil {
		t.Fatalf("a call after the budget was spent and during a secondary limit: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("did not wait")
	}
	if rl := w.gh.RateLimit(); gauge(t, reg) != float64(rl.Remaining) {
		t.Errorf("gauge = %v, emulator's budget %+v", gauge(t, reg), rl)
	}
	for _, r := range w.gh.Requests() {
		if r.StatusCode == http.StatusForbidden {
			t.Errorf("%s was refused for the spent budget: the client should have waited", r)
		}
	}
}

// TestRateLimitedJobIsRetriedNotFailed: when the wait is longer than the
// client's bound, a job's GitHub call fails with *gitops.RateLimitError,
// which the engine retries with backoff: not permanent, and the request is
// not failed.
func TestRateLimitedJobIsRetriedNotFailed(t *testing.T) {
	w := newSyncWorld(t, githubtest.Options{RateLimit: 1})
	p := w.pipeline(t, gitops.Options{MaxWait: 10 * time.Millisecond})
	rec := w.openRequest(t, 3, true)
	if err := p.Sync(w.ctx); err != nil { // the budget's one call
		t.Fatal(err)
	}
	// A comment on a cancelled request's reopened pull request needs GitHub.
	if _, err := w.st.Transition(w.ctx, rec.ID(), request.Cancelled, request.Event{Actor: "t", Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(gitops.Event{Type: "pull_request", Action: "reopened", PR: 3, Sender: "octocat", Delivery: "d1"})
	job := store.Job{ID: "j1", Kind: JobGitHubEvent, RequestID: rec.ID(), Payload: ev, Attempts: 1, MaxAttempts: 5}
	_, err := p.githubEvent(w.ctx, job)
	var rle *gitops.RateLimitError
	if !errors.As(err, &rle) || engine.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable *gitops.RateLimitError", err)
	}
	if r, _ := w.st.GetRequest(w.ctx, rec.ID()); r.State != request.Cancelled {
		t.Errorf("the request is %s", r.State)
	}
	if err := p.Sync(w.ctx); !errors.As(err, &rle) {
		t.Errorf("Sync with the budget spent: %v, want a *gitops.RateLimitError", err)
	}
}

var gaugeMu sync.Mutex

// gauge reads clustro_github_rate_limit_remaining from reg.
func gauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	gaugeMu.Lock()
	defer gaugeMu.Unlock()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "clustro_github_rate_limit_remaining" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no clustro_github_rate_limit_remaining gauge")
	return 0
}

// TestRateLimitedJobIsDeferred: through the engine, a job held up by a
// spent budget on its last attempt is given back to run when the budget
// resets, its attempt not counted, and its request is not failed.
func TestRateLimitedJobIsDeferred(t *testing.T) {
	w := newSyncWorld(t, githubtest.Options{RateLimit: 1, RateLimitWindow: time.Hour})
	p := w.pipeline(t, gitops.Options{MaxWait: 10 * time.Millisecond})
	rec := w.openRequest(t, 3, true)
	if err := p.Sync(w.ctx); err != nil { // the budget's one call
		t.Fatal(err)
	}
	if _, err := w.st.Transition(w.ctx, rec.ID(), request.Cancelled, request.Event{Actor: "t", Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	job, _, err := p.queueEvent(w.ctx, gitops.Event{Type: "pull_request", Action: "reopened", PR: 3, Sender: "octocat", Delivery: "d1"},
		rec.ID(), store.Idempotency{Scope: "test", Key: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(w.st, engine.Poll(5*time.Millisecond), engine.Workers(1))
	p.Register(eng)
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	var j store.Job
	for time.Now().Before(deadline) {
		if j, err = w.st.GetJob(w.ctx, job.ID); err == nil && j.State == store.JobQueued && j.RunAt.After(time.Now().Add(time.Minute)) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if j.State != store.JobQueued || j.Attempts != 0 || !j.RunAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("job %s with %d attempts, due %s: want queued, no attempt counted, due at the reset", j.State, j.Attempts, j.RunAt)
	}
	if r, _ := w.st.GetRequest(w.ctx, rec.ID()); r.State != request.Cancelled {
		t.Errorf("the request is %s", r.State)
	}
}
