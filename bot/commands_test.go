package bot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/bot/blockkit"
	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
)

// TestCommandsAnsweredAtOnce: commands that need nothing but the policy
// are answered in the acknowledgement, and malformed ones get the usage
// and, for a request, each field with what is allowed.
func TestCommandsAnsweredAtOnce(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		text  string
		wants []string
	}{
		{"", []string{"/pg new", "/pg list", "/pg status", "/pg resize", "/pg backups", "/pg backup <name>", "/pg restore <name>", "/pg delete", "/pg retry", "/pg sizes"}},
		{"help", []string{"Usage", "/pg new <name>"}},
		{"sizes", []string{"Sizing presets", "XL", "16Gi", "500Gi", "Medium: a typical production service", "small → S", "prod*: sizes S, M, L, XL, 3-9 instances, backups required"}},
		{"frobnicate", []string{"I don't know `/pg frobnicate`", "Usage"}},
		{"new ledger size=XXL env=moon team=billing", []string{
			"*size*", `"XXL" is not a size; allowed: S, M, L, XL`,
			"*environment*", `"moon" is not an environment; allowed: dev, prod, staging`, "/pg new <name>"}},
		{"new ledger env=prod team=billing backups=none instances=1", []string{
			"*backups.schedule*", "prod requires backups; allowed there: hourly, daily, weekly",
			"*instances*", "1 is not allowed in prod; allowed there: 3 to 9"}},
		{"new Ledger_DB env=dev", []string{"*name*", "must be lowercase letters", "*team*", "add team=<your team>"}},
		{"new ledger env=dev team=billing colour=blue", []string{`"colour" is not a setting; allowed: name, team, env`}},
		{"new ledger env=dev team=billing instances=three", []string{`"three" is not a number of instances`}},
		{"new ledger prod please", []string{`I did not understand "prod please"`}},
		{"list everything", []string{"Usage: `/pg list [mine] [team <team>] [env <env>]`"}},
		{"list env moon", []string{`"moon" is not an environment; allowed: dev, prod, staging`}},
		{"status", []string{"Usage: `/pg status <name>"}},
		{"resize ledger", []string{"Say what to change", "/pg resize <name> size=L"}},
		{"resize ledger colour=red", []string{"takes no `colour=`"}},
		{"backups", []string{"Usage: `/pg backups <name> [env=<env>] [team=<team>]` shows its backups", "changes them"}},
		{"backups ledger hour=4", []string{"Say how often"}},
		{"backup", []string{"Usage: `/pg backup <name>"}},
		{"backup ledger colour=red", []string{"`backup` takes no `colour=`"}},
		{"backup ledger now", []string{"Usage: `/pg backup <name>"}},
		{"restore", []string{"Usage: `/pg restore <name> [--at latest|"}},
		{"restore ledger --at", []string{"`--at` needs a value", "Usage: `/pg restore"}},
		{"restore ledger --at yesterday", []string{"*restore.targetTime*", `"yesterday" is not an RFC 3339 time`, "Usage: `/pg restore"}},
		{"restore ledger --at=2026-13-01T00:00:00Z", []string{"*restore.targetTime*"}},
		{"restore ledger --in prod", []string{"`restore` takes no `--in`"}},
		{"restore ledger size=L", []string{"`restore` takes no `size=`"}},
		{"backups ledger monthly", []string{`"monthly" is not a schedule; allowed: none, hourly, daily, weekly`}},
		{"delete", []string{"Usage: `/pg delete <name>"}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			got := ackText(t, h.command(alice, general, tc.text))
			mustContain(t, "the reply", got, tc.wants...)
		})
	}
	if calls := h.slack.Calls(); len(calls) != 0 {
		t.Errorf("answered in the acknowledgement, yet Slack was called: %+v", calls)
	}
}

