package backstage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/api/backstage"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
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
		t.Errorf("%s is not what the generator writes; run go test ./api/backstage -update and review the diff", templateFile)
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
	if team["ui:field"] != "OwnerPicker" || dig(team, "ui:options", "catalogFilter", "kind") != "Group" ||
		dig(team, "ui:options", "catalogFilter", "metadata.namespace") != api.OwnerNamespace {
		t.Errorf("team should be an OwnerPicker of the groups of namespace %s: %v", api.OwnerNamespace, team)
	}
	// The storage is a number of GiB with the policy's bounds, which the
	// form states.
	storage := dig(page, "properties", "storageGi").(map[string]any)
	if storage["type"] != "integer" || storage["minimum"] != 1.0 || storage["maximum"] != 2048.0 ||
		!strings.Contains(fmt.Sprint(storage["description"]), "at most 2048 (2Ti)") {
		t.Errorf("storageGi = %v", storage)
	}
	if dig(page, "properties", "storage") != nil || dig(page, "properties", "owner") != nil || dig(page, "properties", "requester") != nil {
		t.Errorf("the form asks for storage, owner or requester: %v", dig(page, "properties"))
	}
	// What the form cannot check, it says.
	if d := fmt.Sprint(dig(page, "description")); !strings.Contains(d, "exists already") || !strings.Contains(d, "log") {
		t.Errorf("the form should say what only ClustroPG checks and where its answer shows: %s", d)
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
	r, err := templates.New(c.Templates())
	if err != nil {
		t.Fatal(err)
	}
	pl := pipeline.New(pipeline.Deps{Store: st, Renderer: r, Log: zerolog.Nop()}, pipeline.Config{})
	h := api.New(api.Deps{
		Store: st, Pipeline: pl, Policy: &c.Policy, Catalog: c.Catalog,
		Log: zerolog.Nop(), Tokens: []config.APIToken{{Name: "backstage", Token: token, Scopes: []string{"read", "request"}}},
	})
	return harness{h: h, st: st}
}

// run runs the template's step as the scaffolder would: it renders the
// step's input with the form's values and calls the API where the proxy
// sends it. It returns the reply and the rendered body, or the error that
// fails the step before it calls the API.
func (h harness) run(t *testing.T, tpl map[string]any, form map[string]any, taskID string) (*httptest.ResponseRecorder, any, error) {
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
		var stepErr stepError
		if errors.As(err, &stepErr) {
			return nil, nil, err
		}
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
	return w, input["body"], nil
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

// formPages compiles the template's parameter pages as Backstage's form
// and its scaffolder backend validate them.
func formPages(t *testing.T, tpl map[string]any) []*jsonschema.Schema {
	t.Helper()
	var pages []*jsonschema.Schema
	for i, p := range dig(tpl, "spec", "parameters").([]any) {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7) // what Backstage's forms speak
		c.AssertFormat()                  // as its validator (ajv with ajv-formats) does
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
	return pages
}

// formAccepts validates the form's values against every page, as
// Backstage does, and returns the first error.
func formAccepts(t *testing.T, pages []*jsonschema.Schema, values map[string]any) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(mustJSON(values)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if err := p.Validate(inst); err != nil {
			return err
		}
	}
	return nil
}

// teamRefs are the ways Backstage's owner picker (or a user typing in it)
// writes a group of namespace default.
var teamRefs = []string{"group:" + api.OwnerNamespace + "/%s", "group:%s", "%s", api.OwnerNamespace + "/%s"}

var storageRE = regexp.MustCompile(`^([0-9]{1,12})(Mi|Gi|Ti)$`)

