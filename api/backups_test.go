package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// fakeClusters is a test double of pipeline.Clusters, our own interface:
// every cluster is ready, has the fixed base backups below (newest last,
// as the pipeline does not promise an order) and the recovery window from
// windowFirst to windowLast, but the clusters named in empty, which have
// no backup at all. TakeBackup keeps what it created by name: the same
// name twice is the same backup.
type fakeClusters struct {
	mu      sync.Mutex
	empty   map[string]bool
	taken   map[string]request.BaseBackup
	created int
}

var (
	windowFirst = time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC)
	windowLast  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	lastFailed  = time.Date(2025, 5, 31, 3, 0, 0, 0, time.UTC)
)

func newFakeClusters() *fakeClusters {
	return &fakeClusters{empty: map[string]bool{}, taken: map[string]request.BaseBackup{}}
}

func (f *fakeClusters) WaitReady(context.Context, string, string, string, func(string)) error {
	return nil
}

func (f *fakeClusters) Check(_ context.Context, _, namespace, name string) (request.ReadyInfo, error) {
	return request.ReadyInfo{Namespace: namespace, Cluster: name}, nil
}

func (f *fakeClusters) Backups(_ context.Context, _, _, name string) (request.BackupSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.empty[name] {
		return request.BackupSet{}, nil
	}
	set := request.BackupSet{
		Base: []request.BaseBackup{
			{Name: name + "-first", Phase: "completed", Started: windowFirst.Add(-time.Hour), Stopped: windowFirst, ID: "20250101T020000"},
			{Name: name + "-broken", Phase: "failed", Started: lastFailed, Error: "barman-cloud-backup exited 1"},
			{Name: name + "-last", Phase: "completed", Started: windowLast.Add(-9 * time.Hour), Stopped: windowLast.Add(-8 * time.Hour), ID: "20250601T030000"},
		},
		Window: request.RecoveryWindow{First: windowFirst, Last: windowLast, Archiving: true,
			LastBackup: windowLast.Add(-8 * time.Hour), LastFailedBackup: lastFailed},
	}
	for _, b := range f.taken {
		if strings.HasPrefix(b.Name, name+"-ondemand-") {
			set.Base = append(set.Base, b)
		}
	}
	return set, nil
}

func (f *fakeClusters) TakeBackup(_ context.Context, _, _, _, backup string) (request.BaseBackup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.taken[backup]; ok {
		return b, nil
	}
	f.created++
	b := request.BaseBackup{Name: backup, Phase: "started", OnDemand: true}
	f.taken[backup] = b
	return b, nil
}

func (f *fakeClusters) creations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}

type backupReply struct {
	Name     string     `json:"name"`
	Phase    string     `json:"phase"`
	Started  *time.Time `json:"started"`
	Stopped  *time.Time `json:"stopped"`
	ID       string     `json:"id"`
	Error    string     `json:"error"`
	OnDemand bool       `json:"onDemand"`
}

type backupSetReply struct {
	Database string        `json:"database"`
	Base     []backupReply `json:"base"`
	Window   struct {
		First            *time.Time `json:"first"`
		Last             *time.Time `json:"last"`
		Archiving        bool       `json:"archiving"`
		ArchivingReason  string     `json:"archivingReason"`
		LastBackup       *time.Time `json:"lastBackup"`
		LastFailedBackup *time.Time `json:"lastFailedBackup"`
	} `json:"window"`
}

