package backstage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/api/backstage"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

const restoreFile = "restore.yaml"

// TestRestoreTemplateIsGenerated: the committed restore.yaml is what
// RestoreTemplate generates from the default policy. go test -update
// rewrites it.
func TestRestoreTemplateIsGenerated(t *testing.T) {
	want, err := backstage.RestoreTemplate(&defaults(t).Policy, backstage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(restoreFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(restoreFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the generator writes; run go test ./api/backstage -update and review the diff", restoreFile)
	}
}

// loadRestore reads the committed restore template as JSON would.
func loadRestore(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(restoreFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(js, &m)
	return m
}

// TestRestoreTemplateShape checks what Backstage and the roadie action
// need, and that the form reuses the first template's pieces: the name's
// schema and rules, the environments, the team picker.
func TestRestoreTemplateShape(t *testing.T) {
	tpl := loadRestore(t)
	first := loadTemplate(t)
	for path, want := range map[string]any{
		"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata.name": "clustropg-restore",
		"metadata.title": "Restore a PostgreSQL database", "spec.owner": "group:platform", "spec.type": "database",
	} {
		if got := dig(tpl, strings.Split(path, ".")...); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	pages := dig(tpl, "spec", "parameters").([]any)
	if len(pages) != 1 {
		t.Fatalf("%d pages, want one (only a single page can refuse unknown fields)", len(pages))
	}
	page, firstPage := pages[0], dig(first, "spec", "parameters").([]any)[0]
	if dig(page, "additionalProperties") != false {
		t.Error("the form should refuse unknown fields")
	}
	for _, f := range []string{"environment", "team"} {
		if mustJSON(dig(page, "properties", f)) != mustJSON(dig(firstPage, "properties", f)) {
			t.Errorf("%s differs from the first template's: %s", f, mustJSON(dig(page, "properties", f)))
		}
	}
	name, firstName := dig(page, "properties", "name"), dig(firstPage, "properties", "name")
	for _, k := range []string{"type", "pattern", "minLength", "maxLength"} {
		if dig(name, k) != dig(firstName, k) {
			t.Errorf("name.%s = %v, the first template's %v", k, dig(name, k), dig(firstName, k))
		}
	}
	if dig(page, "properties", "targetTime", "format") != "date-time" || dig(page, "properties", "point", "default") != backstage.PointLatest {
		t.Errorf("point and targetTime: %s %s", mustJSON(dig(page, "properties", "point")), mustJSON(dig(page, "properties", "targetTime")))
	}
	// Every name rule of the first form is in this one.
	rules := map[string]bool{}
	for _, r := range dig(page, "allOf").([]any) {
		rules[mustJSON(r)] = true
	}
	n := 0
	for _, r := range dig(firstPage, "allOf").([]any) {
		if s := mustJSON(r); strings.Contains(s, `"then":{"properties":{"name"`) || strings.Contains(s, `"team":{"description":"The namespace`) ||
			strings.Contains(s, `"then":{"properties":{"team"`) {
			n++
			if !rules[s] {
				t.Errorf("the restore form lacks the name rule %s", s)
			}
		}
	}
	if n == 0 {
		t.Error("no name rule found in the first template")
	}
	step := dig(tpl, "spec", "steps").([]any)[0]
	in := dig(step, "input").(map[string]any)
	if dig(step, "action") != "http:backstage:request" || in["method"] != "POST" || !strings.HasPrefix(fmt.Sprint(in["path"]), "/proxy/clustro/api/v1/databases/") ||
		!strings.HasSuffix(fmt.Sprint(in["path"]), "/${{ parameters.source }}/restore") {
		t.Errorf("step = %v", step)
	}
	if h := in["headers"].(map[string]any); h["Content-Type"] != "application/json" || !strings.Contains(fmt.Sprint(h["Idempotency-Key"]), "context.task.id") {
		t.Errorf("headers = %v", h)
	}
	if d := fmt.Sprint(dig(page, "description")); !strings.Contains(d, "recovery window") || !strings.Contains(d, "log") {
		t.Errorf("the form should say what only ClustroPG checks and where its answer shows: %s", d)
	}
}

// fakeClusters is a test double of pipeline.Clusters, our own interface:
// every cluster is ready and can be restored to any time from windowFirst
// to windowLast.
type fakeClusters struct{}

var (
	windowFirst = time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC)
	windowLast  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func (fakeClusters) WaitReady(context.Context, string, string, string, func(string)) error {
	return nil
}

func (fakeClusters) Check(_ context.Context, _, namespace, name string) (request.ReadyInfo, error) {
	return request.ReadyInfo{Namespace: namespace, Cluster: name}, nil
}

func (fakeClusters) Backups(_ context.Context, _, _, name string) (request.BackupSet, error) {
	return request.BackupSet{
		Base:   []request.BaseBackup{{Name: name + "-1", Phase: "completed", Started: windowFirst.Add(-time.Hour), Stopped: windowFirst}},
		Window: request.RecoveryWindow{First: windowFirst, Last: windowLast, Archiving: true, LastBackup: windowFirst},
	}, nil
}

func (fakeClusters) TakeBackup(_ context.Context, _, _, _, backup string) (request.BaseBackup, error) {
	return request.BaseBackup{Name: backup, Phase: "started", OnDemand: true}, nil
}

// sourceName is the database every restore of the tests restores from.
const sourceName = "restore-src"

// restoreAPI is the API with the real pipeline on a real store, its
// clusters the test double; sources records the environments and teams
// where the source database is ready.
type restoreAPI struct {
	harness
	sources map[string]bool
}

func newRestoreAPI(t *testing.T) *restoreAPI {
	t.Helper()
	c := defaults(t)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "clustro.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := templates.New(c.Templates())
	if err != nil {
		t.Fatal(err)
	}
	pl := pipeline.New(pipeline.Deps{Store: st, Renderer: r, Clusters: fakeClusters{}, Log: zerolog.Nop()}, pipeline.Config{})
	h := api.New(api.Deps{
		Store: st, Pipeline: pl, Policy: &c.Policy, Catalog: c.Catalog,
		Log: zerolog.Nop(), Tokens: []config.APIToken{{Name: "backstage", Token: token, Scopes: []string{"read", "request"}}},
	})
	return &restoreAPI{harness: harness{h: h, st: st}, sources: map[string]bool{}}
}

// source makes the source database ready in env and team, with backups,
// when the API takes it; an environment or team it refuses has none.
func (h *restoreAPI) source(t *testing.T, env, team string) {
	t.Helper()
	k := env + "/" + team
	if _, done := h.sources[k]; done {
		return
	}
	w := h.post(t, map[string]any{"name": sourceName, "team": team, "environment": env, "backups": map[string]any{"schedule": "daily"}})
	h.sources[k] = w.Code == http.StatusAccepted
	if w.Code != http.StatusAccepted {
		return
	}
	var a struct{ ID string }
	json.Unmarshal(w.Body.Bytes(), &a)
	if _, err := apitest.Advance(context.Background(), h.st, a.ID, apitest.ToReady()...); err != nil {
		t.Fatal(err)
	}
}

// restoreAccepted reports a 202; other answers must be refusals a client
// reads (404 for a source that does not exist, 409 for a name taken).
func restoreAccepted(t *testing.T, w *httptest.ResponseRecorder) bool {
	t.Helper()
	switch w.Code {
	case http.StatusAccepted:
		return true
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("a refusal as %s: %s", ct, w.Body)
		}
		return false
	}
	t.Fatalf("API answered %d: %s", w.Code, w.Body)
	return false
}

// TestRestoreTemplateAgreesWithAPI: the restore form refuses exactly what
// the API refuses behind the template's step, on the API's samples whose
// body is an identity (name, team, environment: the name boundaries for
// each environment and length of team, bad names, unknown environments,
// teams too long), each restored from a ready source of its environment
// and team, to the latest point or to a time within the window. The team
// is written in each of the owner picker's ways.
func TestRestoreTemplateAgreesWithAPI(t *testing.T) {
	tpl := loadRestore(t)
	pages := formPages(t, tpl)
	h := newRestoreAPI(t)
	held := 0
	policy := &defaults(t).Policy
	for i, s := range append(apitest.Samples(), apitest.Boundary(policy)...) {
		env, envOK := s.Body["environment"].(string)
		team, teamOK := s.Body["team"].(string)
		identity := envOK && teamOK && !s.ServerOnly
		for k, v := range s.Body {
			// A size the environment allows (the boundary samples give
			// one) leaves the sample's validity to its identity.
			offer, _ := policy.Offer(env)
			allowed := k == "size" && slices.Contains(offer.Sizes, request.Size(fmt.Sprint(v)))
			identity = identity && (k == "name" || k == "team" || k == "environment" || allowed)
		}
		if !identity {
			continue
		}
		held++
		t.Run(s.Name, func(t *testing.T) {
			h.source(t, env, team)
			values := map[string]any{"environment": env, "team": fmt.Sprintf(teamRefs[i%len(teamRefs)], team), "source": sourceName, "point": backstage.PointLatest}
			if name, ok := s.Body["name"]; ok {
				values["name"] = name
			}
			if i%2 == 1 {
				values["point"], values["targetTime"] = backstage.PointTime, "2025-03-01T10:00:00Z"
			}
			formErr := formAccepts(t, pages, values)
			w, sent, err := h.run(t, tpl, values, fmt.Sprintf("restore-task-%d", i))
			if err != nil {
				if formErr == nil || s.Valid {
					t.Fatalf("the step fails: %v (form: %v)", err, formErr)
				}
				return // the step cannot even call the API for what the form refuses
			}
			apiOK := restoreAccepted(t, w)
			if (formErr == nil) != s.Valid || apiOK != s.Valid {
				t.Errorf("want valid=%v; form accepts %v, API accepts %v\nsent %s\nreply %s\nform: %v", s.Valid, formErr == nil, apiOK, mustJSON(sent), w.Body, formErr)
			}
		})
	}
	if held < 20 {
		t.Errorf("only %d samples are identities", held)
	}
}

// TestRestoreFormValuesAgreeWithAPI: the values of the restore form (the
// point and its time, the source, the team's refs) are accepted by the
// form exactly when the API, behind the step, accepts them, but for what
// only ClustroPG knows (serverOnly: the recovery window, the sources that
// exist, the new name being the source's) and the form's own rule on the
// point (formOnly: a point in time needs a time; the step sends the time
// only for a point in time, so the API restores the latest). The step is
// run even for what the form refuses, as if the form were bypassed.
func TestRestoreFormValuesAgreeWithAPI(t *testing.T) {
	tpl := loadRestore(t)
	pages := formPages(t, tpl)
	h := newRestoreAPI(t)
	h.source(t, "dev", "billing")
	tests := []struct {
		name       string
		more       map[string]any
		valid      bool
		serverOnly bool
		formOnly   bool
		field      string
	}{
		{"the latest point", map[string]any{"point": "latest"}, true, false, false, ""},
		{"a time in UTC", map[string]any{"point": "time", "targetTime": "2025-03-01T10:00:00Z"}, true, false, false, ""},
		{"a time with an offset", map[string]any{"point": "time", "targetTime": "2025-03-01T11:00:00+01:00"}, true, false, false, ""},
		{"a time with milliseconds", map[string]any{"point": "time", "targetTime": "2025-03-01T10:00:00.000Z"}, true, false, false, ""},
		{"a time in lowercase", map[string]any{"point": "time", "targetTime": "2025-03-01t10:00:00z"}, true, false, false, ""},
		{"not a time", map[string]any{"point": "time", "targetTime": "yesterday"}, false, false, false, "restore.targetTime"},
		{"a date only", map[string]any{"point": "time", "targetTime": "2025-03-01"}, false, false, false, "restore.targetTime"},
		{"a time without its zone", map[string]any{"point": "time", "targetTime": "2025-03-01T10:00:00"}, false, false, false, "restore.targetTime"},
		{"a space for T", map[string]any{"point": "time", "targetTime": "2025-03-01 10:00:00Z"}, false, false, false, "restore.targetTime"},
		{"a time as a number", map[string]any{"point": "time", "targetTime": 1740823200}, false, false, false, "targetTime"},
		{"the latest point with a time", map[string]any{"point": "latest", "targetTime": "2025-03-01T10:00:00Z"}, true, false, false, ""},
		{"an unknown point", map[string]any{"point": "yesterday"}, false, false, true, ""},
		{"a point in time without a time", map[string]any{"point": "time"}, false, false, true, ""},
		{"before the window", map[string]any{"point": "time", "targetTime": "2024-06-01T00:00:00Z"}, false, true, false, "restore.targetTime"},
		{"in the future", map[string]any{"point": "time", "targetTime": "2999-01-01T00:00:00Z"}, false, true, false, "restore.targetTime"},
		{"an unknown source", map[string]any{"source": "nowhere"}, false, true, false, "restore.source"},
		{"a source in another team", map[string]any{"team": "group:default/growth"}, false, true, false, "restore.source"},
		{"restored onto its source", map[string]any{"name": sourceName}, false, true, false, "restore.source"},
		{"a bad source", map[string]any{"source": "Ledger"}, false, false, false, "restore.source"},
		{"a bad name", map[string]any{"name": "1copy"}, false, false, false, "name"},
		{"no name", map[string]any{"name": nil}, false, false, false, "name"},
		{"a group of another namespace", map[string]any{"team": "group:ops/billing"}, false, false, false, "owner"},
		{"an unknown field", map[string]any{"size": "S"}, false, false, true, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]any{"environment": "dev", "team": "group:default/billing", "source": sourceName, "point": "latest", "name": fmt.Sprintf("copy-%d", i)}
			for k, v := range tc.more {
				if v == nil {
					delete(values, k)
					continue
				}
				values[k] = v
			}
			formErr := formAccepts(t, pages, values)
			w, sent, err := h.run(t, tpl, values, fmt.Sprintf("restore-form-%d", i))
			if err != nil {
				t.Fatalf("the step fails: %v", err)
			}
			apiOK := restoreAccepted(t, w)
			wantForm, wantAPI := tc.valid || tc.serverOnly, tc.valid || tc.formOnly
			if (formErr == nil) != wantForm || apiOK != wantAPI {
				t.Errorf("want form %v, API %v; form accepts %v, API accepts %v\nsent %s\nreply %s\nform: %v", wantForm, wantAPI, formErr == nil, apiOK, mustJSON(sent), w.Body, formErr)
			}
			if !apiOK && tc.field != "" && !names(w, tc.field) {
				t.Errorf("the refusal should name %s: %s", tc.field, w.Body)
			}
		})
	}
}

// TestRestoreTemplateStep: the step posts to the source's restore route
// with the team's name in the path, the new name, the time only for a
// point in time, the picked group as owner, the user, and the task's id as
// Idempotency-Key (a retried task asks once); the request stored is a
// restore of the source; the output renders from the reply.
func TestRestoreTemplateStep(t *testing.T) {
	tpl := loadRestore(t)
	h := newRestoreAPI(t)
	h.source(t, "prod", "billing")
	values := map[string]any{"environment": "prod", "team": "group:default/billing", "source": sourceName, "point": "time",
		"targetTime": "2025-03-01T11:00:00+01:00", "name": "ledger-copy"}
	first, sent, err := h.run(t, tpl, values, "task-7")
	if err != nil || first.Code != http.StatusAccepted {
		t.Fatalf("%v %d %s", err, first.Code, first.Body)
	}
	if s := sent.(map[string]any); s["name"] != "ledger-copy" || s["targetTime"] != "2025-03-01T11:00:00+01:00" || s["owner"] != "group:default/billing" ||
		dig(s, "requester", "id") != "user:default/jane" || len(s) != 4 {
		t.Errorf("sent %s", mustJSON(sent))
	}
	again, _, _ := h.run(t, tpl, values, "task-7")
	if again.Code != http.StatusAccepted || again.Body.String() != first.Body.String() || again.Header().Get(api.ReplayedHeader) != "true" {
		t.Errorf("a retried task: %d %v %s", again.Code, again.Header(), again.Body)
	}
	recs, _ := h.st.ListRequests(context.Background(), store.Filter{Name: "ledger-copy"})
	if len(recs) != 1 {
		t.Fatalf("requests = %+v", recs)
	}
	rq := recs[0].Request
	if rq.Kind != request.Create || rq.Team != "billing" || rq.Environment != "prod" || rq.Restore == nil || rq.Restore.Source != sourceName ||
		rq.Restore.TargetTime == nil || !rq.Restore.TargetTime.Equal(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)) || rq.Requester.ID != "user:default/jane" {
		t.Errorf("request = %+v, restore %+v", rq, rq.Restore)
	}
	var reply any
	json.Unmarshal(first.Body.Bytes(), &reply)
	out, _, err := render(dig(tpl, "spec", "output"), map[string]any{"parameters": values,
		"steps": map[string]any{backstage.RestoreStepID: map[string]any{"output": map[string]any{"body": reply}}}})
	if err != nil {
		t.Fatal(err)
	}
	links := dig(out, "links").([]any)
	if u := dig(links[0], "url"); !strings.HasPrefix(fmt.Sprint(u), "https://github.com/acme/infra/pulls?q=") {
		t.Errorf("pull request link = %v", u)
	}
	if ref := dig(links[1], "entityRef"); ref != "resource:default/ledger-copy.billing.prod" {
		t.Errorf("entity link = %v", ref)
	}
	if text := fmt.Sprint(dig(dig(out, "text").([]any)[0], "content")); strings.Contains(text, "${{") || !strings.Contains(text, recs[0].ID()) ||
		!strings.Contains(text, sourceName) {
		t.Errorf("text = %s", text)
	}

	// The latest point: no time is sent, even one the form still holds.
	values = map[string]any{"environment": "prod", "team": "billing", "source": sourceName, "point": "latest", "targetTime": "2025-03-01T10:00:00Z", "name": "ledger-latest"}
	w, sent, err := h.run(t, tpl, values, "task-8")
	if err != nil || w.Code != http.StatusAccepted || dig(sent, "targetTime") != nil {
		t.Fatalf("%v %d %s sent %s", err, w.Code, w.Body, mustJSON(sent))
	}
	recs, _ = h.st.ListRequests(context.Background(), store.Filter{Name: "ledger-latest"})
	if len(recs) != 1 || recs[0].Request.Restore == nil || recs[0].Request.Restore.TargetTime != nil {
		t.Errorf("requests = %+v", recs)
	}
}
