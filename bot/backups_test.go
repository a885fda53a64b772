package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
)

// fakeClusters is a test double of pipeline.Clusters: the backups of each
// cluster are what a test sets, and a backup taken is recorded and listed
// as started. No cluster is ever ready (no worker runs in these tests).
type fakeClusters struct {
	mu    sync.Mutex
	sets  map[string]request.BackupSet // by env/name
	taken []string
}

func newFakeClusters() *fakeClusters { return &fakeClusters{sets: map[string]request.BackupSet{}} }

func (f *fakeClusters) set(env, name string, s request.BackupSet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets[env+"/"+name] = s
}

func (f *fakeClusters) WaitReady(ctx context.Context, env, namespace, name string, progress func(string)) error {
	return fmt.Errorf("cluster %s/%s: not in the bot's tests", namespace, name)
}

func (f *fakeClusters) Check(ctx context.Context, env, namespace, name string) (request.ReadyInfo, error) {
	return request.ReadyInfo{}, fmt.Errorf("cluster %s/%s: not in the bot's tests", namespace, name)
}

func (f *fakeClusters) Backups(ctx context.Context, env, namespace, name string) (request.BackupSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sets[env+"/"+name], nil
}

func (f *fakeClusters) TakeBackup(ctx context.Context, env, namespace, name, backup string) (request.BaseBackup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.taken = append(f.taken, env+"/"+name+"/"+backup)
	b := request.BaseBackup{Name: backup, Phase: "started", OnDemand: true}
	s := f.sets[env+"/"+name]
	s.Base = append([]request.BaseBackup{b}, s.Base...)
	f.sets[env+"/"+name] = s
	return b, nil
}

var (
	windowFirst = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	windowLast  = time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
)

// ledgerBackups gives prod/billing/ledger (daily backups, as prod
// requires) a recovery window and two base backups.
func (h *harness) ledgerBackups() {
	h.readyDatabase("prod", "billing", "ledger", alice, request.Ready)
	h.clusters.set("prod", "ledger", request.BackupSet{
		Base: []request.BaseBackup{
			{Name: "ledger-20260301030000", Phase: "completed", Started: windowFirst, Stopped: windowFirst.Add(4 * time.Minute), ID: "20260301T030000"},
			{Name: "ledger-ondemand-0a1b2c3d4e", Phase: "failed", Started: windowFirst.Add(20 * time.Hour), Stopped: windowFirst.Add(20*time.Hour + time.Minute),
				Error: "can't upload: AccessDenied", OnDemand: true},
		},
		Window: request.RecoveryWindow{First: windowFirst, Last: windowLast, Archiving: false, ArchivingReason: "ContinuousArchivingFailing: 3 WAL files not archived",
			LastBackup: windowFirst.Add(4 * time.Minute), LastFailedBackup: windowFirst.Add(20*time.Hour + time.Minute)},
	})
}

// TestBackupsCard: /pg backups <name> shows the base backups newest first,
// the recovery window, WAL archiving and the last failure; a schedule
// still changes the backups.
func TestBackupsCard(t *testing.T) {
	h := newHarness(t)
	h.ledgerBackups()
	h.readyDatabase("dev", "search", "index", bob, request.Ready)

	if got := ackText(t, h.command(alice, general, "backups ledger")); got != "" {
		t.Errorf("acknowledged with %q; the card comes on the response_url", got)
	}
	card := h.lastResponseCall()
	body := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(card.Args.Get("blocks"))
	mustContain(t, "the card", body,
		"*Backups of `prod/billing/ledger`* (schedule: daily at 03:00 UTC, kept 30d)",
		"*Recovery window*: from 2026-03-01T03:00:00Z to 2026-03-02T08:30:00Z",
		"*WAL archiving*: :rotating_light: failing (ContinuousArchivingFailing: 3 WAL files not archived)",
		"*Last failed backup*: 2026-03-01T23:01:00Z",
		"• `ledger-ondemand-0a1b2c3d4e` *failed* · 2026-03-01T23:00:00Z → 2026-03-01T23:01:00Z · on demand · error: can't upload: AccessDenied",
		"• `ledger-20260301030000` *completed* · 2026-03-01T03:00:00Z → 2026-03-01T03:04:00Z · scheduled",
		"Restore…", "never touches it")
	if strings.Index(body, "ledger-ondemand") > strings.Index(body, "ledger-20260301030000") {
		t.Error("the base backups are not newest first")
	}

	h.command(alice, general, "backups index")
	mustContain(t, "a database without backups", h.lastResponse(), "recovery window no backup yet")
	mustContain(t, "its blocks", h.lastResponseCall().Args.Get("blocks"), "*Base backups*: none yet", "Nothing to restore from yet", "/pg backup index")
	if strings.Contains(h.lastResponseCall().Args.Get("blocks"), "Restore") {
		t.Error("a Restore button with nothing to restore from")
	}

	h.command(alice, general, "backups nothing")
	mustContain(t, "an unknown database", h.lastResponse(), "There is no database called `nothing`")

	h.command(alice, general, "backups index daily")
	mustContain(t, "a schedule", h.lastResponse(), "Asked: backups none → daily of `dev/search/index`")
}