// TestListBackups: a ready database's base backups, newest first, and its
// recovery window, as its cluster shows them; 404 for no database, 422
// naming name for one not ready yet.
func TestListBackups(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "prod")
	w := h.do("GET", "/api/v1/databases/prod/billing/ledger/backups", readerToken, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var got backupSetReply
	decode(t, w, &got)
	var names []string
	for _, b := range got.Base {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"ledger-last", "ledger-broken", "ledger-first"}) {
		t.Errorf("base = %v, want newest first", names)
	}
	if b := got.Base[0]; b.Phase != "completed" || b.ID != "20250601T030000" || b.Started == nil || b.Stopped == nil || b.OnDemand || b.Error != "" {
		t.Errorf("last backup = %+v", b)
	}
	if b := got.Base[1]; b.Phase != "failed" || b.Error == "" || b.Stopped != nil {
		t.Errorf("failed backup = %+v", b)
	}
	win := got.Window
	if win.First == nil || !win.First.Equal(windowFirst) || win.Last == nil || !win.Last.Equal(windowLast) || !win.Archiving ||
		win.LastFailedBackup == nil || !win.LastFailedBackup.Equal(lastFailed) || win.LastBackup == nil {
		t.Errorf("window = %+v", win)
	}
	if got.Database != "/api/v1/databases/prod/billing/ledger" {
		t.Errorf("database = %s", got.Database)
	}

	problemOf(t, h.do("GET", "/api/v1/databases/prod/billing/nowhere/backups", readerToken, nil), http.StatusNotFound, "not-found")
	h.create(map[string]any{"name": "pending", "team": "billing", "environment": "prod"})
	p := problemOf(t, h.do("GET", "/api/v1/databases/prod/billing/pending/backups", readerToken, nil), http.StatusUnprocessableEntity, "validation")
	if !slices.Contains(fields(p), "name") || !strings.Contains(p.Errors[0].Message, "not ready") {
		t.Errorf("not ready: %+v", p)
	}
	// No backup yet: an empty list and no window.
	h.cl.empty["ledger"] = true
	var none backupSetReply
	decode(t, h.do("GET", "/api/v1/databases/prod/billing/ledger/backups", readerToken, nil), &none)
	if len(none.Base) != 0 || none.Base == nil || none.Window.First != nil || none.Window.Last != nil || none.Window.Archiving {
		t.Errorf("no backups: %+v", none)
	}
	problemOf(t, h.do("GET", "/api/v1/databases/prod/billing/ledger/backups", "", nil), http.StatusUnauthorized, "unauthorized")
}