// formOf is what the form holds for an API body, or false when the form
// cannot hold it: the team (or the owner, when the body gives one that
// names the team) as the owner picker's group ref, written in the i-th of
// teamRefs; the storage in GiB, when it is a whole number of them. The
// requester comes from the signed-in user.
func formOf(body map[string]any, i int) (map[string]any, bool) {
	f := map[string]any{}
	for k, v := range body {
		f[k] = v
	}
	delete(f, "owner")
	if team, ok := body["team"].(string); ok {
		f["team"] = fmt.Sprintf(teamRefs[i%len(teamRefs)], team)
	}
	if owner, ok := body["owner"]; ok {
		ref, _ := owner.(string)
		if _, name, _ := strings.Cut(ref[strings.Index(ref, ":")+1:], "/"); name != body["team"] && ref[strings.Index(ref, ":")+1:] != body["team"] {
			return nil, false
		}
		f["team"] = owner
	}
	if storage, ok := body["storage"]; ok {
		delete(f, "storage")
		m := storageRE.FindStringSubmatch(fmt.Sprint(storage))
		if m == nil {
			return nil, false
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		mib := n * map[string]int64{"Mi": 1, "Gi": 1 << 10, "Ti": 1 << 20}[m[2]]
		if mib%1024 != 0 {
			return nil, false
		}
		f["storageGi"] = mib / 1024
	}
	return f, true
}

// accepted reports a 202; other answers must be refusals a client reads.
func accepted(t *testing.T, w *httptest.ResponseRecorder) bool {
	t.Helper()
	switch w.Code {
	case http.StatusAccepted:
		return true
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("a refusal as %s: %s", ct, w.Body)
		}
		return false
	}
	t.Fatalf("API answered %d: %s", w.Code, w.Body)
	return false
}

