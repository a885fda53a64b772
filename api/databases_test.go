package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

func TestCreateDatabase(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/api/v1/databases", backstageToken, map[string]any{
		"name": "ledger", "team": "billing", "environment": "prod", "clientType": "enterprise", "size": "M",
		"backups":   map[string]any{"schedule": "daily", "hour": 1},
		"databases": []string{"reports"}, "requester": map[string]any{"id": "user:default/jane", "name": "Jane"},
	})
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var a accepted
	decode(t, w, &a)
	want := accepted{ID: a.ID, Kind: "create", State: "submitted", URL: "/api/v1/requests/" + a.ID,
		Database: "/api/v1/databases/prod/billing/ledger", EntityRef: "resource:default/ledger.billing.prod",
		PullRequest: "https://github.com/acme/infra/pulls?q=is%3Apr+" + a.ID}
	if a != want || a.ID == "" {
		t.Errorf("reply = %+v\nwant    %+v", a, want)
	}
	if loc := w.Header().Get("Location"); loc != a.URL {
		t.Errorf("Location = %q, want %q", loc, a.URL)
	}
	rec, err := h.st.GetRequest(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Request
	if r.Origin != (request.Origin{Kind: "api", APIClient: "backstage"}) || r.Requester.ID != "user:default/jane" {
		t.Errorf("origin %+v, requester %+v", r.Origin, r.Requester)
	}
	// Resolved by the policy: enterprise in prod is 3 instances, hourly
	// backups by default, but daily was asked; retention from the profile.
	if r.Size != "M" || r.Instances != 3 || r.Backups.Schedule != "daily" || *r.Backups.Hour != 1 || r.Backups.Retention != "30d" || r.PostgresVersion != 17 {
		t.Errorf("spec = %+v", r.Spec)
	}
	if evs := h.events(); len(evs) != 1 || evs[0].To != request.Submitted || evs[0].Ref != "" {
		t.Errorf("audit trail = %+v, want one submission with no idempotency key", evs)
	}
}

