package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/bot/blockkit"
	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// longEnv is an environment name of the longest length the policy allows.
const longEnv = "productioneurope"

// lengthen makes the policy's free texts long and adds an environment
// with the longest name: what a platform team may configure, which the
// bot's messages must still fit.
func lengthen(t *testing.T, p *request.Policy) {
	t.Helper()
	long := func(s string) string { return s + ": " + strings.Repeat("a sentence a platform team wrote. ", 15) }
	for s, sp := range p.Sizes {
		sp.Description = long(sp.Description)
		p.Sizes[s] = sp
	}
	p.Environments[longEnv] = request.EnvironmentPolicy{Description: long("Production in Europe"),
		AllowedSizes: request.Sizes(), MinInstances: 3, MaxInstances: 9, BackupsRequired: true}
	for ct := range p.ClientTypes {
		p.ClientTypes[ct][longEnv] = request.Profile{Instances: 3, Backups: request.Daily, Retention: "9999d"}
	}
	for env, e := range p.Environments {
		e.Description = long(e.Description)
		p.Environments[env] = e
	}
	if err := p.Check(); err != nil {
		t.Fatalf("the lengthened policy: %v", err)
	}
}

// longestRecord is a request with every field as long as the policy
// allows, failed with a long reason, with a pull request with a long link.
func longestRecord(t *testing.T, p *request.Policy) store.Record {
	t.Helper()
	dbs := make([]string, p.MaxDatabases)
	for i := range dbs {
		dbs[i] = fmt.Sprintf("reporting_archive_database_%03d", i)
	}
	hour := 23
	r, err := p.Resolve(request.DatabaseRequest{ClientType: request.Enterprise, Load: request.VeryBig,
		Spec: request.Spec{Name: longestName(longEnv, longTeam, 1), Team: longTeam, Environment: longEnv, Instances: 9,
			Storage: "2048Gi", LogicalBackup: true, Databases: dbs, Backups: request.Backups{Schedule: request.Weekly, Hour: &hour, Retention: "9999d"}},
		Requester: request.Requester{ID: "U0123456789ABCDEF", Name: strings.Repeat("n", 80)},
		Origin:    slackOrigin(slacktest.TeamID, general, "1700000000.000100")})
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.Kind = "req-0123456789abcdef", request.Resize
	return store.Record{Request: r, State: request.Failed,
		Failure:     &request.Failure{Step: "applying", Reason: strings.Repeat("terraform apply: Error: timeout while waiting for state. ", 200), Retryable: true},
		PR:          store.PullRequest{Number: 123456, URL: longPRURL + "123456"},
		PlanSummary: strings.Repeat("Plan: 4 to add, 0 to change, 0 to destroy. ", 100)}
}

// inMemory is n databases like manyDatabases', without a store, in key
// order.
func inMemory(t *testing.T, p *request.Policy, n int) []store.Record {
	t.Helper()
	envs := p.EnvironmentNames()
	var recs []store.Record
	for i := range n {
		env := envs[i%len(envs)]
		r, err := p.Resolve(request.DatabaseRequest{Spec: request.Spec{Name: longestName(env, longTeam, i), Team: longTeam, Environment: env}})
		if err != nil {
			t.Fatal(err)
		}
		r.Kind = request.Backup
		recs = append(recs, store.Record{Request: r, State: request.Submitted, PR: store.PullRequest{Number: 100000 + i, URL: fmt.Sprintf("%s%d", longPRURL, 100000+i)}})
	}
	return listed(recs)
}

// checkMessage checks a message against Slack's limits with the fake's
// checker, and against the bot's own budget.
func checkMessage(t *testing.T, name string, m message) {
	t.Helper()
	raw, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if ps := blockkit.CheckMessage(m.Text, raw); len(ps) > 0 {
		t.Errorf("%s: Slack would answer %s: %v", name, ps.Code(), ps)
	}
	if n := blockkit.CountText(raw); n > maxMessageText {
		t.Errorf("%s: %d characters of text in blocks, over the bot's budget of %d", name, n, maxMessageText)
	}
}

