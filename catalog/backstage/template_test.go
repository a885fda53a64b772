package backstage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/catalog/backstage"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/store"
)

var update = flag.Bool("update", false, "rewrite template.yaml from the generator")

const templateFile = "template.yaml"

func defaults(t *testing.T) *config.Config {
	t.Helper()
	env := map[string]string{"CLUSTRO_GITHUB_REPO": "acme/infra"}
	c, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTemplateIsGenerated: the committed template.yaml is what Template
// generates from the default policy. go test -update rewrites it.
func TestTemplateIsGenerated(t *testing.T) {
	want, err := backstage.Template(&defaults(t).Policy, backstage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(templateFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the generator writes; run go test ./catalog/backstage -update and review the diff", templateFile)
	}
	// Its YAML reads back as the generator's data.
	var fromYAML, fromGo any
	if err := yaml.Unmarshal(got, &fromYAML); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(fromYAML)
	json.Unmarshal(js, &fromYAML)
	params, _ := json.Marshal([]*api.Schema{backstage.Parameters(&defaults(t).Policy)})
	json.Unmarshal(params, &fromGo)
	if fmt.Sprint(dig(fromYAML, "spec", "parameters")) != fmt.Sprint(fromGo) {
		t.Errorf("the YAML's parameters do not read back as the generated schema")
	}
}

// loadTemplate reads the committed template.
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// Through JSON, so it reads as a JSON document would.
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(js, &m)
	return m
}

// TestTemplateShape checks what Backstage and the roadie action need.
func TestTemplateShape(t *testing.T) {
	tpl := loadTemplate(t)
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"apiVersion"}, "scaffolder.backstage.io/v1beta3"},
		{[]string{"kind"}, "Template"},
		{[]string{"metadata", "name"}, "clustropg-database"},
		{[]string{"spec", "owner"}, "group:platform"},
	}
	for _, c := range checks {
		if got := dig(tpl, c.path...); got != c.want {
			t.Errorf("%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	page := dig(tpl, "spec", "parameters").([]any)[0]
	team := dig(page, "properties", "team").(map[string]any)
	if team["ui:field"] != "OwnerPicker" || dig(team, "ui:options", "catalogFilter", "kind") != "Group" {
		t.Errorf("team should be an OwnerPicker of groups: %v", team)
	}
	steps := dig(tpl, "spec", "steps").([]any)
	step := steps[0].(map[string]any)
	in := step["input"].(map[string]any)
	if step["action"] != "http:backstage:request" || in["method"] != "POST" || in["path"] != "/proxy/clustro/api/v1/databases" {
		t.Errorf("step = %v", step)
	}
	headers := in["headers"].(map[string]any)
	if headers["Content-Type"] != "application/json" || !strings.Contains(fmt.Sprint(headers["Idempotency-Key"]), "${{") {
		t.Errorf("headers = %v", headers)
	}
	if links := dig(tpl, "spec", "output", "links").([]any); len(links) != 2 {
		t.Errorf("links = %v", links)
	}
}

// harness is the API on a real store, as the Backstage proxy reaches it.
type harness struct {
	h  http.Handler
	st store.Store
}

const token = "backstage-token-0123456789"

func newAPI(t *testing.T) harness {
	t.Helper()
	c := defaults(t)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "clustro.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := api.New(api.Deps{
		Store: st, Pipeline: &apitest.Pipeline{Store: st, Policy: &c.Policy}, Policy: &c.Policy, Catalog: c.Catalog,
		Log: zerolog.Nop(), Tokens: []config.APIToken{{Name: "backstage", Token: token, Scopes: []string{"read", "request"}}},
	})
	return harness{h: h, st: st}
}

// run runs the template's step as the scaffolder would: it renders the
// step's input with the form's values and calls the API where the proxy
// sends it. It returns the reply and the rendered body.
func (h harness) run(t *testing.T, tpl map[string]any, form map[string]any, taskID string) (*httptest.ResponseRecorder, any) {
	t.Helper()
	ctx := map[string]any{
		"parameters": form,
		"user": map[string]any{"ref": "user:default/jane",
			"entity": map[string]any{"spec": map[string]any{"profile": map[string]any{"displayName": "Jane Doe"}}}},
		"context": map[string]any{"task": map[string]any{"id": taskID}},
	}
	step := dig(tpl, "spec", "steps").([]any)[0]
	in, _, err := render(dig(step, "input"), ctx)
	if err != nil {
		t.Fatal(err)
	}
	input := in.(map[string]any)
	path, ok := strings.CutPrefix(input["path"].(string), "/proxy/clustro")
	if !ok {
		t.Fatalf("path %v does not go through the proxy endpoint", input["path"])
	}
	body, _ := json.Marshal(input["body"])
	r := httptest.NewRequest(input["method"].(string), path, bytes.NewReader(body))
	for k, v := range input["headers"].(map[string]any) {
		r.Header.Set(k, fmt.Sprint(v))
	}
	// The proxy endpoint adds the token.
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w, input["body"]
}

