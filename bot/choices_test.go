package bot

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/api/backstage"
	"github.com/clustropg/clustro/request"
)

// allowedByDefault is what the default policy (config/default.yaml)
// allows in each environment, written out: what every surface must offer.
var allowedByDefault = map[string]struct {
	sizes, loads, schedules    []string
	minInstances, maxInstances int
}{
	"dev":     {[]string{"S", "M", "L"}, []string{"small", "medium", "big"}, []string{"none", "hourly", "daily", "weekly"}, 1, 3},
	"staging": {[]string{"S", "M", "L", "XL"}, []string{"small", "medium", "big", "very-big"}, []string{"none", "hourly", "daily", "weekly"}, 1, 5},
	"prod":    {[]string{"S", "M", "L", "XL"}, []string{"small", "medium", "big", "very-big"}, []string{"hourly", "daily", "weekly"}, 3, 9},
}

// formInput is an input block of a view, as the tests read it.
type formInput struct {
	BlockID        string `json:"block_id"`
	Optional       bool   `json:"optional"`
	DispatchAction bool   `json:"dispatch_action"`
	Element        struct {
		MinValue      string `json:"min_value"`
		MaxValue      string `json:"max_value"`
		InitialValue  string `json:"initial_value"`
		InitialOption *struct {
			Value string `json:"value"`
		} `json:"initial_option"`
		Options []struct {
			Value string `json:"value"`
		} `json:"options"`
	} `json:"element"`
}