// TestCommandsReadingTheStore: list, status, resize, backups, retry and
// delete answer after the acknowledgement, on the response_url.
func TestCommandsReadingTheStore(t *testing.T) {
	h := newHarness(t)
	h.readyDatabase("prod", "billing", "ledger", alice, request.Ready)
	h.readyDatabase("dev", "billing", "ledger", alice, request.Ready)
	h.readyDatabase("dev", "search", "index", bob, request.Ready)
	failed := h.readyDatabase("staging", "search", "broken", bob, request.Failed)

	tests := []struct {
		text  string
		wants []string
	}{
		{"list", []string{"*Databases*", "`prod/billing/ledger` ready", "`dev/billing/ledger` ready", "`dev/search/index` ready", "`staging/search/broken` failed"}},
		{"list mine", []string{"*Your databases*", "prod/billing/ledger", "dev/billing/ledger"}},
		{"list team search", []string{"*Databases of team search*", "dev/search/index", "staging/search/broken"}},
		{"list env=dev", []string{"*Databases in dev*", "dev/billing/ledger", "dev/search/index"}},
		{"list mine environment production", []string{"*Your databases in prod*", "prod/billing/ledger"}},
		{"list team nobody", []string{"Databases of team nobody: none yet"}},
		{"status index", []string{"*dev/search/index* is *ready*", "*Size*: S"}},
		{"status ledger", []string{"`ledger` exists in several places", "`prod/billing/ledger`", "`dev/billing/ledger`", "/pg status ledger env="}},
		{"status ledger env=production", []string{"*prod/billing/ledger* is *ready*"}},
		{"status nothing", []string{"There is no database called `nothing`"}},
		{"status broken", []string{"*failed*", "Failed while provisioning: readiness: timeout", "/pg retry broken env=staging team=search"}},
		{"resize ledger env=dev size=M", []string{"Asked: resize (size S → M) of `dev/billing/ledger`"}},
		{"resize index size=XL", []string{"I cannot resize `dev/search/index`", "XL is not allowed in dev"}},
		{"backups index daily hour=2", []string{"Asked: backups none → daily of `dev/search/index`"}},
		{"retry ledger env=prod", []string{"`prod/billing/ledger` is ready, not failed"}},
		{"retry broken", []string{"Retrying `staging/search/broken`"}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := ackText(t, h.command(alice, general, tc.text)); got != "" {
				t.Errorf("acknowledged with %q; the answer comes on the response_url", got)
			}
			mustContain(t, "the answer", h.lastResponse(), tc.wants...)
		})
	}
	h.pipe.mu.Lock()
	defer h.pipe.mu.Unlock()
	if len(h.pipe.changes) != 2 {
		t.Fatalf("changes asked: %+v", h.pipe.changes)
	}
	resize, backups := h.pipe.changes[0], h.pipe.changes[1]
	if resize.Kind != request.Resize || resize.Size != request.SizeM || resize.Environment != "dev" || resize.Requester.ID != alice.ID ||
		resize.Origin.Kind != request.OriginSlack || resize.Origin.SlackChannel != general {
		t.Errorf("resize = %+v", resize)
	}
	if backups.Kind != request.Backup || backups.Backups.Schedule != request.Daily || *backups.Backups.Hour != 2 || backups.Backups.Retention != "14d" {
		t.Errorf("backups = %+v", backups.Backups)
	}
	if len(h.pipe.retries) != 1 || h.pipe.retries[0] != failed.ID() {
		t.Errorf("retries = %v", h.pipe.retries)
	}
}

// TestDeleteAsksForTheName: /pg delete opens a modal at once (the
// trigger_id lives 3 s); the deletion is asked only when the name is typed.
func TestDeleteAsksForTheName(t *testing.T) {
	h := newHarness(t)
	h.readyDatabase("dev", "billing", "ledger", alice, request.Ready)
	if got := ackText(t, h.command(alice, general, "delete ledger")); got != "" {
		t.Fatalf("acknowledged with %q", got)
	}
	v := h.lastView()
	mustContain(t, "the modal", string(v.JSON), "Delete database", "destroys its cluster")

	w := h.submitView(v.ID, alice, map[string]string{"confirm": "ledgr"})
	errs := viewErrorsOf(t, w.Body.Bytes())
	mustContain(t, "the inline error", errs["confirm"], "Type ledger exactly")
	if len(h.pipe.changes) != 0 {
		t.Fatal("deleted without the name typed")
	}
	if w := h.submitView(v.ID, alice, map[string]string{"confirm": "ledger"}); w.Body.Len() != 0 {
		t.Fatalf("valid submission answered %s", w.Body)
	}
	if len(h.pipe.changes) != 1 || h.pipe.changes[0].Kind != request.Destroy || h.pipe.changes[0].Name != "ledger" {
		t.Errorf("changes = %+v", h.pipe.changes)
	}
}