// names reports whether a refusal's problem names field.
func names(w *httptest.ResponseRecorder, field string) bool {
	var p api.Problem
	json.Unmarshal(w.Body.Bytes(), &p)
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// TestTemplateAgreesWithAPI: the template's form refuses exactly what the
// API refuses, on the API's own samples and on the boundary samples the
// policy generates (apitest.Boundary: storage at 1Gi and at the maximum
// and one past, the longest name for each environment and length of team
// and one more, each size and load in each environment...). Each body the
// form can hold is validated against the form (team as the owner picker's
// group ref, storage in GiB) and sent to the API as is (with the requester
// the step adds): both agree with the sample. What the form accepts is
// also run through the template's step, to another store, and gets the
// same answer: the step sends what the form holds.
func TestTemplateAgreesWithAPI(t *testing.T) {
	tpl := loadTemplate(t)
	pages := formPages(t, tpl)
	direct, viaStep := newAPI(t), newAPI(t)
	samples := append(apitest.Samples(), apitest.Boundary(&defaults(t).Policy)...)
	held := 0
	for i, s := range samples {
		values, ok := formOf(s.Body, i)
		if !ok {
			continue // the API's own test covers it
		}
		held++
		t.Run(s.Name, func(t *testing.T) {
			formErr := formAccepts(t, pages, values)
			formOK := formErr == nil
			body := map[string]any{"requester": map[string]any{"id": "user:default/jane"}}
			for k, v := range s.Body {
				body[k] = v
			}
			w := direct.post(t, body)
			apiOK := accepted(t, w)
			switch {
			case s.ServerOnly && (!formOK || apiOK):
				t.Errorf("server-only rule: form accepts %v (want true), API accepts %v (want false)", formOK, apiOK)
			case !s.ServerOnly && (formOK != s.Valid || apiOK != s.Valid):
				t.Errorf("want valid=%v; form accepts %v, API accepts %v: %s\nform: %v\nvalues: %s", s.Valid, formOK, apiOK, w.Body, formErr, mustJSON(values))
			}
			if !formOK {
				return // Backstage does not run the step (TestFormValuesAgreeWithAPI runs it anyway)
			}
			step, sent, err := viaStep.run(t, tpl, values, fmt.Sprintf("task-%d", i))
			if err != nil {
				t.Fatalf("the form accepts %s but the step fails: %v", mustJSON(values), err)
			}
			if step.Code != w.Code {
				t.Errorf("through the step the API answers %d, directly %d\nsent %s\nreply %s", step.Code, w.Code, mustJSON(sent), step.Body)
			}
		})
	}
	if held < len(samples)*3/4 {
		t.Errorf("the form holds %d samples of %d", held, len(samples))
	}
}

// TestFormValuesAgreeWithAPI: values only the form holds (the owner
// picker's refs, a number of GiB) are accepted by the form exactly when
// the API, behind the step, accepts them: the step is run even for what
// the form refuses, as if the form were bypassed. A group of another
// namespace is refused by both, naming the owner, and never asked for as
// the same name in namespace default.
func TestFormValuesAgreeWithAPI(t *testing.T) {
	tpl := loadTemplate(t)
	pages := formPages(t, tpl)
	h := newAPI(t)
	lo, hi, _ := api.StorageLimits(&defaults(t).Policy)
	tests := []struct {
		name  string
		more  map[string]any
		valid bool
		field string
	}{
		{"group ref with namespace", map[string]any{"team": "group:default/billing"}, true, ""},
		{"group ref", map[string]any{"team": "group:billing"}, true, ""},
		{"group name", map[string]any{"team": "billing"}, true, ""},
		{"namespace and name", map[string]any{"team": "default/billing"}, true, ""},
		{"group of another namespace", map[string]any{"team": "group:ops/billing"}, false, "owner"},
		{"another namespace without the kind", map[string]any{"team": "ops/billing"}, false, "owner"},
		{"a user", map[string]any{"team": "user:default/billing"}, false, "owner"},
		{"a capital kind", map[string]any{"team": "Group:default/billing"}, false, "owner"},
		{"storage at the minimum", map[string]any{"storageGi": lo / 1024}, true, ""},
		{"storage at the maximum", map[string]any{"storageGi": hi / 1024}, true, ""},
		{"storage over the maximum", map[string]any{"storageGi": hi/1024 + 1}, false, "storage"},
		{"storage 0", map[string]any{"storageGi": 0}, false, "storage"},
		{"storage in halves", map[string]any{"storageGi": 1.5}, false, "storage"},
		{"storage with its unit", map[string]any{"storageGi": "100Gi"}, false, "storage"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]any{"name": fmt.Sprintf("form-%d", i), "team": "group:default/billing", "environment": "dev"}
			for k, v := range tc.more {
				values[k] = v
			}
			formErr := formAccepts(t, pages, values)
			w, sent, err := h.run(t, tpl, values, fmt.Sprintf("form-task-%d", i))
			if err != nil {
				t.Fatalf("the step fails: %v", err)
			}
			apiOK := accepted(t, w)
			if (formErr == nil) != tc.valid || apiOK != tc.valid {
				t.Errorf("want valid=%v; form accepts %v, API accepts %v\nsent %s\nreply %s\nform: %v", tc.valid, formErr == nil, apiOK, mustJSON(sent), w.Body, formErr)
			}
			if !apiOK && !names(w, tc.field) {
				t.Errorf("the refusal should name %s: %s", tc.field, w.Body)
			}
		})
	}
	recs, _ := h.st.ListRequests(context.Background(), store.Filter{})
	for _, r := range recs {
		if !strings.HasPrefix(r.Request.Name, "form-") || r.Request.Team != "billing" {
			t.Errorf("stored %+v", r.Request.Spec)
		}
	}
}