// TestCreateRecordsTheTokenName: without a requester, the audit trail
// names the token.
func TestCreateRecordsTheTokenName(t *testing.T) {
	h := newHarness(t)
	a := h.create(map[string]any{"name": "ledger", "team": "billing", "environment": "dev"})
	evs, err := h.st.Events(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Actor != "backstage" || evs[0].Origin != "api" {
		t.Errorf("first event = %+v", evs[0])
	}
}

// TestCreateIsIdempotent: the same Idempotency-Key from the same client
// makes one request and answers the same body; from another client it is
// another key; with another body it is refused.
func TestCreateIsIdempotent(t *testing.T) {
	h := newHarness(t)
	body := map[string]any{"name": "ledger", "team": "billing", "environment": "dev"}
	first := h.do("POST", "/api/v1/databases", backstageToken, body, "Idempotency-Key", "task-1")
	if first.Code != http.StatusAccepted {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	var a accepted
	decode(t, first, &a)
	h.advance(a.ID, request.PROpen) // the request moves on before the retry
	again := h.do("POST", "/api/v1/databases", backstageToken, body, "Idempotency-Key", "task-1")
	if again.Code != http.StatusAccepted || again.Body.String() != first.Body.String() {
		t.Errorf("retry: %d %s\nwant the first reply %s", again.Code, again.Body, first.Body)
	}
	if again.Header().Get("Idempotent-Replayed") != "true" || again.Header().Get("Location") != a.URL {
		t.Errorf("retry headers: %v", again.Header())
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests after a retry, want 1", n)
	}
	// The key is the client's own: the same key from another token is a
	// new request, here refused because the database exists.
	other := h.do("POST", "/api/v1/databases", opsToken, body, "Idempotency-Key", "task-1")
	problemOf(t, other, http.StatusConflict, "conflict")
	// The same key for another database.
	reused := h.do("POST", "/api/v1/databases", backstageToken, map[string]any{"name": "other", "team": "billing", "environment": "dev"}, "Idempotency-Key", "task-1")
	p := problemOf(t, reused, http.StatusUnprocessableEntity, "idempotency-key-reused")
	if !strings.Contains(p.Detail, a.ID) {
		t.Errorf("detail should name the first request: %s", p.Detail)
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	// A quoted key (a structured-field string) is the same key.
	quoted := h.do("POST", "/api/v1/databases", backstageToken, body, "Idempotency-Key", `"task-1"`)
	if quoted.Code != http.StatusAccepted || quoted.Body.String() != first.Body.String() {
		t.Errorf("quoted key: %d %s", quoted.Code, quoted.Body)
	}
	for _, bad := range []string{"has space", strings.Repeat("k", 256), `""`} {
		w := h.do("POST", "/api/v1/databases", backstageToken, body, "Idempotency-Key", bad)
		p := problemOf(t, w, http.StatusBadRequest, "malformed")
		if !slices.Equal(fields(p), []string{"Idempotency-Key"}) {
			t.Errorf("key %q: errors %v", bad, p.Errors)
		}
	}
}

// TestCreateRefuses: every malformed or invalid body is refused with a
// problem that names the field, and stores nothing.
func TestCreateRefuses(t *testing.T) {
	h := newHarness(t)
	h.ready("taken", "dev")
	ok := `{"name":"ledger","team":"billing","environment":"dev"}`
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		slug        string
		fields      []string
	}{
		{"size XXL", `{"name":"ledger","team":"billing","environment":"dev","size":"XXL"}`, "", 422, "validation", []string{"size"}},
		{"unknown environment", `{"name":"ledger","team":"billing","environment":"qa"}`, "", 422, "validation", []string{"environment"}},
		{"hour 24", `{"name":"ledger","team":"billing","environment":"prod","backups":{"schedule":"daily","hour":24}}`, "", 422, "validation", []string{"backups.hour"}},
		{"several at once", `{"name":"Ledger","team":"billing","environment":"dev","size":"XL","instances":7}`, "", 422, "validation", []string{"name", "size", "instances"}},
		{"empty size", `{"name":"ledger","team":"billing","environment":"dev","size":""}`, "", 422, "validation", []string{"size"}},
		{"empty size and more", `{"name":"ledger","team":"billing","environment":"qa","size":""}`, "", 422, "validation", []string{"size", "environment"}},
		{"empty schedule", `{"name":"ledger","team":"billing","environment":"dev","backups":{"schedule":""}}`, "", 422, "validation", []string{"backups.schedule"}},
		{"requester without id", `{"name":"ledger","team":"billing","environment":"dev","requester":{"name":"Jane"}}`, "", 422, "validation", []string{"requester.id"}},
		{"unknown field", `{"name":"ledger","team":"billing","environment":"dev","region":"eu"}`, "", 400, "malformed", []string{"region"}},
		{"owner of another namespace", `{"name":"ledger","team":"billing","environment":"dev","owner":"group:ops/billing"}`, "", 422, "validation", []string{"owner"}},
		{"unknown nested field", `{"name":"ledger","team":"billing","environment":"dev","backups":{"frequency":"daily"}}`, "", 400, "malformed", []string{"backups.frequency"}},
		{"a field in another case", `{"Name":"ledger","team":"billing","environment":"dev"}`, "", 400, "malformed", []string{"Name"}},
		{"server-set field", `{"id":"x","name":"ledger","team":"billing","environment":"dev"}`, "", 400, "malformed", []string{"id"}},
		{"null", `{"name":"ledger","team":"billing","environment":"dev","size":null}`, "", 400, "malformed", []string{"size"}},
		{"null in a list", `{"name":"ledger","team":"billing","environment":"dev","databases":["a",null]}`, "", 400, "malformed", []string{"databases[1]"}},
		{"wrong type", `{"name":"ledger","team":"billing","environment":"dev","instances":"3"}`, "", 400, "malformed", []string{"instances"}},
		{"wrong nested type", `{"name":"ledger","team":"billing","environment":"dev","backups":{"hour":"3"}}`, "", 400, "malformed", []string{"backups.hour"}},
		{"not JSON", `name=ledger`, "", 400, "malformed", nil},
		{"truncated JSON", `{"name":"ledger"`, "", 400, "malformed", nil},
		{"an array", `[` + ok + `]`, "", 400, "malformed", nil},
		{"two objects", ok + ok, "", 400, "malformed", nil},
		{"empty body", ``, "", 400, "malformed", nil},
		{"form content type", ok, "application/x-www-form-urlencoded", 415, "unsupported-media-type", nil},
		{"text content type", ok, "text/plain", 415, "unsupported-media-type", nil},
		{"too large", `{"name":"ledger","team":"billing","environment":"dev","storage":"` + strings.Repeat("1", 70<<10) + `Gi"}`, "", 413, "too-large", nil},
		{"exists", `{"name":"taken","team":"billing","environment":"dev"}`, "", 409, "conflict", []string{"name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			w := h.do("POST", "/api/v1/databases", backstageToken, tc.body, "Content-Type", ct)
			p := problemOf(t, w, tc.status, tc.slug)
			for _, f := range tc.fields {
				if !slices.Contains(fields(p), f) {
					t.Errorf("errors %v do not name %s", p.Errors, f)
				}
			}
			if p.Instance != "/api/v1/databases" {
				t.Errorf("instance = %q", p.Instance)
			}
		})
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests stored, want only the first", n)
	}
	// No Content-Type at all.
	w := h.do("POST", "/api/v1/databases", backstageToken, ok, "Content-Type", "")
	problemOf(t, w, http.StatusUnsupportedMediaType, "unsupported-media-type")
	// The problem lists what is allowed.
	w = h.do("POST", "/api/v1/databases", backstageToken, `{"name":"ledger","team":"billing","environment":"qa"}`)
	p := problemOf(t, w, http.StatusUnprocessableEntity, "validation")
	if !strings.Contains(p.Errors[0].Message, "dev, prod, staging") {
		t.Errorf("message does not list the environments: %+v", p.Errors)
	}
}

func TestListDatabases(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "prod")
	h.create(map[string]any{"name": "events", "team": "billing", "environment": "dev"})
	h.create(map[string]any{"name": "search", "team": "growth", "environment": "dev"})
	h.ready("old", "dev")
	del := h.do("DELETE", "/api/v1/databases/dev/billing/old", backstageToken, nil)
	var d accepted
	decode(t, del, &d)
	h.advance(d.ID, request.PROpen, request.Planned, request.Merged, request.Deleting, request.Deleted)
	never := h.create(map[string]any{"name": "never", "team": "billing", "environment": "dev"})
	h.advance(never.ID, request.Cancelled)

	names := func(query string) []string {
		t.Helper()
		w := h.do("GET", "/api/v1/databases"+query, readerToken, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, w.Code, w.Body)
		}
		var l struct {
			Items []struct {
				Environment, Team, Name, State, Kind, Request string
				Live                                          bool
			} `json:"items"`
		}
		decode(t, w, &l)
		var out []string
		for _, db := range l.Items {
			out = append(out, db.Environment+"/"+db.Team+"/"+db.Name+":"+db.State)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"dev/billing/events:submitted", "dev/growth/search:submitted", "prod/billing/ledger:ready"}},
		{"?team=billing", []string{"dev/billing/events:submitted", "prod/billing/ledger:ready"}},
		{"?environment=prod", []string{"prod/billing/ledger:ready"}},
		{"?state=ready", []string{"prod/billing/ledger:ready"}},
		{"?state=deleted,cancelled", []string{"dev/billing/never:cancelled", "dev/billing/old:deleted"}},
		{"?state=deleted&state=submitted&team=billing", []string{"dev/billing/events:submitted", "dev/billing/old:deleted"}},
		{"?team=nobody", nil},
	}
	for _, tc := range tests {
		if got := names(tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.query, got, tc.want)
		}
	}

	refused := []struct {
		query, field, mentions string
	}{
		{"?state=done", "state", "provisioning"},
		{"?environment=qa", "environment", "dev, prod, staging"},
		{"?env=prod", "env", "environment"},
	}
	for _, tc := range refused {
		w := h.do("GET", "/api/v1/databases"+tc.query, readerToken, nil)
		p := problemOf(t, w, http.StatusBadRequest, "malformed")
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || !strings.Contains(p.Errors[0].Message, tc.mentions) {
			t.Errorf("%s: errors %+v", tc.query, p.Errors)
		}
	}
}