// TestBackupNow: /pg backup takes an on-demand backup through the
// pipeline, authorized like a change; the trigger_id keys it.
func TestBackupNow(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) {
		c.Access = map[string]config.SlackAccess{"prod": {Channels: []string{platform}}}
	})
	h.ledgerBackups()
	h.readyDatabase("dev", "search", "index", bob, request.Ready)

	h.command(alice, general, "backup ledger")
	mustContain(t, "no access", h.lastResponse(), "prod databases can be requested in <#CPLATFORM>")
	if len(h.clusters.taken) != 0 {
		t.Fatalf("a backup was taken without access: %v", h.clusters.taken)
	}

	h.command(alice, platform, "backup ledger")
	mustContain(t, "the answer", h.lastResponse(), "Backup `ledger-ondemand-", "of `prod/billing/ledger` started (started)",
		"progress and result come in the database's thread", "`/pg backups ledger`")
	if len(h.clusters.taken) != 1 || !strings.HasPrefix(h.clusters.taken[0], "prod/ledger/ledger-ondemand-") {
		t.Errorf("backups taken: %v", h.clusters.taken)
	}
	ev := h.events(t, "prod/billing/ledger")
	if !strings.Contains(ev, "on-demand backup ledger-ondemand-") {
		t.Errorf("the backup is not audited: %s", ev)
	}

	h.command(alice, general, "backup index")
	mustContain(t, "no backups configured", h.lastResponse(), "I cannot back up `dev/search/index`", "*name*", "has no backups configured")

	h.command(alice, general, "backup nothing")
	mustContain(t, "an unknown database", h.lastResponse(), "There is no database called `nothing`")
	if len(h.clusters.taken) != 1 {
		t.Errorf("backups taken: %v", h.clusters.taken)
	}
}

// events are the audit events of a database's requests, one a line.
func (h *harness) events(t *testing.T, key string) string {
	t.Helper()
	var b strings.Builder
	for _, rec := range h.pipe.requests(t) {
		if rec.Request.Key() != key {
			continue
		}
		evs, err := h.store.Events(context.Background(), rec.ID())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			b.WriteString(e.Detail + "\n")
		}
	}
	return b.String()
}

// TestRestoreCommand: /pg restore with --at or --as asks for a new
// database like its source, restored from it; the pipeline checks the
// recovery window and the name.
func TestRestoreCommand(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) {
		c.Access = map[string]config.SlackAccess{"staging": {Channels: []string{platform}}}
	})
	h.ledgerBackups()
	h.readyDatabase("staging", "billing", "audit", alice, request.Ready)
	h.clusters.set("staging", "audit", request.BackupSet{Window: request.RecoveryWindow{First: windowFirst, Last: windowLast, Archiving: true}})

	h.command(alice, general, "restore ledger --at 2026-03-01T12:00:00Z --as ledger-copy")
	mustContain(t, "the answer", h.lastResponse(),
		"Asked: `prod/billing/ledger-copy`, a new database restored from `ledger` as it was at 2026-03-01T12:00:00Z",
		"Its progress message is posted in <#CGENERAL>",
		"A restore never touches `ledger`: once `ledger-copy` is ready, point your clients at its hosts",
		"delete `ledger` with `/pg delete ledger` if it is no longer needed")
	h.pipe.mu.Lock()
	r := h.pipe.submits[len(h.pipe.submits)-1]
	h.pipe.mu.Unlock()
	src := h.pipe.requests(t)[len(h.pipe.requests(t))-1].Request // the oldest: ledger
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if r.Kind != request.Create || r.Name != "ledger-copy" || r.Environment != "prod" || r.Team != "billing" ||
		r.Restore == nil || r.Restore.Source != "ledger" || r.Restore.TargetTime == nil || !r.Restore.TargetTime.Equal(at) ||
		r.Size != src.Size || r.Instances != src.Instances || r.PostgresVersion != src.PostgresVersion || r.Backups.Schedule != src.Backups.Schedule ||
		r.ClientType != src.ClientType || r.Requester.ID != alice.ID || r.Origin.SlackChannel != general {
		t.Errorf("submitted %+v (source %+v)", r, src)
	}

	h.command(alice, general, "restore ledger --at latest")
	mustContain(t, "the default name", h.lastResponse(), "Asked: `prod/billing/ledger-restore-1`", "as it was at the latest point archived")
	h.command(alice, general, "restore ledger")
	h.command(alice, general, "restore ledger --at=latest")
	mustContain(t, "the next default name", h.lastResponse(), "Asked: `prod/billing/ledger-restore-2`")

	tests := []struct {
		channel, text string
		wants         []string
	}{
		{general, "restore ledger --as ledger-copy", []string{"I cannot restore `prod/billing/ledger` into `ledger-copy`", "*name*", "already exists"}},
		{general, "restore ledger --at 2026-02-01T00:00:00Z --as early", []string{"*restore.targetTime*", "outside the recovery window of ledger"}},
		{general, "restore ledger --as ledger", []string{"*restore.source*", "is the database being created"}},
		{general, "restore nothing --at latest", []string{"There is no database called `nothing`"}},
		{general, "restore audit --at latest", []string{"staging databases can be requested in <#CPLATFORM>"}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			n := len(h.pipe.requests(t))
			h.command(alice, tc.channel, tc.text)
			mustContain(t, "the refusal", h.lastResponse(), tc.wants...)
			if got := len(h.pipe.requests(t)); got != n {
				t.Errorf("%d requests after a refusal, want %d", got, n)
			}
		})
	}
	h.command(alice, platform, "restore audit --as audit-2")
	mustContain(t, "with access", h.lastResponse(), "Asked: `staging/billing/audit-2`")
}

