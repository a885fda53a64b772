package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/internal/syncbuf"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// newPipeline is the real pipeline with no GitHub or runner, its clusters
// the test double of backups_test.go (fixed backups and recovery window):
// Submit, Change and Retry validate, store the request and queue its jobs.
func newPipeline(t testing.TB, cfg *config.Config, st store.Store, clusters pipeline.Clusters) *pipeline.Pipeline {
	t.Helper()
	r, err := templates.New(cfg.Templates())
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.New(pipeline.Deps{Store: st, Renderer: r, Clusters: clusters, Log: zerolog.Nop()}, pipeline.Config{})
}

// events returns every audit event of every request, oldest request first.
func (h *harness) events() []request.Event {
	h.t.Helper()
	var all []request.Event
	recs := h.requests()
	for i := len(recs) - 1; i >= 0; i-- {
		evs, err := h.st.Events(context.Background(), recs[i].ID())
		if err != nil {
			h.t.Fatal(err)
		}
		all = append(all, evs...)
	}
	return all
}

// The tokens of the tests' clients. None may ever appear in a response or
// a log line: every request and every test checks.
const (
	backstageToken = "bk-token-0123456789abcdef"
	readerToken    = "rd-token-0123456789abcdef"
	requesterToken = "rq-token-0123456789abcdef"
	opsToken       = "op-token-0123456789abcdef"
)

func testTokens() []config.APIToken {
	return []config.APIToken{
		{Name: "backstage", Token: backstageToken, Scopes: []string{config.ScopeRead, config.ScopeRequest}},
		{Name: "reader", Token: readerToken, Scopes: []string{config.ScopeRead}},
		{Name: "requester", Token: requesterToken, Scopes: []string{config.ScopeRequest}},
		{Name: "ops", Token: opsToken, Scopes: []string{config.ScopeAdmin}},
	}
}

func secrets() []string { return []string{backstageToken, readerToken, requesterToken, opsToken} }

// harness is the API on a real SQLite store, with the real pipeline
// (without GitHub: requests and their jobs are stored, no worker runs).
type harness struct {
	t    *testing.T
	h    http.Handler
	st   store.Store
	pl   *pipeline.Pipeline
	cl   *fakeClusters
	cfg  *config.Config
	deps api.Deps
	logs *syncbuf.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := map[string]string{"CLUSTRO_GRAFANA_URL": "https://grafana.example", "CLUSTRO_GITHUB_REPO": "acme/infra"}
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "clustro.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cl := newFakeClusters()
	pl := newPipeline(t, cfg, st, cl)
	logs := &syncbuf.Buffer{}
	deps := api.Deps{
		Store: st, Pipeline: pl, Policy: &cfg.Policy, Catalog: cfg.Catalog, Grafana: cfg.Grafana,
		Namespace: cfg.Policy.NamespaceFor, Log: zerolog.New(logs), Tokens: testTokens(),
	}
	t.Cleanup(func() {
		for _, s := range secrets() {
			if strings.Contains(logs.String(), s) {
				t.Errorf("a token is in the log:\n%s", logs.String())
			}
		}
	})
	return &harness{t: t, h: api.New(deps), st: st, pl: pl, cl: cl, cfg: cfg, deps: deps, logs: logs}
}

// do sends a request. body is nil (none), a string or []byte (sent as is)
// or a value (sent as JSON); a body gets Content-Type application/json
// unless headers (name, value pairs) say otherwise. It fails the test if
// a token appears in the response.
func (h *harness) do(method, path, token string, body any, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	for _, s := range secrets() {
		if strings.Contains(w.Body.String(), s) {
			h.t.Errorf("%s %s: a token is in the response body", method, path)
		}
		for k, vs := range w.Header() {
			for _, v := range vs {
				if strings.Contains(v, s) {
					h.t.Errorf("%s %s: a token is in the response header %s", method, path, k)
				}
			}
		}
	}
	return w
}

// create asks for a database and returns the accepted reply.
func (h *harness) create(body map[string]any) accepted {
	h.t.Helper()
	w := h.do("POST", "/api/v1/databases", backstageToken, body)
	if w.Code != http.StatusAccepted {
		h.t.Fatalf("create %v: %d %s", body, w.Code, w.Body)
	}
	var a accepted
	decode(h.t, w, &a)
	return a
}

// ready creates a database and moves its request to ready.
func (h *harness) ready(name, env string) accepted {
	h.t.Helper()
	a := h.create(map[string]any{"name": name, "team": "billing", "environment": env})
	h.advance(a.ID, apitest.ToReady()...)
	return a
}

func (h *harness) advance(id string, states ...request.State) {
	h.t.Helper()
	if _, err := apitest.Advance(context.Background(), h.st, id, states...); err != nil {
		h.t.Fatal(err)
	}
}

// requests lists every stored request.
func (h *harness) requests() []store.Record {
	h.t.Helper()
	recs, err := h.st.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

type accepted struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	State       string `json:"state"`
	URL         string `json:"url"`
	Database    string `json:"database"`
	EntityRef   string `json:"entityRef"`
	PullRequest string `json:"pullRequest"`
}

func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
}

// problemOf checks that a reply is an RFC 9457 problem of status and slug
// and returns it.
func problemOf(t *testing.T, w *httptest.ResponseRecorder, status int, slug string) api.Problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatalf("problem is not JSON: %s", w.Body)
	}
	for _, k := range []string{"type", "title", "status", "detail"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, w.Body)
		}
	}
	var p api.Problem
	json.Unmarshal(w.Body.Bytes(), &p)
	if p.Status != status || p.Type != api.ProblemType(slug) {
		t.Errorf("problem = %s %d, want %s %d: %s", p.Type, p.Status, api.ProblemType(slug), status, w.Body)
	}
	return p
}

// fields lists the fields a problem's errors name.
func fields(p api.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}