func viewErrorsOf(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var r struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ResponseAction != "errors" {
		t.Fatalf("not an errors response: %s", body)
	}
	// By field: an input whose choices depend on the environment has a
	// block_id of <field>@<environment>.
	byField := map[string]string{}
	for id, msg := range r.Errors {
		field, _, _ := strings.Cut(id, "@")
		byField[field] = msg
	}
	return byField
}

// TestNewOneLine: /pg new with settings posts a card in the channel (not
// ephemeral); Confirm submits it through the pipeline, only for the user
// who asked, once.
func TestNewOneLine(t *testing.T) {
	h := newHarness(t)
	if got := ackText(t, h.command(alice, general, "new ledger size=M env=prod backups=daily team=billing")); got != "" {
		t.Fatalf("acknowledged with %q", got)
	}
	card := h.lastMessage(general)
	mustContain(t, "the card", blocksText(card), "<@UALICE> asks for a PostgreSQL database", "`ledger`", "team *billing*",
		"environment *prod*", "M: 1 CPU, 4Gi memory, 50Gi storage", "*Instances*: 3", "daily at 03:00 UTC, kept 30d")
	if btns := h.slack.Buttons(general, card.TS); strings.Join(btns, ",") != "draft.confirm,draft.edit,draft.cancel" {
		t.Errorf("buttons = %v", btns)
	}

	// Bob cannot confirm Alice's request.
	h.click(general, card.TS, actionConfirm, bob)
	if n := len(h.pipe.requests(t)); n != 0 {
		t.Fatalf("bob's click submitted %d request(s)", n)
	}
	eph := h.slack.Messages(general)
	mustContain(t, "the note to bob", eph[len(eph)-1].Text, "Only <@UALICE> can confirm")

	// Alice double-clicks: Slack delivers both clicks.
	var clicks []slack.InteractionCallback
	for range 2 {
		cb, err := h.slack.ClickButton(general, card.TS, actionConfirm, alice)
		if err != nil {
			t.Fatal(err)
		}
		clicks = append(clicks, cb)
	}
	h.serve(h.signer.Interaction(PathInteractions, clicks[0]))
	recs := h.pipe.requests(t)
	if len(recs) != 1 {
		t.Fatalf("%d requests after Confirm", len(recs))
	}
	r := recs[0].Request
	if r.Key() != "prod/billing/ledger" || r.Size != request.SizeM || r.Backups.Schedule != request.Daily || r.Requester.ID != alice.ID ||
		r.Origin.SlackChannel != general || r.Origin.SlackThread != card.TS {
		t.Errorf("submitted %+v", r)
	}
	updated, _ := h.slack.Message(general, card.TS)
	mustContain(t, "the updated card", updated.Text, "Submitted by <@UALICE>", recs[0].ID())
	if len(h.slack.Buttons(general, card.TS)) != 0 {
		t.Error("the submitted card still has buttons")
	}
	// The second click finds nothing to submit.
	h.serve(h.signer.Interaction(PathInteractions, clicks[1]))
	if n := len(h.pipe.requests(t)); n != 1 {
		t.Errorf("%d requests after a second click", n)
	}
	// Asking again for the same database is refused before the card.
	h.command(alice, general, "new ledger env=prod team=billing")
	mustContain(t, "the answer", h.lastResponse(), "`prod/billing/ledger` already exists")
}

// TestNewOneLineTeamFromChannel: in a team's channel the team is implied.
func TestNewOneLineTeamFromChannel(t *testing.T) {
	h := newHarness(t)
	h.command(alice, billing, "new ledger env=dev")
	mustContain(t, "the card", blocksText(h.lastMessage(billing)), "team *billing*", "environment *dev*")
}