// TestRestoreDefaultNameFits: the default name of a long database's
// restore is shortened to what the policy accepts.
func TestRestoreDefaultNameFits(t *testing.T) {
	h := newHarness(t)
	name := ""
	for n := request.MaxNameLength(); n > 0; n-- {
		cand := "l" + strings.Repeat("x", n-1)
		if _, err := h.policy.Resolve(request.DatabaseRequest{Spec: request.Spec{Name: cand, Team: "billing", Environment: "prod"}}); err == nil {
			name = cand
			break
		}
	}
	h.readyDatabase("prod", "billing", name, alice, request.Ready)
	h.clusters.set("prod", name, request.BackupSet{Window: request.RecoveryWindow{First: windowFirst, Last: windowLast, Archiving: true}})
	h.command(alice, general, "restore "+name+" --at latest")
	want := name[:len(name)-len("-restore-1")] + "-restore-1"
	mustContain(t, "the answer", h.lastResponse(), "Asked: `prod/billing/"+want+"`")
}

// TestRestoreConversation: /pg restore <name> alone asks the point in
// time and the new name in a thread, checks each answer, then submits.
func TestRestoreConversation(t *testing.T) {
	h := newHarness(t)
	h.ledgerBackups()
	h.readyDatabase("prod", "billing", "ledger-copy", alice, request.Ready)

	h.command(alice, general, "restore ledger")
	mustContain(t, "the answer", h.lastResponse(), "I ask about the restore of `prod/billing/ledger` in a thread in this channel")
	var root string
	for _, m := range h.channelMessages(general) {
		if m.ThreadTS == "" && strings.Contains(m.Text, "restores `prod/billing/ledger` into a new database") {
			root = m.TS
		}
	}
	if root == "" {
		t.Fatalf("no thread started: %+v", h.channelMessages(general))
	}
	th := thread{h: h, channel: general, ts: root}
	th.expect("Which point in time? `latest` or a time like 2026-12-02T10:00:00Z", "can be restored from 2026-03-01T03:00:00Z to 2026-03-02T08:30:00Z")

	th.say(alice, "yesterday")
	th.expect("that is not a point in time", "*restore.targetTime*", "Which point in time?")
	th.say(alice, "2999-01-01T00:00:00Z")
	th.expect("that does not work", "*restore.targetTime*", "in the future", "Which point in time?")

	h.restart() // a new process, the same store

	th.say(alice, "2026-03-01T12:00:00Z")
	th.expect("Name of the new database? (default `ledger-restore-1`)")
	th.say(alice, "ledger")
	th.expect("that does not work", "*restore.source*", "Name of the new database?")
	th.say(alice, "ledger-copy")
	th.expect("`prod/billing/ledger-copy` already exists", "Pick another name", "Name of the new database?")
	th.pick(alice, "Use ledger-restore-1")
	th.expect("Asked: `prod/billing/ledger-restore-1`, a new database restored from `ledger` as it was at 2026-03-01T12:00:00Z",
		"progress follows in this thread", "A restore never touches `ledger`")

	h.pipe.mu.Lock()
	r := h.pipe.submits[len(h.pipe.submits)-1]
	h.pipe.mu.Unlock()
	if r.Name != "ledger-restore-1" || r.Restore == nil || r.Restore.Source != "ledger" || r.Origin.SlackThread != root || r.Requester.ID != alice.ID {
		t.Errorf("submitted %+v", r)
	}
	if _, err := h.store.FindConversation(context.Background(), general, root, alice.ID); err == nil {
		t.Error("the conversation outlived its submission")
	}

	// A source without backups is refused before any question.
	h.readyDatabase("dev", "search", "index", bob, request.Ready)
	h.command(bob, general, "restore index")
	mustContain(t, "no backup", h.lastResponse(), "`dev/search/index` has no backup yet", "/pg backup index")
}