// post sends a body straight to the API.
func (h harness) post(t *testing.T, body map[string]any) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/api/v1/databases", strings.NewReader(mustJSON(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

// form is what the form holds for an API body: the owner picker gives the
// team as a group ref; the requester comes from the signed-in user.
func form(body map[string]any) map[string]any {
	f := map[string]any{}
	for k, v := range body {
		f[k] = v
	}
	if team, ok := f["team"].(string); ok {
		f["team"] = "group:default/" + team
	}
	return f
}

// TestTemplateAgreesWithAPI: the template's form accepts exactly what the
// API accepts, on the API's own samples: each is validated against the
// form and sent to the API as is (with the requester the step adds); what
// only the server checks is accepted by the form and refused by the API.
// What the form accepts is also run through the template's step, to
// another store, and must get the same answer: the step sends what the
// form holds.
func TestTemplateAgreesWithAPI(t *testing.T) {
	tpl := loadTemplate(t)
	var pages []*jsonschema.Schema
	for i, p := range dig(tpl, "spec", "parameters").([]any) {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7) // what Backstage's forms speak
		url := fmt.Sprintf("page%d.json", i)
		if err := c.AddResource(url, p); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(url)
		if err != nil {
			t.Fatalf("parameters page %d does not compile: %v", i, err)
		}
		pages = append(pages, s)
	}
	direct, viaStep := newAPI(t), newAPI(t)
	for i, s := range apitest.Samples() {
		t.Run(s.Name, func(t *testing.T) {
			values := form(s.Body)
			js, _ := json.Marshal(values)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
			if err != nil {
				t.Fatal(err)
			}
			// Backstage validates the whole form against every page.
			formOK := true
			for _, p := range pages {
				if p.Validate(inst) != nil {
					formOK = false
				}
			}
			body := map[string]any{"requester": map[string]any{"id": "user:default/jane"}}
			for k, v := range s.Body {
				body[k] = v
			}
			w := direct.post(t, body)
			if w.Code != http.StatusAccepted && w.Code != http.StatusBadRequest && w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("API answered %d: %s", w.Code, w.Body)
			}
			apiOK := w.Code == http.StatusAccepted
			switch {
			case s.ServerOnly && (!formOK || apiOK):
				t.Errorf("server-only rule: form accepts %v (want true), API accepts %v (want false)", formOK, apiOK)
			case !s.ServerOnly && (formOK != s.Valid || apiOK != s.Valid):
				t.Errorf("want valid=%v; form accepts %v, API accepts %v: %s", s.Valid, formOK, apiOK, w.Body)
			}
			if formOK {
				step, sent := viaStep.run(t, tpl, values, fmt.Sprintf("task-%d", i))
				if step.Code != w.Code {
					t.Errorf("through the step the API answers %d, directly %d\nsent %s\nreply %s", step.Code, w.Code, mustJSON(sent), step.Body)
				}
			}
		})
	}
}