// TestTemplateStep: the step sends the team's name, the picked group as
// owner, the storage with its unit (nothing when the field is empty) and
// the user, with the task's id as Idempotency-Key (a retried task asks
// once), and the output links render from the reply.
func TestTemplateStep(t *testing.T) {
	tpl := loadTemplate(t)
	h := newAPI(t)
	values := map[string]any{"name": "ledger", "team": "group:default/billing", "environment": "dev", "load": "small", "clientType": "sme", "postgresVersion": 17}
	first, sent, err := h.run(t, tpl, values, "task-42")
	if err != nil || first.Code != http.StatusAccepted {
		t.Fatalf("%v %d %s", err, first.Code, first.Body)
	}
	if s := sent.(map[string]any); s["team"] != "billing" || s["owner"] != "group:default/billing" || dig(s, "requester", "id") != "user:default/jane" ||
		dig(s, "requester", "name") != "Jane Doe" || s["size"] != nil || s["storage"] != nil || fmt.Sprint(s["postgresVersion"]) != "17" {
		t.Errorf("sent %s", mustJSON(sent))
	}
	again, _, _ := h.run(t, tpl, values, "task-42")
	if again.Code != http.StatusAccepted || again.Body.String() != first.Body.String() || again.Header().Get(api.ReplayedHeader) != "true" {
		t.Errorf("a retried task: %d %v %s", again.Code, again.Header(), again.Body)
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

	// A storage in GiB is sent with its unit.
	values = map[string]any{"name": "journal", "team": "group:billing", "environment": "dev", "storageGi": 100}
	w, sent, err := h.run(t, tpl, values, "task-43")
	if err != nil || w.Code != http.StatusAccepted || dig(sent, "storage") != "100Gi" || dig(sent, "owner") != "group:billing" {
		t.Errorf("%v %d sent %s", err, w.Code, mustJSON(sent))
	}
	recs, _ = h.st.ListRequests(context.Background(), store.Filter{Name: "journal"})
	if len(recs) != 1 || recs[0].Request.Storage != "100Gi" {
		t.Errorf("requests = %+v", recs)
	}
}

// exprRE matches one ${{ }} expression.
var exprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// stepError is an error that fails the step as Backstage's templating
// would (parseEntityRef of a missing ref).
type stepError struct{ error }

// render renders a template value as Backstage's NunjucksWorkflowRunner
// does, for the expressions the template uses: a string that is a single
// expression keeps its value's type, and is left out when undefined (it
// renders as ( expr ) | dump, and an empty rendering is left out); other
// strings are rendered as text. Expressions: paths (an unset one, like
// undefined, is undefined), string literals, == of two of them, nunjucks'
// ~ (concatenation) and inline if/else; filters parseEntityRef
// (kind group and namespace default when missing) and pick. Anything else
// is an error, so that a template the test cannot run fails instead of
// passing.
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
	literalRE  = regexp.MustCompile(`^"([^"]*)"$`)
)

// eval evaluates an expression; defined is false for an undefined value.
func eval(expr string, ctx map[string]any) (any, bool, error) {
	expr = strings.TrimSpace(expr)
	if body, rest, ok := cutTop(expr, " if "); ok {
		cond, alt, ok := cutTop(rest, " else ")
		if !ok {
			return nil, false, fmt.Errorf("%q: an inline if without else renders \"\", which is sent as an empty string", expr)
		}
		c, defined, err := eval(cond, ctx)
		if err != nil {
			return nil, false, err
		}
		if truthy(c, defined) {
			return eval(body, ctx)
		}
		return eval(alt, ctx)
	}
	if parts := splitTop(expr, " == "); len(parts) == 2 {
		x, xok, err := eval(parts[0], ctx)
		if err != nil {
			return nil, false, err
		}
		y, yok, err := eval(parts[1], ctx)
		if err != nil {
			return nil, false, err
		}
		return xok == yok && fmt.Sprint(x) == fmt.Sprint(y), true, nil
	}
	if parts := splitTop(expr, "~"); len(parts) > 1 {
		var b strings.Builder
		for _, p := range parts {
			v, defined, err := eval(p, ctx)
			if err != nil {
				return nil, false, err
			}
			if defined && v != nil {
				b.WriteString(fmt.Sprint(v))
			}
		}
		return b.String(), true, nil
	}
	parts := splitTop(expr, "|")
	path := strings.TrimSpace(parts[0])
	var cur any = ctx
	defined := true
	if m := literalRE.FindStringSubmatch(path); m != nil {
		cur, path = m[1], ""
	}
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
			if !ok || ref == "" {
				return nil, false, stepError{fmt.Errorf("parseEntityRef: entity reference must not be empty (%v)", cur)}
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

// truthy is nunjucks' (JavaScript's) truth.
func truthy(v any, defined bool) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	}
	return defined
}

// splitTop splits s at sep where sep is outside quotes and brackets.
func splitTop(s, sep string) []string {
	var parts []string
	for {
		before, after, ok := cutTop(s, sep)
		if !ok {
			return append(parts, s)
		}
		parts = append(parts, before)
		s = after
	}
}

// cutTop cuts s at the first sep outside quotes and brackets.
func cutTop(s, sep string) (before, after string, found bool) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
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