// TestRestoreModal: the backups card's Restore… button opens a modal;
// problems come back inline on their inputs, a valid one is submitted.
func TestRestoreModal(t *testing.T) {
	h := newHarness(t)
	h.ledgerBackups()
	h.readyDatabase("prod", "billing", "ledger-copy", alice, request.Ready)

	h.command(alice, general, "backups ledger")
	cb, err := h.slack.ClickInResponse(h.lastResponseCall(), general, actionRestoreOpen, alice)
	if err != nil {
		t.Fatal(err)
	}
	h.serve(h.signer.Interaction(PathInteractions, cb))
	form := h.lastView()
	mustContain(t, "the form", string(form.JSON), `"title":{"type":"plain_text","text":"Restore a database"`, blockTargetTime, "Restores `prod/billing/ledger`")

	errs := viewErrorsOf(t, h.submitView(form.ID, alice, map[string]string{blockTargetTime: "yesterday", blockNewName: ""}).Body.Bytes())
	mustContain(t, "the time's error", errs[blockTargetTime], `"yesterday" is not an RFC 3339 time`)
	errs = viewErrorsOf(t, h.submitView(form.ID, alice, map[string]string{blockTargetTime: "2026-01-01T00:00:00Z", blockNewName: ""}).Body.Bytes())
	mustContain(t, "the window's error", errs[blockTargetTime], "outside the recovery window")
	errs = viewErrorsOf(t, h.submitView(form.ID, alice, map[string]string{blockTargetTime: "latest", blockNewName: "ledger-copy"}).Body.Bytes())
	mustContain(t, "the name's error", errs[blockNewName], "already exists")

	n := len(h.pipe.requests(t))
	w := h.submitView(form.ID, alice, map[string]string{blockTargetTime: "2026-03-02T08:00:00Z", blockNewName: ""})
	if w.Body.Len() != 0 {
		t.Fatalf("a valid restore was answered %s", w.Body)
	}
	recs := h.pipe.requests(t)
	if len(recs) != n+1 || recs[0].Request.Name != "ledger-restore-1" || recs[0].Request.Restore == nil || recs[0].Request.Restore.Source != "ledger" {
		t.Fatalf("requests: %+v", recs[0].Request)
	}
	var told string
	for _, m := range h.slack.Messages(general) {
		if m.Ephemeral {
			told = m.Text
		}
	}
	mustContain(t, "the note", told, "Asked: `prod/billing/ledger-restore-1`", "as it was at 2026-03-02T08:00:00Z", "A restore never touches `ledger`")
}

// TestRestoreNeedsAccess: the conversation and the modal refuse who may
// not ask for a database in the source's environment, as /pg new does.
func TestRestoreNeedsAccess(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) {
		c.Access = map[string]config.SlackAccess{"prod": {Channels: []string{platform}}}
	})
	h.ledgerBackups()
	refusal := "prod databases can be requested in <#CPLATFORM>."

	h.command(alice, general, "restore ledger")
	mustContain(t, "the conversation", h.lastResponse(), refusal)
	if ms := h.channelMessages(general); len(ms) != 0 {
		t.Errorf("a thread was started without access: %+v", ms)
	}

	h.command(alice, general, "backups ledger")
	cb, err := h.slack.ClickInResponse(h.lastResponseCall(), general, actionRestoreOpen, alice)
	if err != nil {
		t.Fatal(err)
	}
	h.serve(h.signer.Interaction(PathInteractions, cb))
	errs := viewErrorsOf(t, h.submitView(h.lastView().ID, alice, map[string]string{blockTargetTime: "latest", blockNewName: ""}).Body.Bytes())
	if errs[blockNewName] != refusal {
		t.Errorf("the form's errors: %v", errs)
	}
	if n := len(h.pipe.requests(t)); n != 1 {
		t.Errorf("%d requests, want the source alone", n)
	}
}