// TestTemplateStep: the step sends the team's name and the user, with the
// task's id as Idempotency-Key (a retried task asks once), and the output
// links render from the reply.
func TestTemplateStep(t *testing.T) {
	tpl := loadTemplate(t)
	h := newAPI(t)
	values := map[string]any{"name": "ledger", "team": "group:default/billing", "environment": "dev", "load": "small", "clientType": "sme", "postgresVersion": 17}
	first, sent := h.run(t, tpl, values, "task-42")
	if first.Code != http.StatusAccepted {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	if s := sent.(map[string]any); s["team"] != "billing" || dig(s, "requester", "id") != "user:default/jane" ||
		dig(s, "requester", "name") != "Jane Doe" || s["size"] != nil || fmt.Sprint(s["postgresVersion"]) != "17" {
		t.Errorf("sent %s", mustJSON(sent))
	}
	again, _ := h.run(t, tpl, values, "task-42")
	if again.Code != http.StatusAccepted || again.Body.String() != first.Body.String() {
		t.Errorf("a retried task: %d %s", again.Code, again.Body)
	}
	recs, _ := h.st.ListRequests(context.Background(), store.Filter{})
	if len(recs) != 1 || recs[0].Request.Origin.APIClient != "backstage" {
		t.Errorf("requests = %+v", recs)
	}
	var reply any
	json.Unmarshal(first.Body.Bytes(), &reply)
	out, _, err := render(dig(tpl, "spec", "output"), map[string]any{
		"steps": map[string]any{backstage.StepID: map[string]any{"output": map[string]any{"body": reply}}}})
	if err != nil {
		t.Fatal(err)
	}
	links := dig(out, "links").([]any)
	if u := dig(links[0], "url"); !strings.HasPrefix(fmt.Sprint(u), "https://github.com/acme/infra/pulls?q=") {
		t.Errorf("pull request link = %v", u)
	}
	if ref := dig(links[1], "entityRef"); ref != "resource:default/ledger.billing.dev" {
		t.Errorf("entity link = %v", ref)
	}
	if text := fmt.Sprint(dig(dig(out, "text").([]any)[0], "content")); strings.Contains(text, "${{") || !strings.Contains(text, recs[0].ID()) {
		t.Errorf("text = %s", text)
	}
}

// exprRE matches one ${{ }} expression.
var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// render renders a template value as Backstage's NunjucksWorkflowRunner
// does, for the expressions the template uses: a string that is a single
// expression keeps its value's type, and is left out when undefined; other
// strings are rendered as text. Filters: parseEntityRef (kind group and
// namespace default when missing) and pick. Anything else is an error, so
// that a template the test cannot run fails instead of passing.
func render(v any, ctx map[string]any) (any, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			r, ok, err := render(e, ctx)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", k, err)
			}
			if ok {
				out[k] = r
			}
		}
		return out, true, nil
	case []any:
		var out []any
		for _, e := range x {
			r, ok, err := render(e, ctx)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out = append(out, r)
			}
		}
		return out, true, nil
	case string:
		if m := exprRE.FindAllStringSubmatchIndex(x, -1); len(m) == 1 && m[0][0] == 0 && m[0][1] == len(x) {
			return eval(x[m[0][2]:m[0][3]], ctx)
		}
		var err error
		out := exprRE.ReplaceAllStringFunc(x, func(e string) string {
			v, ok, evalErr := eval(exprRE.FindStringSubmatch(e)[1], ctx)
			if evalErr != nil {
				err = evalErr
			}
			if !ok {
				return ""
			}
			return fmt.Sprint(v)
		})
		return out, out != "", err
	}
	return v, true, nil
}

var (
	pathPartRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)|^\[['"]([^'"]+)['"]\]|^\.([A-Za-z_][A-Za-z0-9_]*)`)
	filterRE   = regexp.MustCompile(`^(parseEntityRef|pick)(?:\((.*)\))?$`)
)

func eval(expr string, ctx map[string]any) (any, bool, error) {
	parts := strings.Split(expr, "|")
	path := strings.TrimSpace(parts[0])
	var cur any = ctx
	defined := true
	for path != "" {
		m := pathPartRE.FindStringSubmatch(path)
		if m == nil {
			return nil, false, fmt.Errorf("cannot read %q in %q", path, expr)
		}
		key := m[1] + m[2] + m[3]
		mp, _ := cur.(map[string]any)
		cur, defined = mp[key]
		path = path[len(m[0]):]
	}
	for _, f := range parts[1:] {
		m := filterRE.FindStringSubmatch(strings.TrimSpace(f))
		if m == nil {
			return nil, false, fmt.Errorf("unsupported filter %q", f)
		}
		switch m[1] {
		case "parseEntityRef":
			ref, ok := cur.(string)
			if !ok {
				cur, defined = nil, false
				continue
			}
			kind, rest, found := strings.Cut(ref, ":")
			if !found {
				kind, rest = "group", ref
			}
			ns, name, found := strings.Cut(rest, "/")
			if !found {
				ns, name = "default", rest
			}
			cur = map[string]any{"kind": kind, "namespace": ns, "name": name}
		case "pick":
			mp, _ := cur.(map[string]any)
			cur, defined = mp[strings.Trim(m[2], `'"`)]
		}
	}
	// An undefined value renders nothing and is left out; null is kept.
	return cur, defined || cur != nil, nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