func TestNewOneLineCancel(t *testing.T) {
	h := newHarness(t)
	h.command(alice, general, "new ledger env=dev team=billing")
	card := h.lastMessage(general)
	h.click(general, card.TS, actionCancel, alice)
	updated, _ := h.slack.Message(general, card.TS)
	mustContain(t, "the card", updated.Text, "Cancelled by <@UALICE>")
	if n := len(h.pipe.requests(t)); n != 0 {
		t.Errorf("%d requests after Cancel", n)
	}
}

// TestNewOneLineNotInChannel: the bot says how to invite it.
func TestNewOneLineNotInChannel(t *testing.T) {
	h := newHarness(t)
	h.slack.FailChannel("CSECRET", "not_in_channel")
	h.command(alice, "CSECRET", "new ledger env=dev team=billing")
	mustContain(t, "the answer", h.lastResponse(), "invite me with `/invite @clustro`")
}

// TestModalInlineErrors: the form's problems come back on their blocks,
// with what is allowed; a valid form submits before it closes.
func TestModalInlineErrors(t *testing.T) {
	h := newHarness(t)
	if got := ackText(t, h.command(alice, billing, "new")); got != "" {
		t.Fatalf("acknowledged with %q", got)
	}
	if n := len(h.slack.Calls()); n != 1 || h.slack.Calls()[0].Method != "views.open" {
		t.Fatalf("/pg new called %+v; views.open comes first and alone", h.slack.Calls())
	}
	v := h.lastView()
	var view struct {
		Title           struct{ Text string } `json:"title"`
		PrivateMetadata string                `json:"private_metadata"`
		Blocks          []struct {
			BlockID string `json:"block_id"`
		} `json:"blocks"`
	}
	json.Unmarshal(v.JSON, &view)
	if len(view.Title.Text) > blockkit.MaxViewTitle || len(view.Blocks) > blockkit.MaxViewBlocks || len(view.PrivateMetadata) > blockkit.MaxPrivateMetadata {
		t.Errorf("modal over Slack's limits: title %q, %d blocks, metadata %d", view.Title.Text, len(view.Blocks), len(view.PrivateMetadata))
	}
	for _, f := range modalFields {
		if !strings.Contains(string(v.JSON), `"block_id":"`+fieldBlock(f, "dev")+`"`) {
			t.Errorf("no block for %s", f)
		}
	}
	mustContain(t, "the prefilled form", string(v.JSON), `"initial_value":"billing"`, `"initial_option":{"text":{"type":"plain_text","text":"17","emoji":false},"value":"17"}`)

	w := h.submitView(v.ID, alice, map[string]string{
		"name": "Ledger_1", "environment": "prod", "backups.schedule": "none", "instances": "1", "storage": "lots", "databases": "app",
	})
	errs := viewErrorsOf(t, w.Body.Bytes())
	want := map[string]string{
		"name":             `must be lowercase letters, digits and '-'`,
		"backups.schedule": "prod requires backups; allowed there: hourly, daily, weekly",
		"instances":        "1 is not allowed in prod; allowed there: 3 to 9",
		"storage":          `"lots" must be a whole number of Mi, Gi or Ti`,
		"databases":        `"app" is reserved`,
	}
	for block, msg := range want {
		mustContain(t, "the error on "+block, errs[block], msg)
	}
	if len(errs) != len(want) {
		t.Errorf("errors = %v", errs)
	}
	if n := len(h.pipe.requests(t)); n != 0 {
		t.Fatalf("an invalid form stored %d request(s)", n)
	}
	w = h.submitView(v.ID, alice, map[string]string{"name": "ledger", "environment": "prod", "load": "big", "databases": "reports, audit"})
	if w.Body.Len() != 0 {
		t.Fatalf("valid form answered %s", w.Body)
	}
	recs := h.pipe.requests(t)
	if len(recs) != 1 {
		t.Fatalf("%d requests", len(recs))
	}
	r := recs[0].Request
	if r.Key() != "prod/billing/ledger" || r.Size != request.SizeL || r.Instances != 3 || strings.Join(r.Databases, ",") != "reports,audit" ||
		r.Origin.SlackChannel != billing || r.Requester.ID != alice.ID {
		t.Errorf("submitted %+v", r)
	}
}