// TestTakeBackup: POST .../backups starts an on-demand backup (202); the
// same Idempotency-Key answers the same backup, replayed, and starts
// nothing more; another key another backup; the key with another body is
// refused. A database without backups is refused naming name; a read-only
// token 403.
func TestTakeBackup(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "prod")
	path := "/api/v1/databases/prod/billing/ledger/backups"
	first := h.do("POST", path, backstageToken, nil, "Idempotency-Key", "b-1")
	if first.Code != http.StatusAccepted {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	var b backupReply
	decode(t, first, &b)
	if !strings.HasPrefix(b.Name, "ledger-ondemand-") || b.Phase != "started" || !b.OnDemand {
		t.Errorf("backup = %+v", b)
	}
	if first.Header().Get("Location") != path || first.Header().Get(api.ReplayedHeader) != "" {
		t.Errorf("headers = %v", first.Header())
	}
	again := h.do("POST", path, backstageToken, nil, "Idempotency-Key", "b-1")
	if again.Code != http.StatusAccepted || again.Body.String() != first.Body.String() || again.Header().Get(api.ReplayedHeader) != "true" {
		t.Errorf("a retry: %d %v %s", again.Code, again.Header(), again.Body)
	}
	if n := h.cl.creations(); n != 1 {
		t.Errorf("%d backups created, want 1", n)
	}
	other := h.do("POST", path, backstageToken, map[string]any{"requester": map[string]any{"id": "user:default/jane"}}, "Idempotency-Key", "b-2")
	var b2 backupReply
	decode(t, other, &b2)
	if other.Code != http.StatusAccepted || b2.Name == b.Name || h.cl.creations() != 2 {
		t.Errorf("another key: %d %s (%d created)", other.Code, other.Body, h.cl.creations())
	}
	// The backup is in the list, and the audit trail of the live request
	// names who asked.
	var set backupSetReply
	decode(t, h.do("GET", path, readerToken, nil), &set)
	if !slices.ContainsFunc(set.Base, func(x backupReply) bool { return x.Name == b.Name && x.OnDemand }) {
		t.Errorf("the backup is not listed: %+v", set.Base)
	}
	found := false
	for _, e := range h.events() {
		if strings.Contains(e.Detail, b2.Name) && e.Actor == "user:default/jane" && e.Ref != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit event for %s: %+v", b2.Name, h.events())
	}
	reused := h.do("POST", path, backstageToken, map[string]any{"requester": map[string]any{"id": "user:default/joe"}}, "Idempotency-Key", "b-1")
	problemOf(t, reused, http.StatusUnprocessableEntity, "idempotency-key-reused")

	// Without backups configured there is nowhere to write one.
	h.create(map[string]any{"name": "scratch", "team": "billing", "environment": "dev", "backups": map[string]any{"schedule": "none"}})
	h.advance(h.requests()[0].ID(), apitest.ToReady()...)
	p := problemOf(t, h.do("POST", "/api/v1/databases/dev/billing/scratch/backups", backstageToken, "{}", "Idempotency-Key", "b-3"), http.StatusUnprocessableEntity, "validation")
	if !slices.Equal(fields(p), []string{"name"}) || !strings.Contains(p.Errors[0].Message, "no backups") {
		t.Errorf("without backups: %+v", p)
	}
	// The refused call did not use up its key.
	if w := h.do("POST", "/api/v1/databases/prod/billing/ledger/backups", backstageToken, "{}", "Idempotency-Key", "b-3"); w.Code != http.StatusAccepted {
		t.Errorf("the key of a refused call: %d %s", w.Code, w.Body)
	}
	// Not ready yet.
	h.create(map[string]any{"name": "pending", "team": "billing", "environment": "prod"})
	p = problemOf(t, h.do("POST", "/api/v1/databases/prod/billing/pending/backups", backstageToken, nil), http.StatusUnprocessableEntity, "validation")
	if !slices.Equal(fields(p), []string{"name"}) || !strings.Contains(p.Errors[0].Message, "not ready") {
		t.Errorf("not ready: %+v", p)
	}

	problemOf(t, h.do("POST", "/api/v1/databases/dev/billing/nowhere/backups", backstageToken, nil), http.StatusNotFound, "not-found")
	problemOf(t, h.do("POST", path, readerToken, nil), http.StatusForbidden, "forbidden")
	problemOf(t, h.do("POST", path, backstageToken, `{"x":1}`), http.StatusBadRequest, "malformed")
	problemOf(t, h.do("POST", path, backstageToken, map[string]any{"requester": map[string]any{"name": "Jane"}}), http.StatusUnprocessableEntity, "validation")
}