// TestEveryMessageFitsSlack renders every kind of message and view the bot
// builds, with the longest names and texts the policy allows (and texts
// from elsewhere, a plan or a failure, longer than any message), and
// checks each against Block Kit's limits with the checker the fake Slack
// refuses with: the builders fit Slack by themselves, without send's
// fallback.
func TestEveryMessageFitsSlack(t *testing.T) {
	h := newHarness(t)
	p := h.policy
	lengthen(t, p)
	rec := longestRecord(t, p)
	r := rec.Request
	info := &request.ReadyInfo{Namespace: p.NamespaceFor(r.Spec), Cluster: r.Name, RWHost: strings.Repeat("h", 250) + "-rw",
		ROHost: strings.Repeat("h", 250) + "-ro", Port: 5432, Database: "app", User: "app", Secret: r.Name + "-app",
		SecretHint: strings.Repeat("kubectl get secret ", 20), Grafana: "https://grafana.example.com/d/" + strings.Repeat("g", 500)}

	messages := map[string]message{
		"help":                         helpMessage(),
		"sizes":                        sizesMessage(p),
		"draft card":                   draftCard(p, "cv0123456789abcdef", "U0123456789ABCDEF", r),
		"closed card":                  closedCard(p, r, ":white_check_mark: Submitted by <@U0123456789ABCDEF>: request "+r.ID+". Progress follows in this thread."),
		"status":                       statusMessage(p, rec, ""),
		"credentials (DM)":             credentialsMessage(rec, *info, "postgresql://app:"+strings.Repeat("p", 64)+"@"+info.RWHost+":5432/app", strings.Repeat("p", 64)),
		"a note of 100,000 characters": text(strings.Repeat("a very long note\n", 6000)),
		"a code block of 100,000":      text("```" + strings.Repeat("line of output\n", 7000) + "```"),
	}
	var problems request.Problems
	for _, f := range modalFields {
		problems = append(problems, request.Problem{Field: f, Message: strings.Repeat("what is wrong and what is allowed. ", 20)})
	}
	messages["problems"] = problemsMessage("I cannot ask for that database:", problems, newUsage)
	for _, n := range []int{0, 1, 60} {
		messages[fmt.Sprintf("list of %d", n)] = listPage(listQuery{}, inMemory(t, p, n))
	}
	thousand := inMemory(t, p, 1000)
	for q, i := (listQuery{Mine: true, Team: longTeam, Env: longEnv}), 0; i < 50; i++ {
		m := listPage(q, thousand)
		messages[fmt.Sprintf("list of 1,000, page %d", i+1)] = m
		if i == 0 {
			q.Mine, q.Team, q.Env = false, "", ""
		}
		q.After = thousand[min(len(thousand)-1, (i+1)*listPageSize-1)].Request.Key()
	}
	notices := []request.Notice{
		{Kind: request.NoticeReceived}, {Kind: request.NoticePROpened}, {Kind: request.NoticeRefused}, {Kind: request.NoticeEdited},
		{Kind: request.NoticePlanned, Plan: strings.Repeat("  # module.database.kubectl_manifest.cluster will be created\n", 2000)},
		{Kind: request.NoticeMerged}, {Kind: request.NoticeApplying}, {Kind: request.NoticeProgress},
		{Kind: request.NoticeReady, Ready: info}, {Kind: request.NoticeFailed, Next: strings.Repeat("retry it. ", 500)},
		{Kind: request.NoticeCancelled}, {Kind: request.NoticeDeleted}, {Kind: "unknown"},
	}
	for _, n := range notices {
		n.Text = strings.Repeat(n.Kind+" happened. ", 1000)
		n.PRURL = rec.PR.URL
		n.Actor = strings.Repeat("reviewer", 20)
		messages["progress on "+n.Kind] = progressMessage(rec, n)
		messages["step "+n.Kind] = stepMessage(rec, n, strings.Repeat("The credentials were sent by direct message. ", 50))
	}
	// Each question of the thread, in the environment with the longest
	// name and description, after the longest introduction.
	c := h.bot.newConversation(kindThread, "U0123456789ABCDEF", general, "1700000000.000100")
	c.Draft = r
	n := 2
	c.DBCount = &n
	intro := problemsMessage("<@U0123456789ABCDEF> one more thing:", problems, "").Text
	for _, q := range questions {
		messages["question "+q.id] = h.bot.questionMessage(c, q, intro)
		messages["answered "+q.id] = text(h.bot.questionMessage(c, q, intro).Text + "\n:ballot_box_with_check: *" + strings.Repeat("x", 75) + "*")
	}
	for name, m := range messages {
		checkMessage(t, name, m)
	}

	// The forms: the request form for each environment, prefilled with
	// the longest request, and the delete form.
	views := map[string]slack.ModalViewRequest{
		"delete form": deleteView(viewMeta{Channel: general, Name: r.Name, Env: longEnv, Team: longTeam}),
	}
	for _, env := range p.EnvironmentNames() {
		d := r
		d.Environment = env
		views["request form in "+env] = h.bot.requestView(d, viewMeta{Conv: c.ID, Channel: general})
	}
	for name, v := range views {
		if err := checkView(v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRepliesFitSlack: what the bot answers to commands with the longest
// input a user can type (Slack sends a command's text up to about 4,000
// characters) fits, in the acknowledgement and on the response_url, and
// nothing it posted was refused.
func TestRepliesFitSlack(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", 3900)
	for _, cmd := range []string{
		"", "help", "sizes", long, "new " + long, "new ledger " + long, "new ledger env=" + long, "list " + long, "list team " + long,
		"status " + long, "resize " + long + " size=L", "backups ledger " + long, "retry " + long, "delete " + long,
		"delete ledger env=" + long,
	} {
		w := h.command(alice, general, cmd)
		checkAck(t, clip(cmd, 30), w)
	}
	for _, c := range h.slack.Calls() {
		if !c.OK() {
			t.Errorf("Slack refused %s: %s\n%s", c.Method, c.Error, clip(string(c.Body), 300))
		}
	}
}

func checkAck(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Body.Len() == 0 {
		return
	}
	var r struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("%s: the acknowledgement is not JSON: %s", name, w.Body)
	}
	if ps := blockkit.CheckMessage(r.Text, r.Blocks); len(ps) > 0 {
		t.Errorf("%s: the acknowledgement is over Slack's limits: %v", name, ps)
	}
}

// TestSendFallsBackToText: a message over Slack's limits that a builder
// let through (a bug) is not sent as built, so Slack does not refuse it:
// its text goes alone, and the bug is logged.
func TestSendFallsBackToText(t *testing.T) {
	h := newHarness(t)
	m := message{Text: "the whole text", Blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(strings.Repeat("x", 3460)), nil, nil)}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.bot.post(ctx, general, "", m); err != nil {
		t.Fatalf("post: %v", err)
	}
	got := h.lastMessage(general)
	if got.Text != "the whole text" || got.Blocks != nil {
		t.Errorf("sent %q with blocks %s", got.Text, got.Blocks)
	}
	mustContain(t, "the log", h.logs.String(), "a message over Slack's limits was built (a bug)", "json-pointer:/blocks/0/text/text")
}
