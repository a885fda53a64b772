package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// setWatch writes a database's watch record as fn leaves it.
func (h *harness) setWatch(env, name string, fn func(w *store.Watch)) {
	h.t.Helper()
	key := store.DatabaseKey{Environment: env, Team: "billing", Name: name}
	if _, err := h.st.UpdateWatch(context.Background(), key, func(w *store.Watch) (bool, []store.NewJob, error) {
		fn(w)
		return true, nil, nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

// getWatch reads a database's watch record.
func (h *harness) getWatch(env, name string) store.Watch {
	h.t.Helper()
	w, err := h.st.GetWatch(context.Background(), store.DatabaseKey{Environment: env, Team: "billing", Name: name})
	if err != nil {
		h.t.Fatal(err)
	}
	return w
}

// jobs lists the queued jobs of a kind.
func (h *harness) jobs(kind string) []store.Job {
	h.t.Helper()
	jobs, err := h.st.ListJobs(context.Background(), store.JobFilter{Kind: kind})
	if err != nil {
		h.t.Fatal(err)
	}
	return jobs
}

var (
	since = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	sick  = request.Health{Found: true, Phase: "Failing over", Reason: "primary lost", Ready: false, ReadyReason: "NotReady: 1 instance down",
		Instances: 3, ReadyInstances: 2, Primary: "ledger-2", Since: since}
	well  = request.Health{Found: true, Phase: request.HealthyPhase, Ready: true, Instances: 1, ReadyInstances: 1, Primary: "orders-1", Since: since}
	drift = request.Drift{Detected: since, Checked: since.Add(time.Hour), Commit: "abc123", Summary: "0 to add, 1 to change, 0 to destroy",
		Resources: []string{"update module.database.kubectl_manifest.cluster"}, Fingerprint: "f1"}
)

type watchedDatabase struct {
	Name   string `json:"name"`
	Health *struct {
		State          string    `json:"state"`
		Phase          string    `json:"phase"`
		Reason         string    `json:"reason"`
		Ready          bool      `json:"ready"`
		ReadyReason    string    `json:"readyReason"`
		Instances      int64     `json:"instances"`
		ReadyInstances int64     `json:"readyInstances"`
		Primary        string    `json:"primary"`
		Since          time.Time `json:"since"`
	} `json:"health"`
	Drift *struct {
		Detected  time.Time `json:"detected"`
		Checked   time.Time `json:"checked"`
		Commit    string    `json:"commit"`
		Summary   string    `json:"summary"`
		Resources []string  `json:"resources"`
	} `json:"drift"`
	Reconcile *reconcileReply `json:"reconcile"`
}

type reconcileReply struct {
	ID        string             `json:"id"`
	State     string             `json:"state"`
	Requester request.Requester  `json:"requester"`
	Confirmer *request.Requester `json:"confirmer"`
	Commit    string             `json:"commit"`
	Summary   string             `json:"summary"`
	Resources []string           `json:"resources"`
	Error     string             `json:"error"`
	Requested time.Time          `json:"requested"`
	Updated   time.Time          `json:"updated"`
}

// TestDatabaseShowsWatch: GET of a database and the list's items show the
// health, drift and latest reconcile of the watch record, and nothing of
// them without one.
func TestDatabaseShowsWatch(t *testing.T) {
	h := newHarness(t)
	ledger := h.ready("ledger", "prod")
	h.ready("quiet", "prod")
	var before map[string]any
	decode(t, h.do("GET", "/api/v1/databases/prod/billing/ledger", readerToken, nil), &before)
	for _, k := range []string{"health", "drift", "reconcile"} {
		if _, ok := before[k]; ok {
			t.Errorf("%s shown without a watch record: %v", k, before[k])
		}
	}
	h.setWatch("prod", "ledger", func(w *store.Watch) {
		w.RequestID = ledger.ID
		health, d := sick, drift
		w.Health, w.Drift = &health, &d
		w.Reconcile = &request.Reconcile{ID: "rc100000000000000000", State: request.ReconcileFailed, Requester: request.Requester{ID: "U1", Name: "Jane"},
			Origin: request.Origin{Kind: request.OriginSlack}, Confirmer: &request.Requester{ID: "U2"}, Commit: "abc123", Summary: drift.Summary,
			Resources: drift.Resources, Error: "terraform apply failed", Requested: since, Updated: since.Add(time.Minute)}
	})
	w := h.do("GET", "/api/v1/databases/prod/billing/ledger", readerToken, nil)
	var got watchedDatabase
	decode(t, w, &got)
	if hl := got.Health; hl == nil || hl.State != "unhealthy" || hl.Phase != "Failing over" || hl.Reason != "primary lost" || hl.Ready ||
		hl.ReadyReason != sick.ReadyReason || hl.Instances != 3 || hl.ReadyInstances != 2 || hl.Primary != "ledger-2" || !hl.Since.Equal(since) {
		t.Errorf("health = %+v", hl)
	}
	if d := got.Drift; d == nil || !d.Detected.Equal(since) || !d.Checked.Equal(since.Add(time.Hour)) || d.Commit != "abc123" ||
		d.Summary != drift.Summary || !slices.Equal(d.Resources, drift.Resources) {
		t.Errorf("drift = %+v", d)
	}
	if r := got.Reconcile; r == nil || r.ID != "rc100000000000000000" || r.State != "failed" || r.Requester.ID != "U1" || r.Confirmer == nil || r.Confirmer.ID != "U2" ||
		r.Commit != "abc123" || r.Error != "terraform apply failed" || !r.Requested.Equal(since) || !r.Updated.Equal(since.Add(time.Minute)) {
		t.Errorf("reconcile = %+v", r)
	}
	var raw map[string]any
	json.Unmarshal(w.Body.Bytes(), &raw)
	if _, ok := raw["drift"].(map[string]any)["fingerprint"]; ok {
		t.Error("the drift's fingerprint is internal")
	}

	var page struct{ Items []watchedDatabase }
	decode(t, h.do("GET", "/api/v1/databases", readerToken, nil), &page)
	if len(page.Items) != 2 {
		t.Fatalf("items = %+v", page.Items)
	}
	if l := page.Items[0]; l.Name != "ledger" || l.Health == nil || l.Health.State != "unhealthy" || l.Drift == nil || l.Reconcile == nil {
		t.Errorf("ledger in the list = %+v", l)
	}
	if q := page.Items[1]; q.Name != "quiet" || q.Health != nil || q.Drift != nil || q.Reconcile != nil {
		t.Errorf("quiet in the list = %+v", q)
	}
}

// TestListFiltersByWatch: ?drifted=true and ?health=unhealthy select the
// running databases by their watch records, a page at a time.
func TestListFiltersByWatch(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"alpha", "bravo", "charlie", "delta"} {
		h.ready(name, "dev")
	}
	h.ready("echo", "prod")
	set := func(env, name string, health request.Health, d *request.Drift) {
		h.setWatch(env, name, func(w *store.Watch) { w.Health, w.Drift = &health, d })
	}
	set("dev", "alpha", sick, nil)
	set("dev", "bravo", well, &drift)
	set("dev", "charlie", request.Health{Since: since}, nil) // gone
	set("dev", "delta", well, nil)
	set("prod", "echo", sick, &drift)
	names := func(path string) ([]string, string) {
		t.Helper()
		w := h.do("GET", path, readerToken, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		var page struct {
			Items []watchedDatabase
			Next  string
		}
		decode(t, w, &page)
		var out []string
		for _, it := range page.Items {
			out = append(out, it.Name)
		}
		return out, page.Next
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?health=unhealthy", []string{"alpha", "charlie", "echo"}},
		{"?drifted=true", []string{"bravo", "echo"}},
		{"?drifted=true&health=unhealthy", []string{"echo"}},
		{"?health=unhealthy&environment=dev", []string{"alpha", "charlie"}},
		{"?drifted=true&state=failed", nil},
	} {
		if got, next := names("/api/v1/databases" + c.query); !slices.Equal(got, c.want) || next != "" {
			t.Errorf("%s: %v (next %q), want %v", c.query, got, next, c.want)
		}
	}
	// Paged: the next link carries the filter.
	var all []string
	path := "/api/v1/databases?health=unhealthy&limit=2"
	for i := 0; path != "" && i < 5; i++ {
		got, next := names(path)
		all = append(all, got...)
		path = next
	}
	if !slices.Equal(all, []string{"alpha", "charlie", "echo"}) {
		t.Errorf("pages = %v", all)
	}
	for _, bad := range []string{"?drifted=false", "?health=healthy", "?drifted=yes&health=gone"} {
		p := problemOf(t, h.do("GET", "/api/v1/databases"+bad, readerToken, nil), http.StatusBadRequest, "malformed")
		for _, f := range fields(p) {
			if f != "drifted" && f != "health" {
				t.Errorf("%s: errors %v", bad, p.Errors)
			}
		}
		if len(p.Errors) == 0 {
			t.Errorf("%s: no field named", bad)
		}
	}
}

// TestReconcileStarts: an empty body (or {}) starts a reconcile, recorded
// on the watch record as planning with its plan job queued; asking again
// answers the open one.
func TestReconcileStarts(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "prod")
	w := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, nil)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if loc := w.Header().Get("Location"); loc != "/api/v1/databases/prod/billing/ledger" {
		t.Errorf("Location = %q", loc)
	}
	var r reconcileReply
	decode(t, w, &r)
	if r.ID == "" || r.State != request.ReconcilePlanning || r.Requester.ID != "backstage" || r.Confirmer != nil || r.Requested.IsZero() {
		t.Errorf("reply = %+v", r)
	}
	rec := h.getWatch("prod", "ledger").Reconcile
	if rec == nil || rec.ID != r.ID || rec.State != request.ReconcilePlanning ||
		rec.Origin != (request.Origin{Kind: request.OriginAPI, APIClient: "backstage"}) {
		t.Errorf("watch record's reconcile = %+v", rec)
	}
	if n := len(h.jobs(pipeline.JobReconcilePlan)); n != 1 {
		t.Errorf("%d reconcile_plan jobs, want 1", n)
	}
	again := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", opsToken, "{}")
	var r2 reconcileReply
	decode(t, again, &r2)
	if again.Code != http.StatusAccepted || r2.ID != r.ID {
		t.Errorf("asking again: %d %+v, want the open reconcile %s", again.Code, r2, r.ID)
	}
	if n := len(h.jobs(pipeline.JobReconcilePlan)); n != 1 {
		t.Errorf("%d reconcile_plan jobs after asking again, want 1", n)
	}
}

// TestReconcileRecordsTheRequester: a requester in the body is recorded,
// as PATCH records it.
func TestReconcileRecordsTheRequester(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "prod")
	w := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, map[string]any{"requester": map[string]any{"id": "user:default/jane", "name": "Jane"}})
	var r reconcileReply
	decode(t, w, &r)
	if w.Code != http.StatusAccepted || r.Requester != (request.Requester{ID: "user:default/jane", Name: "Jane"}) {
		t.Errorf("%d %+v", w.Code, r)
	}
}