// source asks for a prod database with every setting given and makes it
// ready: the spec a restore copies.
func (h *harness) source(name string) store.Record {
	h.t.Helper()
	a := h.create(map[string]any{"name": name, "team": "billing", "environment": "prod", "clientType": "enterprise", "size": "L",
		"instances": 5, "postgresVersion": 16, "storage": "300Gi", "logicalBackup": true, "databases": []string{"reports", "audit"},
		"backups": map[string]any{"schedule": "hourly", "retention": "30d"}})
	h.advance(a.ID, apitest.ToReady()...)
	rec, err := h.st.GetRequest(context.Background(), a.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// TestRestore: POST .../restore asks for a new database with the source's
// live spec, the new name and the restore point: a create request (202,
// its Location), replayed for the same Idempotency-Key.
func TestRestore(t *testing.T) {
	h := newHarness(t)
	src := h.source("ledger")
	path := "/api/v1/databases/prod/billing/ledger/restore"
	body := map[string]any{"name": "ledger-copy", "targetTime": "2025-03-01T11:00:00+01:00", "owner": "group:default/billing",
		"requester": map[string]any{"id": "user:default/jane", "name": "Jane"}}
	w := h.do("POST", path, backstageToken, body, "Idempotency-Key", "r-1")
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var a accepted
	decode(t, w, &a)
	if w.Header().Get("Location") != a.URL || a.Kind != "create" || a.Database != "/api/v1/databases/prod/billing/ledger-copy" ||
		a.EntityRef != "resource:default/ledger-copy.billing.prod" {
		t.Errorf("accepted = %+v, Location %s", a, w.Header().Get("Location"))
	}
	rec, err := h.st.GetRequest(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, want := rec.Request.Spec, src.Request.Spec
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if r := got.Restore; r == nil || r.Source != "ledger" || r.TargetTime == nil || !r.TargetTime.Equal(at) || r.TargetTime.Location() != time.UTC {
		t.Errorf("restore = %+v", got.Restore)
	}
	if got.Name != "ledger-copy" || got.Team != want.Team || got.Environment != want.Environment || got.Size != want.Size ||
		got.Instances != want.Instances || got.PostgresVersion != want.PostgresVersion || got.Storage != want.Storage ||
		got.Backups.Schedule != want.Backups.Schedule || got.Backups.Retention != want.Backups.Retention ||
		got.LogicalBackup != want.LogicalBackup || !slices.Equal(got.Databases, want.Databases) {
		t.Errorf("spec = %+v\nsource's = %+v", got, want)
	}
	if rec.Request.Kind != request.Create || rec.Request.Requester.ID != "user:default/jane" || rec.Request.Origin.APIClient != "backstage" ||
		rec.Request.ClientType != src.Request.ClientType {
		t.Errorf("request = %+v", rec.Request)
	}
	again := h.do("POST", path, backstageToken, body, "Idempotency-Key", "r-1")
	if again.Code != http.StatusAccepted || again.Body.String() != w.Body.String() || again.Header().Get(api.ReplayedHeader) != "true" {
		t.Errorf("a retry: %d %v %s", again.Code, again.Header(), again.Body)
	}
	if recs, _ := h.st.ListRequests(context.Background(), store.Filter{Name: "ledger-copy"}); len(recs) != 1 {
		t.Errorf("%d requests for ledger-copy", len(recs))
	}
	// The new request is shown with its restore.
	var view struct {
		Spec struct {
			Restore *struct {
				Source     string    `json:"source"`
				TargetTime time.Time `json:"targetTime"`
			} `json:"restore"`
		} `json:"spec"`
	}
	decode(t, h.do("GET", a.URL, readerToken, nil), &view)
	if view.Spec.Restore == nil || view.Spec.Restore.Source != "ledger" || !view.Spec.Restore.TargetTime.Equal(at) {
		t.Errorf("the request shows restore %+v", view.Spec.Restore)
	}

	// The latest point: no target time.
	w = h.do("POST", path, backstageToken, map[string]any{"name": "ledger-latest"})
	decode(t, w, &a)
	rec, _ = h.st.GetRequest(context.Background(), a.ID)
	if w.Code != http.StatusAccepted || rec.Request.Restore == nil || rec.Request.Restore.TargetTime != nil || rec.Request.Requester.ID != "" {
		t.Errorf("latest: %d %s %+v", w.Code, w.Body, rec.Request)
	}
}

// TestRestoreRefuses: what the pipeline and the policy refuse answers 422
// naming the field as the new request's spec names it (restore.targetTime,
// restore.source, name); an unknown source 404 naming restore.source; a
// new name that exists 409; a read-only token 403. Nothing is stored.
func TestRestoreRefuses(t *testing.T) {
	h := newHarness(t)
	h.source("ledger")
	h.ready("orders", "prod")
	h.create(map[string]any{"name": "pending", "team": "billing", "environment": "prod"})
	h.ready("scratch", "dev") // no backups by default in dev
	before := len(h.requests())
	path := "/api/v1/databases/prod/billing/ledger/restore"
	for _, c := range []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		slug   string
		field  string
	}{
		{"before the window", path, backstageToken, map[string]any{"name": "copy", "targetTime": "2024-06-01T00:00:00Z"}, 422, "validation", "restore.targetTime"},
		{"after the window", path, backstageToken, map[string]any{"name": "copy", "targetTime": "2025-07-01T00:00:00Z"}, 422, "validation", "restore.targetTime"},
		{"in the future", path, backstageToken, map[string]any{"name": "copy", "targetTime": "2999-01-01T00:00:00Z"}, 422, "validation", "restore.targetTime"},
		{"not a time", path, backstageToken, map[string]any{"name": "copy", "targetTime": "yesterday"}, 422, "validation", "restore.targetTime"},
		{"a date only", path, backstageToken, map[string]any{"name": "copy", "targetTime": "2025-03-01"}, 422, "validation", "restore.targetTime"},
		{"an empty time", path, backstageToken, map[string]any{"name": "copy", "targetTime": ""}, 422, "validation", "restore.targetTime"},
		{"unknown source", "/api/v1/databases/prod/billing/nowhere/restore", backstageToken, map[string]any{"name": "copy"}, 404, "not-found", "restore.source"},
		{"source not ready", "/api/v1/databases/prod/billing/pending/restore", backstageToken, map[string]any{"name": "copy"}, 422, "validation", "restore.source"},
		{"source without backups", "/api/v1/databases/dev/billing/scratch/restore", backstageToken, map[string]any{"name": "copy"}, 422, "validation", "restore.source"},
		{"onto the source", path, backstageToken, map[string]any{"name": "ledger"}, 422, "validation", "restore.source"},
		{"no name", path, backstageToken, map[string]any{"targetTime": "2025-03-01T10:00:00Z"}, 422, "validation", "name"},
		{"a bad name", path, backstageToken, map[string]any{"name": "Copy!"}, 422, "validation", "name"},
		{"an existing name", path, backstageToken, map[string]any{"name": "orders"}, 409, "conflict", "name"},
		{"another team's owner", path, backstageToken, map[string]any{"name": "copy", "owner": "group:default/growth"}, 422, "validation", "owner"},
		{"an unknown field", path, backstageToken, map[string]any{"name": "copy", "size": "S"}, 400, "malformed", "size"},
		{"a null", path, backstageToken, `{"name":"copy","targetTime":null}`, 400, "malformed", "targetTime"},
		{"read-only token", path, readerToken, map[string]any{"name": "copy"}, 403, "forbidden", ""},
		{"no token", path, "", map[string]any{"name": "copy"}, 401, "unauthorized", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := problemOf(t, h.do("POST", c.path, c.token, c.body, "Idempotency-Key", "k-"+strings.ReplaceAll(c.name, " ", "-")), c.status, c.slug)
			if c.field != "" && !slices.Contains(fields(p), c.field) {
				t.Errorf("the problem should name %s: %+v", c.field, p)
			}
		})
	}
	// The source without any completed backup.
	h.cl.empty["ledger"] = true
	p := problemOf(t, h.do("POST", path, backstageToken, map[string]any{"name": "copy"}), 422, "validation")
	if !slices.Equal(fields(p), []string{"restore.source"}) || !strings.Contains(p.Errors[0].Message, "no backup") {
		t.Errorf("no backup: %+v", p)
	}
	if n := len(h.requests()); n != before {
		t.Errorf("%d requests stored by refused restores", n-before)
	}
	// A refused call does not use up its key: corrected, it is accepted.
	h.cl.empty["ledger"] = false
	w := h.do("POST", path, backstageToken, map[string]any{"name": "copy", "targetTime": "2025-03-01T10:00:00Z"}, "Idempotency-Key", "k-before-the-window")
	if w.Code != http.StatusAccepted {
		t.Errorf("corrected: %d %s", w.Code, w.Body)
	}
}