// TestGetDatabase: a ready database shows its hosts, dashboard and entity,
// and never a credential.
func TestGetDatabase(t *testing.T) {
	h := newHarness(t)
	a := h.ready("ledger", "prod")
	w := h.do("GET", "/api/v1/databases/prod/billing/ledger", readerToken, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var db map[string]any
	decode(t, w, &db)
	want := map[string]any{
		"environment": "prod", "team": "billing", "name": "ledger", "state": "ready", "kind": "create", "live": true,
		"request": a.ID, "requestUrl": a.URL, "namespace": "billing-prod", "entityRef": "resource:default/ledger.billing.prod",
		"url":     "/api/v1/databases/prod/billing/ledger",
		"grafana": "https://grafana.example/d/cloudnative-pg/cloudnativepg?var-namespace=billing-prod&var-cluster=ledger",
	}
	for k, v := range want {
		if db[k] != v {
			t.Errorf("%s = %v, want %v", k, db[k], v)
		}
	}
	hosts := db["hosts"].(map[string]any)
	if hosts["readWrite"] != "ledger-rw.billing-prod.svc.cluster.local" || hosts["readOnly"] != "ledger-ro.billing-prod.svc.cluster.local" ||
		hosts["read"] != "ledger-r.billing-prod.svc.cluster.local" || hosts["port"] != 5432.0 {
		t.Errorf("hosts = %v", hosts)
	}
	if spec := db["spec"].(map[string]any); spec["size"] != "S" || spec["instances"] != 3.0 {
		t.Errorf("spec = %v", spec)
	}
	assertNoCredentials(t, w.Body.Bytes())

	problemOf(t, h.do("GET", "/api/v1/databases/prod/billing/nothing", readerToken, nil), http.StatusNotFound, "not-found")
	// A failed request shows its failure.
	b := h.create(map[string]any{"name": "broken", "team": "billing", "environment": "dev"})
	h.advance(b.ID, request.Failed)
	w = h.do("GET", "/api/v1/databases/dev/billing/broken", readerToken, nil)
	decode(t, w, &db)
	if f, ok := db["failure"].(map[string]any); !ok || f["step"] != "submitted" || f["retryable"] != true || db["live"] != false {
		t.Errorf("failed database = %v", db)
	}
}

// assertNoCredentials fails if any key of a JSON document names a password
// or a connection URI.
func assertNoCredentials(t *testing.T, doc []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				lk := strings.ToLower(k)
				if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || lk == "uri" || strings.HasSuffix(lk, "uri") || strings.Contains(lk, "pgpass") {
					t.Errorf("field %s%s looks like a credential", path, k)
				}
				walk(path+k+".", e)
			}
		case []any:
			for _, e := range x {
				walk(path, e)
			}
		}
	}
	walk("", v)
}