// TestReconcileConfirm: confirming the planned reconcile by its id moves
// it to applying and queues its apply job; another id is refused naming
// confirm.
func TestReconcileConfirm(t *testing.T) {
	h := newHarness(t)
	ledger := h.ready("ledger", "prod")
	h.setWatch("prod", "ledger", func(w *store.Watch) {
		w.RequestID = ledger.ID
		w.Reconcile = &request.Reconcile{ID: "rc100000000000000000", State: request.ReconcilePlanned, Requester: request.Requester{ID: "U1"},
			Origin: request.Origin{Kind: request.OriginSlack}, Commit: "abc123", Summary: drift.Summary, Resources: drift.Resources,
			Fingerprint: "f1", Requested: since, Updated: since}
	})
	wrong := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, map[string]any{"confirm": "rc200000000000000000"})
	if p := problemOf(t, wrong, http.StatusUnprocessableEntity, "validation"); !slices.Equal(fields(p), []string{"confirm"}) {
		t.Errorf("wrong id: errors %v", p.Errors)
	}
	if n := len(h.jobs(pipeline.JobReconcileApply)); n != 0 {
		t.Fatalf("%d apply jobs after a wrong id", n)
	}
	huge := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, map[string]any{"confirm": strings.Repeat("x", 10000)})
	if p := problemOf(t, huge, http.StatusUnprocessableEntity, "validation"); !slices.Equal(fields(p), []string{"confirm"}) || strings.Contains(huge.Body.String(), "xxxx") {
		t.Errorf("a confirm that is no id: errors %v, echoed %v", p.Errors, strings.Contains(huge.Body.String(), "xxxx"))
	}
	w := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, map[string]any{"confirm": "rc100000000000000000"})
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var r reconcileReply
	decode(t, w, &r)
	if r.ID != "rc100000000000000000" || r.State != request.ReconcileApplying || r.Confirmer == nil || r.Confirmer.ID != "backstage" || r.Requester.ID != "U1" ||
		r.Commit != "abc123" || !slices.Equal(r.Resources, drift.Resources) {
		t.Errorf("reply = %+v", r)
	}
	if rec := h.getWatch("prod", "ledger").Reconcile; rec == nil || rec.State != request.ReconcileApplying || rec.Confirmer == nil {
		t.Errorf("watch record's reconcile = %+v", rec)
	}
	jobs := h.jobs(pipeline.JobReconcileApply)
	if len(jobs) != 1 || jobs[0].RequestID != ledger.ID {
		t.Errorf("apply jobs = %+v, want one for request %s", jobs, ledger.ID)
	}
	// A second click is harmless.
	again := h.do("POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, map[string]any{"confirm": "rc100000000000000000"})
	if again.Code != http.StatusAccepted || len(h.jobs(pipeline.JobReconcileApply)) != 1 {
		t.Errorf("confirming twice: %d %s, %d jobs", again.Code, again.Body, len(h.jobs(pipeline.JobReconcileApply)))
	}
	var shown watchedDatabase
	decode(t, h.do("GET", "/api/v1/databases/prod/billing/ledger", readerToken, nil), &shown)
	if shown.Reconcile == nil || shown.Reconcile.State != request.ReconcileApplying {
		t.Errorf("the database shows %+v", shown.Reconcile)
	}
}