func formInputs(t *testing.T, raw []byte) map[string]formInput {
	t.Helper()
	var v struct {
		Blocks []formInput `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]formInput{} // by field
	for _, b := range v.Blocks {
		field, _, _ := strings.Cut(b.BlockID, "@")
		out[field] = b
	}
	return out
}

func (in formInput) options() []string {
	var out []string
	for _, o := range in.Element.Options {
		out = append(out, o.Value)
	}
	return out
}

// buttonValues are the answers a question's buttons give ("qid=value").
func buttonValues(m message) []string {
	var out []string
	for _, b := range m.Blocks {
		ab, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, el := range ab.Elements.ElementSet {
			if btn, ok := el.(*slack.ButtonBlockElement); ok {
				_, v, _ := strings.Cut(btn.Value, "=")
				out = append(out, v)
			}
		}
	}
	return out
}

// schemaChoices is what a Backstage form built from the template's schema
// offers for a property once environment env is chosen: the property's
// own oneOf or enum, narrowed by the enum of every allOf rule whose if
// holds for env alone (RJSF merges a rule's then into the form when its if
// holds), and its minimum and maximum, narrowed the same way.
func schemaChoices(t *testing.T, schema map[string]any, env string, path ...string) (values []string, lo, hi int) {
	t.Helper()
	prop := func(s map[string]any) map[string]any {
		for _, name := range path {
			props, _ := s["properties"].(map[string]any)
			s, _ = props[name].(map[string]any)
			if s == nil {
				return nil
			}
		}
		return s
	}
	narrow := func(s map[string]any) {
		if s == nil {
			return
		}
		var offered []string
		oneOf, _ := s["oneOf"].([]any)
		for _, o := range oneOf {
			offered = append(offered, o.(map[string]any)["const"].(string))
		}
		enum, _ := s["enum"].([]any)
		for _, e := range enum {
			offered = append(offered, e.(string))
		}
		if offered != nil {
			values = slices.DeleteFunc(values, func(v string) bool { return !slices.Contains(offered, v) })
		}
		if f, ok := s["minimum"].(float64); ok {
			lo = max(lo, int(f))
		}
		if f, ok := s["maximum"].(float64); ok {
			hi = min(hi, int(f))
		}
	}
	top := prop(schema)
	oneOf, _ := top["oneOf"].([]any)
	for _, o := range oneOf {
		values = append(values, o.(map[string]any)["const"].(string))
	}
	lo, hi = -1<<31, 1<<31-1
	narrow(top)
	rules, _ := schema["allOf"].([]any)
	for _, raw := range rules {
		rule := raw.(map[string]any)
		cond, _ := rule["if"].(map[string]any)
		props, _ := cond["properties"].(map[string]any)
		envRule, _ := props["environment"].(map[string]any)
		if len(props) != 1 || envRule["const"] != env {
			continue
		}
		then, _ := rule["then"].(map[string]any)
		narrow(prop(then))
	}
	return values, lo, hi
}

// TestChoicesFollowPolicy: for each environment, the thread's buttons,
// the form's selects and bounds, and the Backstage template's form offer
// what the environment allows, and only that (issue 12: prod offered "No
// backups", then answered "prod requires backups").
func TestChoicesFollowPolicy(t *testing.T) {
	h := newHarness(t)
	p := h.policy
	var schema map[string]any
	raw, err := json.Marshal(backstage.Parameters(p))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &schema)
	for env, want := range allowedByDefault {
		t.Run(env, func(t *testing.T) {
			c := h.bot.newConversation(kindThread, alice.ID, general, "1.1")
			c.Draft.Environment, c.Draft.ClientType = env, request.Startup
			load, _ := questionByID(c, "load")
			backups, _ := questionByID(c, "backups")
			if got := buttonValues(h.bot.questionMessage(c, load, "")); !slices.Equal(got, want.loads) {
				t.Errorf("thread: load buttons %v, want %v", got, want.loads)
			}
			if got := buttonValues(h.bot.questionMessage(c, backups, "")); !slices.Equal(got, want.schedules) {
				t.Errorf("thread: backups buttons %v, want %v", got, want.schedules)
			}

			view, _ := json.Marshal(h.bot.requestView(request.DatabaseRequest{Spec: request.Spec{Environment: env}}, viewMeta{}))
			form := formInputs(t, view)
			for block, want := range map[string][]string{"size": want.sizes, "load": want.loads, "backups.schedule": want.schedules} {
				if got := form[block].options(); !slices.Equal(got, want) {
					t.Errorf("form: %s offers %v, want %v", block, got, want)
				}
			}
			in := form["instances"].Element
			if in.MinValue != strconv.Itoa(want.minInstances) || in.MaxValue != strconv.Itoa(want.maxInstances) {
				t.Errorf("form: instances from %s to %s, want %d to %d", in.MinValue, in.MaxValue, want.minInstances, want.maxInstances)
			}
			if !form["environment"].DispatchAction {
				t.Error("form: changing the environment sends nothing, so the choices cannot follow it")
			}

			if got, _, _ := schemaChoices(t, schema, env, "size"); !slices.Equal(got, want.sizes) {
				t.Errorf("template: size offers %v, want %v", got, want.sizes)
			}
			if got, _, _ := schemaChoices(t, schema, env, "backups", "schedule"); !slices.Equal(got, want.schedules) {
				t.Errorf("template: backups.schedule offers %v, want %v", got, want.schedules)
			}
			if _, lo, hi := schemaChoices(t, schema, env, "instances"); lo != want.minInstances || hi != want.maxInstances {
				t.Errorf("template: instances from %d to %d, want %d to %d", lo, hi, want.minInstances, want.maxInstances)
			}
		})
	}
}

// TestThreadOffersOnlyAllowed: in prod the backups question has no "No
// backups" button; in dev the load question has no load that picks a size
// dev refuses; the rest of the conversation goes on as before.
func TestThreadOffersOnlyAllowed(t *testing.T) {
	h := newHarness(t)
	th := h.mention(alice, billing, "a postgres called ledger in prod")
	th.pick(alice, "Startup")
	th.pick(alice, "big (L)")
	th.expect("Backups: how often?", "prod requires backups.")
	if labels := h.slack.ButtonLabels(billing, th.last().TS); !slices.Equal(labels, []string{"Hourly", "Daily", "Weekly"}) {
		t.Errorf("prod's backups buttons: %v", labels)
	}
	th.pick(alice, "Daily")
	th.expect("How many databases")

	dev := h.mention(bob, billing, "a postgres called catalog in dev")
	dev.pick(bob, "SME")
	dev.expect("What load do you expect?")
	if labels := h.slack.ButtonLabels(billing, dev.last().TS); !slices.Equal(labels, []string{"small (S)", "medium (M)", "big (L)"}) {
		t.Errorf("dev's load buttons: %v", labels)
	}
	dev.pick(bob, "medium (M)")
	if labels := h.slack.ButtonLabels(billing, dev.last().TS); !slices.Contains(labels, "No backups") {
		t.Errorf("dev's backups buttons: %v (dev does not require backups)", labels)
	}
}

// TestFormFollowsEnvironment: the request form offers the choices of the
// environment it shows; picking another one sends a block_actions
// (dispatch_action), and the bot rebuilds the form for it with
// views.update, keeping what was entered. Slack's client then cannot
// submit "No backups" in prod; a form submitted before its update arrives
// is still checked, inline.
func TestFormFollowsEnvironment(t *testing.T) {
	h := newHarness(t)
	h.command(alice, billing, "new")
	v := h.lastView()
	if got := formInputs(t, v.JSON)["backups.schedule"].options(); !slices.Contains(got, "none") {
		t.Fatalf("the form opens on dev, which allows no backups: %v", got)
	}
	if _, err := h.slack.SubmitView(v.ID, alice, h.formValues(v.ID, map[string]string{"name": "ledger", "size": "XL"})); err == nil {
		t.Error("dev's form offered XL")
	}

	cb, err := h.slack.SelectInView(v.ID, "environment", "prod", alice)
	if err != nil {
		t.Fatal(err)
	}
	if w := h.serve(h.signer.Interaction(PathInteractions, cb)); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("the pick was answered %d %s", w.Code, w.Body)
	}
	updates := h.slack.CallsTo("views.update")
	if len(updates) != 1 || !updates[0].OK() {
		t.Fatalf("views.update calls: %+v", updates)
	}
	v = h.lastView()
	form := formInputs(t, v.JSON)
	if got := form["backups.schedule"].options(); !slices.Equal(got, []string{"hourly", "daily", "weekly"}) {
		t.Errorf("prod's form offers backups %v", got)
	}
	if got := form["size"].options(); !slices.Equal(got, []string{"S", "M", "L", "XL"}) {
		t.Errorf("prod's form offers sizes %v", got)
	}
	if in := form["instances"].Element; in.MinValue != "3" || in.MaxValue != "9" {
		t.Errorf("prod's instances: %s to %s", in.MinValue, in.MaxValue)
	}
	if _, err := h.slack.SubmitView(v.ID, alice, h.formValues(v.ID, map[string]string{"name": "ledger", "backups.schedule": "none"})); err == nil {
		t.Error("prod's form let Slack's client submit no backups")
	}
	if _, err := h.slack.SubmitView(v.ID, alice, h.formValues(v.ID, map[string]string{"name": "ledger", "instances": "1"})); err == nil {
		t.Error("prod's form let Slack's client submit 1 instance")
	}
	if w := h.submitView(v.ID, alice, map[string]string{"name": "ledger", "size": "XL", "backups.schedule": "hourly"}); w.Body.Len() != 0 {
		t.Fatalf("a valid form answered %s", w.Body)
	}
	recs := h.pipe.requests(t)
	if len(recs) != 1 || recs[0].Request.Key() != "prod/billing/ledger" || recs[0].Request.Size != request.SizeXL || recs[0].Request.Backups.Schedule != request.Hourly {
		t.Errorf("submitted %+v", recs)
	}

	// What was picked stays picked where the new environment allows it:
	// XL from staging to prod, not to dev.
	h.command(alice, billing, "new")
	v = h.lastView()
	for _, step := range []struct{ env, size string }{{"staging", ""}, {"prod", "XL"}, {"dev", ""}} {
		if step.env == "prod" {
			for id := range h.formValues(v.ID, map[string]string{"size": "XL"}) {
				// Slack sends nothing for a select without dispatch_action; the
				// pick is in the view's state, which the next block_actions carries.
				h.slack.SelectInView(v.ID, id, "XL", alice)
			}
		}
		cb, err := h.slack.SelectInView(v.ID, "environment", step.env, alice)
		if err != nil {
			t.Fatal(err)
		}
		h.serve(h.signer.Interaction(PathInteractions, cb))
		size := formInputs(t, h.lastView().JSON)["size"].Element.InitialOption
		switch {
		case step.env == "dev" && size != nil:
			t.Errorf("dev's form preselects size %s", size.Value)
		case step.env == "prod" && (size == nil || size.Value != "XL"):
			t.Errorf("prod's form lost the XL picked in staging: %+v", size)
		}
	}

	// Editing a prod draft opens the form on prod's choices.
	h.command(bob, general, "new audit env=prod team=billing")
	h.click(general, h.lastMessage(general).TS, actionEdit, bob)
	form = formInputs(t, h.lastView().JSON)
	if got := form["backups.schedule"].options(); slices.Contains(got, "none") {
		t.Errorf("the form of a prod draft offers no backups: %v", got)
	}
	if got := form["environment"].Element.InitialOption; got == nil || got.Value != "prod" {
		t.Errorf("the form of a prod draft shows %+v", got)
	}
}

// TestNoLoadFits: where no expected load picks a size the environment
// allows (a policy may say so), the thread offers the sizes instead, and
// the form asks for the size and has no load to choose.
func TestNoLoadFits(t *testing.T) {
	h := newHarness(t)
	p := h.policy
	p.Loads[request.VeryBig] = request.SizeL
	p.Environments["huge"] = request.EnvironmentPolicy{Description: "Only XL", AllowedSizes: []request.Size{request.SizeXL}, MinInstances: 1, MaxInstances: 3}
	for ct := range p.ClientTypes {
		p.ClientTypes[ct]["huge"] = request.Profile{Instances: 1, Backups: request.Daily}
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	v := h.bot.requestView(request.DatabaseRequest{Spec: request.Spec{Environment: "huge"}}, viewMeta{})
	if err := checkView(v); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(v)
	form := formInputs(t, raw)
	if _, ok := form["load"]; ok {
		t.Error("the form offers loads, none of which fits huge")
	}
	if got := form["size"].options(); !slices.Equal(got, []string{"XL"}) || form["size"].Optional {
		t.Errorf("size offers %v, optional %v; want XL alone, required", got, form["size"].Optional)
	}

	th := h.mention(alice, billing, "a postgres called vast in huge")
	th.pick(alice, "SME")
	th.expect("What load do you expect?")
	if labels := h.slack.ButtonLabels(billing, th.last().TS); len(labels) != 1 || !strings.HasPrefix(labels[0], "XL") {
		t.Fatalf("load buttons in huge: %v", labels)
	}
	th.pick(alice, h.slack.ButtonLabels(billing, th.last().TS)[0])
	th.expect("Backups: how often?")
	c, err := h.bot.findConversation(context.Background(), billing, th.ts, alice.ID)
	if err != nil || c.Draft.Size != request.SizeXL {
		t.Errorf("draft %+v, %v", c, err)
	}
}