// TestEditDraftInModal: Edit opens the form prefilled with the draft; its
// submission submits the draft and closes the card.
func TestEditDraftInModal(t *testing.T) {
	h := newHarness(t)
	h.command(alice, general, "new ledger env=dev team=billing size=M")
	card := h.lastMessage(general)
	h.click(general, card.TS, actionEdit, alice)
	v := h.lastView()
	mustContain(t, "the prefilled form", string(v.JSON), `"initial_value":"ledger"`, `"initial_value":"billing"`, `"value":"M"}`)
	if w := h.submitView(v.ID, alice, map[string]string{"environment": "staging", "size": "L"}); w.Body.Len() != 0 {
		t.Fatalf("answered %s", w.Body)
	}
	recs := h.pipe.requests(t)
	if len(recs) != 1 || recs[0].Request.Key() != "staging/billing/ledger" || recs[0].Request.Size != request.SizeL || recs[0].Request.Origin.SlackThread != card.TS {
		t.Fatalf("submitted %+v", recs)
	}
	updated, _ := h.slack.Message(general, card.TS)
	mustContain(t, "the card", updated.Text, "Submitted from the form by <@UALICE>")
	if _, err := h.store.FindConversation(context.Background(), general, "", alice.ID); err == nil {
		t.Error("the draft was not forgotten")
	}
}

// TestAccessRefusal: prod is only for the platform group, in the platform
// channel; a refusal says who may and where.
func TestAccessRefusal(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) {
		c.Access = map[string]config.SlackAccess{"prod": {Channels: []string{platform}, UserGroups: []string{"SPLATFORM"}}}
	})
	h.slack.AddUserGroup("SPLATFORM", alice.ID)
	refusal := "prod databases can be requested by <!subteam^SPLATFORM> in <#CPLATFORM>."
	tests := []struct {
		who     slacktest.User
		channel string
		allowed bool
	}{
		{bob, platform, false},
		{alice, general, false},
		{alice, platform, true},
		{bob, platform, false},
	}
	for _, tc := range tests {
		before := len(h.channelMessages(tc.channel))
		h.command(tc.who, tc.channel, "new ledger env=prod team=billing")
		posted := len(h.channelMessages(tc.channel)) > before
		if posted != tc.allowed {
			t.Errorf("%s in %s: card posted %v, want %v", tc.who.Name, tc.channel, posted, tc.allowed)
		}
		if !tc.allowed {
			if got := h.lastResponse(); got != refusal {
				t.Errorf("%s in %s: refusal %q, want %q", tc.who.Name, tc.channel, got, refusal)
			}
		}
	}
	// dev is open; the group was read once (cached).
	h.command(bob, general, "new ledger env=dev team=billing")
	mustContain(t, "the card", h.lastMessage(general).Text, "dev/billing/ledger")
	if n := len(h.slack.CallsTo("usergroups.users.list")); n != 1 {
		t.Errorf("usergroups.users.list called %d times, want 1 (cached)", n)
	}
	// The modal refuses inline, on the environment.
	h.command(bob, platform, "new")
	w := h.submitView(h.lastView().ID, bob, map[string]string{"name": "audit", "team": "billing", "environment": "prod"})
	if got := viewErrorsOf(t, w.Body.Bytes())["environment"]; got != refusal {
		t.Errorf("inline refusal %q", got)
	}
	// A thread refuses as soon as the environment is known.
	h.event(slacktest.AppMention(bob.ID, platform, h.slack.NextTS(), "", "postgres for billing in prod"))
	mustContain(t, "the thread's answer", h.lastMessage(platform).Text, "<@UBOB> "+refusal)
	if n := len(h.pipe.requests(t)); n != 0 {
		t.Errorf("%d requests stored despite refusals", n)
	}
}