// TestReconcileRefuses: the pipeline's refusals, bad bodies, unknown
// databases and tokens without the scope.
func TestReconcileRefuses(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "prod")
	h.create(map[string]any{"name": "fresh", "team": "billing", "environment": "dev"})
	const path = "/api/v1/databases/prod/billing/ledger/reconcile"

	// A change in flight: the pipeline refuses, naming the database.
	if w := h.do("PATCH", "/api/v1/databases/prod/billing/ledger", backstageToken, map[string]any{"size": "M"}); w.Code != http.StatusAccepted {
		t.Fatalf("resize: %d %s", w.Code, w.Body)
	}
	if p := problemOf(t, h.do("POST", path, backstageToken, nil), http.StatusUnprocessableEntity, "validation"); !slices.Equal(fields(p), []string{"name"}) {
		t.Errorf("change in flight: errors %v", p.Errors)
	}
	// Not ready yet.
	if p := problemOf(t, h.do("POST", "/api/v1/databases/dev/billing/fresh/reconcile", backstageToken, nil), http.StatusUnprocessableEntity, "validation"); !slices.Equal(fields(p), []string{"name"}) {
		t.Errorf("not ready: errors %v", p.Errors)
	}
	problemOf(t, h.do("POST", "/api/v1/databases/prod/billing/nowhere/reconcile", backstageToken, nil), http.StatusNotFound, "not-found")

	for _, c := range []struct {
		name, body string
		status     int
		slug       string
		field      string
	}{
		{"unknown field", `{"confirm":"rc100000000000000000","force":true}`, 400, "malformed", "force"},
		{"null confirm", `{"confirm":null}`, 400, "malformed", "confirm"},
		{"number confirm", `{"confirm":7}`, 400, "malformed", "confirm"},
		{"empty confirm", `{"confirm":""}`, 422, "validation", "confirm"},
		{"requester without id", `{"requester":{"name":"Jane"}}`, 422, "validation", "requester.id"},
		{"not an object", `[]`, 400, "malformed", ""},
	} {
		p := problemOf(t, h.do("POST", path, backstageToken, c.body), c.status, c.slug)
		if c.field != "" && !slices.Contains(fields(p), c.field) {
			t.Errorf("%s: errors %v, want %s named", c.name, p.Errors, c.field)
		}
	}
	problemOf(t, h.do("POST", path, backstageToken, "{}", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported-media-type")
	problemOf(t, h.do("POST", path, readerToken, nil), http.StatusForbidden, "forbidden")
	problemOf(t, h.do("POST", path, "", nil), http.StatusUnauthorized, "unauthorized")
	if jobs := append(h.jobs(pipeline.JobReconcilePlan), h.jobs(pipeline.JobReconcileApply)...); len(jobs) != 0 {
		t.Errorf("refused calls queued %d jobs", len(jobs))
	}
}
