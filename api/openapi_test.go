package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// openAPI fetches the document, without a token.
func openAPI(t *testing.T, h *harness) map[string]any {
	t.Helper()
	w := h.do("GET", "/api/v1/openapi.json", "", nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIIsValid: kin-openapi reads the document as valid OpenAPI 3.1,
// its references resolving.
func TestOpenAPIIsValid(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/api/v1/openapi.json", "", nil)
	doc, err := openapi3.NewLoader().LoadFromData(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("the OpenAPI document is invalid: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %s, want 3.1", doc.OpenAPI)
	}
}

// TestOpenAPIServersAndLicense: the document says where the API is served
// and under which license, as kin-openapi reads them.
func TestOpenAPIServersAndLicense(t *testing.T) {
	h := newHarness(t)
	w := h.do("GET", "/api/v1/openapi.json", "", nil)
	doc, err := openapi3.NewLoader().LoadFromData(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL == "" || doc.Servers[0].Description == "" {
		t.Errorf("servers = %+v", doc.Servers)
	}
	// Every path is served under the server's URL.
	for path := range doc.Paths.Map() {
		if !strings.HasPrefix(strings.TrimSuffix(doc.Servers[0].URL, "/")+path, "/api/v1/") {
			t.Errorf("%s is not under /api/v1/ from server %s", path, doc.Servers[0].URL)
		}
	}
	if l := doc.Info.License; l == nil || l.Name == "" || l.Identifier != api.License {
		t.Errorf("license = %+v, want %s", l, api.License)
	}
}

// TestOpenAPIDeclaresIdempotency: every operation that takes an
// Idempotency-Key declares the replay header on its 202, and the 422 a
// reused key gets; the header a retry gets is the one declared.
func TestOpenAPIDeclaresIdempotency(t *testing.T) {
	h := newHarness(t)
	doc := openAPI(t, h)
	n := 0
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			takesKey := false
			params, _ := dig(op, "parameters").([]any)
			for _, p := range params {
				if dig(p, "$ref") == "#/components/parameters/IdempotencyKey" {
					takesKey = true
				}
			}
			if !takesKey {
				if dig(op, "responses", "202", "headers", api.ReplayedHeader) != nil {
					t.Errorf("%s %s takes no Idempotency-Key but declares %s", method, path, api.ReplayedHeader)
				}
				continue
			}
			n++
			hdr := dig(op, "responses", "202", "headers", api.ReplayedHeader)
			if hdr == nil || dig(hdr, "schema", "type") != "string" || dig(hdr, "description") == nil {
				t.Errorf("%s %s: 202 does not declare %s: %v", method, path, api.ReplayedHeader, dig(op, "responses", "202"))
			}
			if d := fmt.Sprint(dig(op, "responses", "422", "description")); !strings.Contains(d, "idempotency-key-reused") {
				t.Errorf("%s %s: 422 does not mention idempotency-key-reused: %s", method, path, d)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d operations take an Idempotency-Key, want POST, PATCH and DELETE of databases, POST of backups and of restore", n)
	}
	body := map[string]any{"name": "ledger", "team": "billing", "environment": "dev"}
	h.do("POST", "/api/v1/databases", backstageToken, body, "Idempotency-Key", "k-1")
	again := h.do("POST", "/api/v1/databases", backstageToken, body, "Idempotency-Key", "k-1")
	if again.Header().Get(api.ReplayedHeader) != "true" {
		t.Errorf("a retry's headers: %v", again.Header())
	}
}

// TestOpenAPICoversRoutes: every route of routes.go is in the document with
// the scope it needs, and every operation of the document is served.
func TestOpenAPICoversRoutes(t *testing.T) {
	h := newHarness(t)
	doc := openAPI(t, h)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	served := map[string]bool{}
	for _, rt := range api.Routes(h.deps) {
		served[rt.Method+" "+rt.Path] = true
		op, ok := paths[rt.Path].(map[string]any)[strings.ToLower(rt.Method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s is served but not in the OpenAPI document", rt.Method, rt.Path)
			continue
		}
		want := []any{}
		if rt.Scope != "" {
			want = []any{map[string]any{"bearerAuth": []any{rt.Scope}}}
		}
		if got, _ := json.Marshal(op["security"]); string(got) != mustJSON(t, want) {
			t.Errorf("%s %s: security %s, want %s", rt.Method, rt.Path, got, mustJSON(t, want))
		}
	}
	fill := strings.NewReplacer("{env}", "dev", "{team}", "billing", "{name}", "ledger", "{id}", "some-id")
	for path, item := range paths {
		for method := range item.(map[string]any) {
			m := strings.ToUpper(method)
			if !served[m+" "+path] {
				t.Errorf("%s %s is in the OpenAPI document but not in routes.go", m, path)
			}
			w := h.do(m, fill.Replace(path), opsToken, "{}")
			var p api.Problem
			json.Unmarshal(w.Body.Bytes(), &p)
			if p.Type == api.ProblemType("unknown-endpoint") || p.Type == api.ProblemType("method-not-allowed") {
				t.Errorf("%s %s is documented but answers %d %s", m, path, w.Code, p.Type)
			}
		}
	}
}

// TestOpenAPIBodyIsGenerated: the request body's enums and descriptions
// come from the request model and the policy.
func TestOpenAPIBodyIsGenerated(t *testing.T) {
	h := newHarness(t)
	doc := openAPI(t, h)
	create := dig(doc, "components", "schemas", "CreateDatabase").(map[string]any)
	props := create["properties"].(map[string]any)
	consts := func(s any) ([]string, []string) {
		var cs, titles []string
		for _, o := range s.(map[string]any)["oneOf"].([]any) {
			cs = append(cs, fmt.Sprint(o.(map[string]any)["const"]))
			titles = append(titles, fmt.Sprint(o.(map[string]any)["title"]))
		}
		return cs, titles
	}
	strs := func(vs any) []string {
		var out []string
		switch v := vs.(type) {
		case []request.Size:
			for _, x := range v {
				out = append(out, string(x))
			}
		case []request.Load:
			for _, x := range v {
				out = append(out, string(x))
			}
		case []request.ClientType:
			for _, x := range v {
				out = append(out, string(x))
			}
		case []request.Schedule:
			for _, x := range v {
				out = append(out, string(x))
			}
		case []string:
			out = v
		}
		return out
	}
	sizes, titles := consts(props["size"])
	if !slices.Equal(sizes, strs(request.Sizes())) {
		t.Errorf("sizes %v", sizes)
	}
	for i, s := range request.Sizes() {
		if !strings.Contains(titles[i], h.cfg.Policy.Sizes[s].Description) {
			t.Errorf("size %s title %q lacks the preset's description", s, titles[i])
		}
	}
	for _, c := range []struct {
		field string
		want  []string
	}{
		{"load", strs(request.Loads())},
		{"clientType", strs(request.ClientTypes())},
		{"environment", h.cfg.Policy.EnvironmentNames()},
	} {
		if got, _ := consts(props[c.field]); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.field, got, c.want)
		}
	}
	if got, _ := consts(dig(props, "backups", "properties", "schedule")); !slices.Equal(got, strs(request.Schedules())) {
		t.Errorf("schedules: %v", got)
	}
	var versions []string
	for _, v := range dig(props, "postgresVersion", "enum").([]any) {
		versions = append(versions, fmt.Sprint(v))
	}
	if fmt.Sprint(versions) != fmt.Sprint(h.cfg.Policy.Versions()) {
		t.Errorf("versions %v, want %v", versions, h.cfg.Policy.Versions())
	}
	if create["additionalProperties"] != false {
		t.Error("the body should refuse unknown fields")
	}
}

// TestResponsesMatchOpenAPI: the replies of a whole scenario validate
// against the schemas the document gives them, made strict (no property
// the document does not list).
func TestResponsesMatchOpenAPI(t *testing.T) {
	h := newHarness(t)
	doc := openAPI(t, h)
	strict(dig(doc, "components", "schemas").(map[string]any))
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	schema := func(name string) *jsonschema.Schema {
		s, err := c.Compile("openapi.json#/components/schemas/" + name)
		if err != nil {
			t.Fatalf("schema %s does not compile: %v", name, err)
		}
		return s
	}
	for name := range dig(doc, "components", "schemas").(map[string]any) {
		schema(name)
	}

	ready := h.ready("ledger", "prod")
	h.create(map[string]any{"name": "broken", "team": "billing", "environment": "dev"})
	h.advance(h.requests()[0].ID(), request.Failed)
	// ledger is watched: unhealthy, drifted, with a failed reconcile.
	h.setWatch("prod", "ledger", func(w *store.Watch) {
		health, d := sick, drift
		w.RequestID, w.Health, w.Drift = ready.ID, &health, &d
		w.Reconcile = &request.Reconcile{ID: "rc-0", State: request.ReconcileFailed, Requester: request.Requester{ID: "U1"},
			Confirmer: &request.Requester{ID: "U2", Name: "Joe"}, Commit: "abc123", Summary: drift.Summary, Resources: drift.Resources,
			Error: "terraform apply failed", Requested: since, Updated: since}
	})
	steps := []struct {
		method, path, token string
		body                any
		status              int
		schema              string
	}{
		{"POST", "/api/v1/databases", backstageToken, map[string]any{"name": "new", "team": "growth", "environment": "dev"}, 202, "Accepted"},
		{"POST", "/api/v1/databases", backstageToken, map[string]any{"name": "new", "team": "growth", "environment": "qa"}, 422, "Problem"},
		{"POST", "/api/v1/databases", backstageToken, `{"x":1}`, 400, "Problem"},
		{"GET", "/api/v1/databases", readerToken, nil, 200, "DatabaseList"},
		{"GET", "/api/v1/databases/prod/billing/ledger", readerToken, nil, 200, "Database"},
		{"GET", "/api/v1/databases/dev/billing/broken", readerToken, nil, 200, "Database"},
		{"GET", ready.URL, readerToken, nil, 200, "Request"},
		{"GET", ready.URL + "/events", readerToken, nil, 200, "EventList"},
		{"GET", "/api/v1/catalog/entities", readerToken, nil, 200, "EntityList"},
		{"GET", "/api/v1/databases?limit=1", readerToken, nil, 200, "DatabaseList"},
		{"GET", ready.URL + "/events?limit=1", readerToken, nil, 200, "EventList"},
		{"GET", "/api/v1/catalog/entities?limit=1", readerToken, nil, 200, "EntityList"},
		{"GET", "/api/v1/databases?limit=5000", readerToken, nil, 400, "Problem"},
		{"GET", "/api/v1/catalog/entities?cursor=x", readerToken, nil, 400, "Problem"},
		{"GET", "/api/v1/databases?drifted=true&health=unhealthy", readerToken, nil, 200, "DatabaseList"},
		{"GET", "/api/v1/databases?drifted=no", readerToken, nil, 400, "Problem"},
		{"POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, nil, 202, "Reconcile"},
		{"POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, map[string]any{"confirm": "nope"}, 422, "Problem"},
		{"POST", "/api/v1/databases/prod/billing/ledger/reconcile", backstageToken, `{"x":1}`, 400, "Problem"},
		{"GET", "/api/v1/databases/prod/billing/ledger", readerToken, nil, 200, "Database"},
		{"GET", "/api/v1/databases/prod/billing/ledger/backups", readerToken, nil, 200, "BackupSet"},
		{"GET", "/api/v1/databases/dev/billing/broken/backups", readerToken, nil, 422, "Problem"},
		{"POST", "/api/v1/databases/prod/billing/ledger/backups", backstageToken, nil, 202, "Backup"},
		{"POST", "/api/v1/databases/prod/billing/ledger/backups", backstageToken, map[string]any{"requester": map[string]any{"id": "user:default/jane"}}, 202, "Backup"},
		{"POST", "/api/v1/databases/prod/billing/nowhere/backups", backstageToken, nil, 404, "Problem"},
		{"POST", "/api/v1/databases/prod/billing/ledger/restore", backstageToken, map[string]any{"name": "ledger-copy", "targetTime": "2025-03-01T10:00:00Z"}, 202, "Accepted"},
		{"POST", "/api/v1/databases/prod/billing/ledger/restore", backstageToken, map[string]any{"name": "ledger-old", "targetTime": "2020-03-01T10:00:00Z"}, 422, "Problem"},
		{"POST", "/api/v1/databases/prod/billing/nowhere/restore", backstageToken, map[string]any{"name": "ledger-copy"}, 404, "Problem"},
		{"GET", "/api/v1/databases/prod/billing/ledger-copy", readerToken, nil, 200, "Database"},
		{"PATCH", "/api/v1/databases/prod/billing/ledger", backstageToken, map[string]any{"size": "M"}, 202, "Accepted"},
		{"GET", "/api/v1/databases/nowhere/x/y", readerToken, nil, 404, "Problem"},
		{"GET", "/api/v1/databases", "", nil, 401, "Problem"},
	}
	for _, s := range steps {
		w := h.do(s.method, s.path, s.token, s.body)
		if w.Code != s.status {
			t.Errorf("%s %s: %d, want %d: %s", s.method, s.path, w.Code, s.status, w.Body)
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(w.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema(s.schema).Validate(inst); err != nil {
			t.Errorf("%s %s does not match %s:\n%v\n%s", s.method, s.path, s.schema, err, w.Body)
		}
	}
}

// TestSchemaAgreesWithAPI: the generated body schema accepts exactly what
// the API accepts, on apitest.Samples and on the boundary samples
// generated from the policy (apitest.Boundary); the cases only the server
// can check are accepted by the schema and refused by the API. A refused
// sample's problem names its field.
func TestSchemaAgreesWithAPI(t *testing.T) {
	h := newHarness(t)
	b, err := json.Marshal(api.CreateSchema(&h.cfg.Policy))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("create.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("create.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(apitest.Samples(), apitest.Boundary(&h.cfg.Policy)...) {
		t.Run(s.Name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(mustJSON(t, s.Body)))
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := sch.Validate(inst)
			schemaOK := schemaErr == nil
			w := h.do("POST", "/api/v1/databases", backstageToken, s.Body)
			apiOK := w.Code == http.StatusAccepted
			if w.Code != http.StatusAccepted && w.Code != http.StatusBadRequest && w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("API answered %d: %s", w.Code, w.Body)
			}
			switch {
			case s.ServerOnly && (!schemaOK || apiOK):
				t.Errorf("server-only rule: schema accepts %v (want true), API accepts %v (want false): %s", schemaOK, apiOK, w.Body)
			case !s.ServerOnly && (schemaOK != s.Valid || apiOK != s.Valid):
				t.Errorf("want valid=%v; schema accepts %v, API accepts %v: %s\nschema: %v", s.Valid, schemaOK, apiOK, w.Body, schemaErr)
			}
			if !apiOK && s.Field != "" {
				var p api.Problem
				json.Unmarshal(w.Body.Bytes(), &p)
				if !slices.Contains(fields(p), s.Field) {
					t.Errorf("the problem should name %s: %s", s.Field, w.Body)
				}
			}
		})
	}
}

// strict adds additionalProperties: false to every object schema that
// lists its properties and says nothing of others.
func strict(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "object" && x["properties"] != nil && x["additionalProperties"] == nil {
			x["additionalProperties"] = false
		}
		for _, e := range x {
			strict(e)
		}
	case []any:
		for _, e := range x {
			strict(e)
		}
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