func TestUpdateDatabase(t *testing.T) {
	tests := []struct {
		name     string
		body     map[string]any
		kind     request.Kind
		check    func(t *testing.T, s request.Spec)
		requests int
	}{
		{"resize", map[string]any{"size": "M", "instances": 2}, request.Resize, func(t *testing.T, s request.Spec) {
			if s.Size != "M" || s.Instances != 2 {
				t.Errorf("spec = %+v", s)
			}
		}, 2},
		{"storage is a resize", map[string]any{"storage": "20Gi"}, request.Resize, func(t *testing.T, s request.Spec) {
			if s.Storage != "20Gi" {
				t.Errorf("spec = %+v", s)
			}
		}, 2},
		{"backups only", map[string]any{"backups": map[string]any{"schedule": "daily", "hour": 5, "retention": "7d"}}, request.Backup, func(t *testing.T, s request.Spec) {
			if s.Backups.Schedule != "daily" || *s.Backups.Hour != 5 || s.Backups.Retention != "7d" {
				t.Errorf("backups = %+v", s.Backups)
			}
		}, 2},
		{"backups on take the defaults", map[string]any{"backups": map[string]any{"schedule": "weekly"}}, request.Backup, func(t *testing.T, s request.Spec) {
			if s.Backups.Schedule != "weekly" || s.Backups.Hour == nil || *s.Backups.Hour != 3 || s.Backups.Retention != "14d" {
				t.Errorf("backups = %+v", s.Backups)
			}
		}, 2},
		{"size and backups is a resize", map[string]any{"size": "L", "backups": map[string]any{"schedule": "daily", "hour": 4}}, request.Resize, func(t *testing.T, s request.Spec) {
			if s.Size != "L" || s.Backups.Schedule != "daily" || *s.Backups.Hour != 4 {
				t.Errorf("spec = %+v", s)
			}
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ready("ledger", "dev")
			w := h.do("PATCH", "/api/v1/databases/dev/billing/ledger", backstageToken, tc.body)
			if w.Code != http.StatusAccepted {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			var a accepted
			decode(t, w, &a)
			if a.Kind != string(tc.kind) || a.State != "submitted" || a.Database != "/api/v1/databases/dev/billing/ledger" {
				t.Errorf("reply = %+v", a)
			}
			rec, err := h.st.GetRequest(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, rec.Request.Spec)
			if rec.Request.Origin.APIClient != "backstage" {
				t.Errorf("origin = %+v", rec.Request.Origin)
			}
			if rec.Request.Kind != tc.kind || rec.Request.Key() != "dev/billing/ledger" {
				t.Errorf("stored %s of %s, want %s of dev/billing/ledger", rec.Request.Kind, rec.Request.Key(), tc.kind)
			}
			if n := len(h.requests()); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func TestUpdateRefuses(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "dev")
	busy := h.create(map[string]any{"name": "busy", "team": "billing", "environment": "dev"})
	h.ready("gone", "dev")
	w := h.do("DELETE", "/api/v1/databases/dev/billing/gone", backstageToken, nil)
	var d accepted
	decode(t, w, &d)
	h.advance(d.ID, request.PROpen, request.Planned, request.Merged, request.Deleting, request.Deleted)
	before := len(h.requests())

	tests := []struct {
		name, path string
		body       any
		status     int
		slug       string
		fields     []string
	}{
		{"size not allowed in dev", "/api/v1/databases/dev/billing/ledger", map[string]any{"size": "XL"}, 422, "validation", []string{"size"}},
		{"too many instances", "/api/v1/databases/dev/billing/ledger", map[string]any{"instances": 4}, 422, "validation", []string{"instances"}},
		{"bad retention", "/api/v1/databases/dev/billing/ledger", map[string]any{"backups": map[string]any{"schedule": "daily", "retention": "1y"}}, 422, "validation", []string{"backups.retention"}},
		{"nothing to change", "/api/v1/databases/dev/billing/ledger", map[string]any{}, 422, "validation", nil},
		{"nothing changes", "/api/v1/databases/dev/billing/ledger", map[string]any{"size": "S"}, 422, "validation", nil},
		{"unknown field", "/api/v1/databases/dev/billing/ledger", map[string]any{"name": "x"}, 400, "malformed", []string{"name"}},
		{"not found", "/api/v1/databases/dev/billing/nothing", map[string]any{"size": "M"}, 404, "not-found", nil},
		{"deleted", "/api/v1/databases/dev/billing/gone", map[string]any{"size": "M"}, 404, "not-found", nil},
		{"not ready", "/api/v1/databases/dev/billing/busy", map[string]any{"size": "M"}, 409, "conflict", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := problemOf(t, h.do("PATCH", tc.path, backstageToken, tc.body), tc.status, tc.slug)
			for _, f := range tc.fields {
				if !slices.Contains(fields(p), f) {
					t.Errorf("errors %v do not name %s", p.Errors, f)
				}
			}
		})
	}
	p := problemOf(t, h.do("DELETE", "/api/v1/databases/dev/billing/busy", backstageToken, nil), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, busy.ID) || !strings.Contains(p.Detail, "submitted") {
		t.Errorf("409 should name the request in the way and its state: %s", p.Detail)
	}
	problemOf(t, h.do("DELETE", "/api/v1/databases/dev/billing/nothing", backstageToken, nil), http.StatusNotFound, "not-found")
	problemOf(t, h.do("DELETE", "/api/v1/databases/dev/billing/gone", backstageToken, nil), http.StatusNotFound, "not-found")
	if n := len(h.requests()); n != before {
		t.Errorf("refused changes stored requests: %d, want %d", n, before)
	}
}

func TestDeleteDatabase(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "dev")
	w := h.do("DELETE", "/api/v1/databases/dev/billing/ledger", backstageToken, nil, "Idempotency-Key", "del-1")
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var a accepted
	decode(t, w, &a)
	if a.Kind != "delete" || a.State != "submitted" {
		t.Errorf("reply = %+v", a)
	}
	// The retry of a deletion answers the same, though the database is no
	// longer ready.
	again := h.do("DELETE", "/api/v1/databases/dev/billing/ledger", backstageToken, nil, "Idempotency-Key", "del-1")
	if again.Code != http.StatusAccepted || again.Body.String() != w.Body.String() {
		t.Errorf("retry: %d %s", again.Code, again.Body)
	}
	// The same key for a resize is another request.
	problemOf(t, h.do("PATCH", "/api/v1/databases/dev/billing/ledger", backstageToken, map[string]any{"size": "M"}, "Idempotency-Key", "del-1"),
		http.StatusUnprocessableEntity, "idempotency-key-reused")
	if n := len(h.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	recs, _ := h.st.ListRequests(context.Background(), store.Filter{Name: "ledger"})
	if recs[0].Request.Kind != request.Destroy {
		t.Errorf("latest = %+v", recs[0].Request)
	}
}

// TestCancelledChangeKeepsTheDatabase: a resize whose pull request was
// closed unmerged leaves the database as it was: it is still listed, live,
// and cannot be asked for again.
func TestCancelledChangeKeepsTheDatabase(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "dev")
	var resize accepted
	decode(t, h.do("PATCH", "/api/v1/databases/dev/billing/ledger", backstageToken, map[string]any{"size": "M"}), &resize)
	h.advance(resize.ID, request.PROpen, request.Cancelled)

	w := h.do("POST", "/api/v1/databases", backstageToken, map[string]any{"name": "ledger", "team": "billing", "environment": "dev"})
	p := problemOf(t, w, http.StatusConflict, "conflict")
	if !slices.Equal(fields(p), []string{"name"}) {
		t.Errorf("errors = %+v", p.Errors)
	}
	var l struct {
		Items []struct {
			Name, State string
			Live        bool
		}
	}
	decode(t, h.do("GET", "/api/v1/databases", readerToken, nil), &l)
	if len(l.Items) != 1 || !l.Items[0].Live || l.Items[0].State != "cancelled" {
		t.Errorf("list = %+v", l.Items)
	}
	if n := len(h.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}
