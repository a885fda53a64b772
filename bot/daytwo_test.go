package bot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

var carol = slacktest.User{ID: "UCAROL", Name: "carol"}

const adminGroup = "SADMINS"

// readyIn stores a ready database asked for in channel (its thread is
// there), with the credentials its secret would hold.
func (h *harness) readyIn(channel, env, team, name string, who slacktest.User) store.Record {
	h.t.Helper()
	r, err := h.policy.Resolve(request.DatabaseRequest{Spec: request.Spec{Name: name, Team: team, Environment: env},
		Requester: request.Requester{ID: who.ID, Name: who.Name}, Origin: slackOrigin(slacktest.TeamID, channel, "")})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	rec, _, err := h.store.CreateRequest(ctx, store.NewRequest{Request: r, Event: request.Event{Actor: who.ID, Origin: "slack"}})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Ready} {
		if rec, err = h.store.Transition(ctx, rec.ID(), s, request.Event{Actor: "test"}); err != nil {
			h.t.Fatal(err)
		}
	}
	return rec
}

// deliver hands a notice to Notify with the record read afresh, as the
// pipeline's notify job does.
func (h *harness) deliver(id string, n request.Notice) {
	h.t.Helper()
	rec, err := h.store.GetRequest(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.bot.Notify(context.Background(), rec, n); err != nil {
		h.t.Fatalf("notify %s: %v", n.Kind, err)
	}
}

// writeWatch changes a database's watch record as the watch or the plan
// job would.
func (h *harness) writeWatch(key store.DatabaseKey, requestID string, change func(w *store.Watch)) store.Watch {
	h.t.Helper()
	w, err := h.store.UpdateWatch(context.Background(), key, func(w *store.Watch) (bool, []store.NewJob, error) {
		w.RequestID = requestID
		change(w)
		return true, nil, nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return w
}

// jobsOf claims and completes every runnable job of a kind (no worker
// runs in the harness; a job claimed and not completed would hold its
// workspace) and returns them.
func (h *harness) jobsOf(kind string) []store.Job {
	h.t.Helper()
	var out []store.Job
	for {
		j, ok, err := h.store.Claim(context.Background(), "test", time.Hour, kind)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok {
			return out
		}
		if err := h.store.Complete(context.Background(), j.ID, "test", nil); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, j)
	}
}

// noSecrets fails when a call to Slack or the log carries the password
// of a ready database or a token.
func (h *harness) noSecrets(secrets ...string) {
	h.t.Helper()
	secrets = append(secrets, h.slack.BotToken, testSecret)
	for _, c := range h.slack.Calls() {
		for _, s := range secrets {
			if c.Method != "auth.test" && strings.Contains(string(c.Body), s) {
				h.t.Errorf("a secret went out in %s to %s", c.Method, c.Args.Get("channel"))
			}
		}
	}
	if strings.Contains(h.logs.String(), testPassword) {
		h.t.Error("the password is in the log")
	}
}

func lastEphemeral(t *testing.T, h *harness, channel string) slacktest.Message {
	t.Helper()
	var last *slacktest.Message
	for _, m := range h.slack.Messages(channel) {
		if m.Ephemeral {
			m := m
			last = &m
		}
	}
	if last == nil {
		t.Fatalf("no ephemeral message in %s", channel)
	}
	return *last
}

func plannedReconcile(id string) request.Reconcile {
	return request.Reconcile{ID: id, State: request.ReconcilePlanned, Requester: request.Requester{ID: alice.ID},
		Origin: slackOrigin(slacktest.TeamID, billing, ""), Commit: "0123456789abcdef", Summary: "Plan: 0 to add, 1 to change, 0 to destroy.",
		Resources: []string{"update module.database.kubectl_manifest.cluster"}, Fingerprint: "f00d"}
}

// TestDayTwoNotices: every day-two notice is posted in the database's
// thread, passes the fake's Block Kit checker (the plan keeps its Apply
// button), and carries no secret.
func TestDayTwoNotices(t *testing.T) {
	h := newHarness(t)
	h.creds["prod/billing-prod/ledger"] = [2]string{testURI, testPassword}
	rec := h.readyIn(billing, "prod", "billing", "ledger", alice)
	db := rec.Request.Key()
	healthy := request.Health{Found: true, Phase: request.HealthyPhase, Ready: true, Instances: 3, ReadyInstances: 3, Primary: "ledger-1"}
	failing := request.Health{Found: true, Phase: "Failing over", Ready: false, ReadyReason: "ClusterIsNotReady", Instances: 3, ReadyInstances: 2, Primary: "ledger-2"}
	drift := &request.Drift{Summary: "Plan: 0 to add, 1 to change, 0 to destroy.", Resources: []string{"update module.database.kubectl_manifest.cluster"}, Fingerprint: "abc"}
	notices := append(request.HealthNotices(db, healthy, failing), request.HealthNotices(db, failing, healthy)...)
	notices = append(notices, request.HealthNotices(db, healthy, request.Health{})...)
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	backedUp := healthy
	backedUp.Archiving, backedUp.LastBackup = request.ArchivingOK, t0
	brokenBackups := backedUp
	brokenBackups.Archiving, brokenBackups.ArchivingReason, brokenBackups.LastFailedBackup = request.ArchivingFailing, "ContinuousArchivingFailing: AccessDenied", t0.Add(time.Hour)
	mended := backedUp
	mended.LastBackup, mended.LastFailedBackup = t0.Add(2*time.Hour), t0.Add(time.Hour)
	notices = append(notices, request.HealthNotices(db, backedUp, brokenBackups)...)
	notices = append(notices, request.HealthNotices(db, brokenBackups, mended)...)
	notices = append(notices, request.DriftNotices(db, nil, drift)...)
	notices = append(notices, request.DriftNotices(db, drift, nil)...)
	plan := plannedReconcile("rc1")
	done, failed := plan, plan
	done.State, failed.State, failed.Error = request.ReconcileDone, request.ReconcileFailed, "the plan changed"
	notices = append(notices,
		request.Notice{Kind: request.NoticeReconcilePlan, Plan: plan.Summary, Reconcile: &plan,
			Text: fmt.Sprintf("Reconciling %s applies the reviewed code at 0123456: %s (%s). Nothing is applied until it is confirmed.", db, plan.Summary, plan.Resources[0])},
		request.Notice{Kind: request.NoticeReconciled, Actor: alice.ID, Reconcile: &done, Text: "Reconciled " + db + ": applied the reviewed code at 0123456 (Plan: 0 to add, 1 to change, 0 to destroy.). The drift is gone."},
		request.Notice{Kind: request.NoticeReconcileFailed, Reconcile: &failed, Next: "Ask again with `/pg reconcile` (or POST …/reconcile) to plan once more.",
			Text: "The reconcile of " + db + " did not apply: the plan changed"},
		request.Notice{Kind: request.NoticeBackupStarted, Actor: alice.ID, Text: "UALICE asked for a backup of " + db + " now: ledger-ondemand-0a1b2c3d4e. I will say here when it is done."},
		request.Notice{Kind: request.NoticeBackupDone, Text: "Backup ledger-ondemand-0a1b2c3d4e of " + db + " is done (2026-12-02T03:00:00Z to 2026-12-02T03:04:00Z, barman id 20261202T030000): it can be restored from with `/pg restore`."})

	want := map[string][]string{
		request.NoticeUnhealthy:          {":warning: " + db + " is unhealthy", `phase "Failing over"`, "2/3 instances ready"},
		request.NoticeFailover:           {":arrows_counterclockwise: The primary of " + db + " changed from ledger-", "a switchover or a failover"},
		request.NoticeRecovered:          {":green_heart: " + db + " is healthy again"},
		request.NoticeGone:               {":rotating_light: The CloudNativePG Cluster of " + db + " is gone"},
		request.NoticeDrift:              {":mag: " + db + " drifted from its reviewed code", "update module.database.kubectl_manifest.cluster"},
		request.NoticeDriftResolved:      {":white_check_mark: " + db + " matches its reviewed code again"},
		request.NoticeReconcilePlan:      {":clipboard: Reconciling " + db, "Nothing is applied until it is confirmed"},
		request.NoticeReconciled:         {":white_check_mark: Reconciled " + db},
		request.NoticeReconcileFailed:    {":x: The reconcile of " + db + " did not apply", "*Next*: Ask again with `/pg reconcile`"},
		request.NoticeArchivingFailed:    {":rotating_light: WAL archiving of " + db + " is failing", "AccessDenied"},
		request.NoticeArchivingRecovered: {":green_heart: WAL archiving of " + db + " works again"},
		request.NoticeBackupFailed:       {":warning: A base backup of " + db + " failed at 2026-12-02T04:00:00Z"},
		request.NoticeBackupRecovered:    {":green_heart: A base backup of " + db + " succeeded"},
		request.NoticeBackupStarted:      {":floppy_disk: UALICE asked for a backup of " + db + " now: ledger-ondemand-0a1b2c3d4e"},
		request.NoticeBackupDone:         {":white_check_mark: Backup ledger-ondemand-0a1b2c3d4e of " + db + " is done", "`/pg restore`"},
	}
	seen := map[string]bool{}
	for _, n := range notices {
		h.deliver(rec.ID(), n)
		reply := h.lastMessage(billing)
		if reply.ThreadTS == "" {
			t.Errorf("%s: not posted in the database's thread", n.Kind)
		}
		mustContain(t, n.Kind, reply.Text, want[n.Kind]...)
		seen[n.Kind] = true
		if n.Kind == request.NoticeReconcilePlan {
			mustContain(t, "the plan's blocks", blocksText(reply), "*Reconcile rc1*", plan.Summary, "• `update module.database.kubectl_manifest.cluster`",
				"Nothing is applied unless someone allowed to reconcile this database presses *Apply this plan*")
			if labels := h.slack.ButtonLabels(billing, reply.TS); len(labels) != 1 || labels[0] != "Apply this plan" {
				t.Errorf("plan buttons %v, want Apply this plan alone", labels)
			}
		}
	}
	for kind := range want {
		if !seen[kind] {
			t.Errorf("notice %s was not rendered", kind)
		}
	}
	for _, c := range h.slack.Calls() {
		if !c.OK() {
			t.Errorf("Slack refused %s: %d %s", c.Method, c.Status, c.Error)
		}
	}
	h.noSecrets(testPassword, testURI)
}

// TestDayTwoMessagesFitSlack: the plan, its confirmation, the drift list
// and the status card fit Slack with the longest inputs.
func TestDayTwoMessagesFitSlack(t *testing.T) {
	h := newHarness(t)
	rec := h.readyIn(billing, "prod", "billing", strings.Repeat("n", request.MaxNameLength()), alice)
	long := plannedReconcile(strings.Repeat("i", 40))
	long.Summary = strings.Repeat("Plan: 1 to add. ", 200)
	for i := 0; i < 500; i++ {
		long.Resources = append(long.Resources, fmt.Sprintf("update module.database.kubectl_manifest.%s[%d]", strings.Repeat("x", 300), i))
	}
	n := request.Notice{Kind: request.NoticeReconcilePlan, Reconcile: &long, Text: strings.Repeat("very long plan text ", 500)}
	checkMessage(t, "reconcile plan", stepMessage(rec, n, ""))
	checkMessage(t, "reconcile confirmed", reconcileConfirmed(keyOf(rec.Request), long, alice.ID))
	w := store.Watch{Key: keyOf(rec.Request),
		Health:    &request.Health{Found: true, Phase: strings.Repeat("p", 500), Reason: strings.Repeat("r", 2000), ReadyReason: strings.Repeat("q", 2000), Instances: 3},
		Drift:     &request.Drift{Summary: long.Summary, Resources: long.Resources},
		Reconcile: &long}
	checkMessage(t, "status card", statusMessage(h.policy, rec, watchLines(rec, w, nil)))
	var entries []entry
	for i := 0; i < listPageSize; i++ {
		w.Key.Name = fmt.Sprintf("%s%02d", strings.Repeat("n", request.MaxNameLength()-2), i)
		entries = append(entries, entry{key: w.Key, line: driftLine(w)})
	}
	q := listQuery{}
	checkMessage(t, "drift page", page{entries: entries, start: 25, total: -1, prev: true, next: true}.message(q, driftList(q)))
}

// TestReconcileFromSlack: /pg reconcile is refused outside the owning
// team's channel and the admin groups, naming what is allowed; in the
// team's channel it starts a planning reconcile (recorded, audited, its
// plan job queued). Once planned, the plan in the thread is applied by
// one click on "Apply this plan" (a double click applies once), by whoever
// may reconcile; a stale button is answered with the pipeline's refusal.
func TestReconcileFromSlack(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) { c.AdminGroups = []string{adminGroup} })
	h.slack.AddUserGroup(adminGroup, carol.ID)
	rec := h.readyIn(billing, "prod", "billing", "ledger", alice)
	key := keyOf(rec.Request)
	ctx := context.Background()

	// Outside the team's channel, not an admin: refused, naming who may.
	h.command(bob, general, "reconcile ledger")
	mustContain(t, "the refusal", h.lastResponse(), "prod databases of team billing can be reconciled by",
		"anyone in <#"+billing+"> (team billing's channel)", "members of <!subteam^"+adminGroup+">")
	if _, err := h.store.GetWatch(ctx, key); err == nil {
		t.Error("a refused reconcile was recorded")
	}
	// A usage mistake is answered at once.
	mustContain(t, "usage", ackText(t, h.command(alice, billing, "reconcile")), "Usage: `/pg reconcile <name>")

	// In the team's channel: planning.
	h.command(alice, billing, "reconcile ledger env=prod")
	mustContain(t, "the answer", h.lastResponse(), "Planning a reconcile of `prod/billing/ledger`",
		"the plan will be posted in the database's thread for confirmation", "Nothing is applied until")
	w, err := h.store.GetWatch(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if w.Reconcile == nil || w.Reconcile.State != request.ReconcilePlanning || w.Reconcile.Requester.ID != alice.ID {
		t.Fatalf("reconcile recorded: %+v", w.Reconcile)
	}
	id := w.Reconcile.ID
	events, err := h.store.Events(ctx, rec.ID())
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Actor != alice.ID || last.Ref != id || !strings.Contains(last.Detail, "reconcile asked") {
		t.Errorf("audit event %+v", last)
	}
	if jobs := h.jobsOf(pipeline.JobReconcilePlan); len(jobs) != 1 {
		t.Errorf("%d plan jobs queued, want 1", len(jobs))
	}

	// An admin asking again from elsewhere gets the open reconcile.
	h.command(carol, general, "reconcile ledger")
	mustContain(t, "asking again", h.lastResponse(), "Planning a reconcile of `prod/billing/ledger` (reconcile "+id+")")

	// The plan job's work: the reconcile is planned, the plan posted.
	h.writeWatch(key, rec.ID(), func(w *store.Watch) {
		r := plannedReconcile(id)
		r.Requester, r.Requested = w.Reconcile.Requester, w.Reconcile.Requested
		w.Reconcile = &r
	})
	planned := plannedReconcile(id)
	h.deliver(rec.ID(), request.Notice{Kind: request.NoticeReconcilePlan, Plan: planned.Summary, Reconcile: &planned,
		Text: "Reconciling prod/billing/ledger applies the reviewed code at 0123456: " + planned.Summary + " (update module.database.kubectl_manifest.cluster). Nothing is applied until it is confirmed."})
	plan := h.lastMessage(billing)

	// Where the team's channel may not reconcile, a member is refused.
	h.cfg.Access = map[string]config.SlackAccess{"prod": {Reconcile: &config.ReconcileAccess{TeamChannel: new(bool), UserGroups: []string{"SDBAS"}}}}
	h.restart()
	h.slack.AddUserGroup("SDBAS", "UDAVE")
	h.clickLabel(billing, plan.TS, "Apply this plan", bob)
	mustContain(t, "the click's refusal", lastEphemeral(t, h, billing).Text, "prod databases of team billing can be reconciled by members of <!subteam^"+adminGroup+"> or <!subteam^SDBAS>")
	if w, _ := h.store.GetWatch(ctx, key); w.Reconcile.State != request.ReconcilePlanned {
		t.Fatalf("a refused click changed the reconcile: %+v", w.Reconcile)
	}
	h.cfg.Access = nil
	h.restart()

	// A double click: both reach the bot; the plan is applied once.
	id1, _ := h.slack.ButtonByLabel(billing, plan.TS, "Apply this plan")
	cb1, err := h.slack.ClickButton(billing, plan.TS, id1, bob)
	if err != nil {
		t.Fatal(err)
	}
	cb2, err := h.slack.ClickButton(billing, plan.TS, id1, bob)
	if err != nil {
		t.Fatal(err)
	}
	h.serve(h.signer.Interaction(PathInteractions, cb1))
	h.serve(h.signer.Interaction(PathInteractions, cb2))
	w, err = h.store.GetWatch(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if w.Reconcile.State != request.ReconcileApplying || w.Reconcile.Confirmer == nil || w.Reconcile.Confirmer.ID != bob.ID {
		t.Errorf("after the click: %+v", w.Reconcile)
	}
	if jobs := h.jobsOf(pipeline.JobReconcileApply); len(jobs) != 1 {
		t.Errorf("%d apply jobs queued, want 1", len(jobs))
	}
	confirmed, _ := h.slack.Message(billing, plan.TS)
	mustContain(t, "the confirmed plan", confirmed.Text, "Confirmed by <@UBOB>: applying…")
	mustContain(t, "the confirmed plan's blocks", blocksText(confirmed), "Confirmed by <@UBOB>: applying…", planned.Summary)
	if labels := h.slack.ButtonLabels(billing, plan.TS); len(labels) != 0 {
		t.Errorf("the confirmed plan still has buttons %v", labels)
	}

	// A stale button (a reconcile that is not the one awaiting): the
	// pipeline's refusal, to the clicker alone.
	stale := plannedReconcile("rcstale0000000000000")
	h.deliver(rec.ID(), request.Notice{Kind: request.NoticeReconcilePlan, Reconcile: &stale, Text: "Reconciling prod/billing/ledger (stale)."})
	h.clickLabel(billing, h.lastMessage(billing).TS, "Apply this plan", alice)
	mustContain(t, "the stale click", lastEphemeral(t, h, billing).Text, "I cannot apply this plan to `prod/billing/ledger`", "no reconcile rcstale0000000000000 awaits confirmation")
	if jobs := h.jobsOf(pipeline.JobReconcileApply); len(jobs) != 0 {
		t.Errorf("a stale click queued %d apply jobs", len(jobs))
	}
	for _, c := range h.slack.Calls() {
		if !c.OK() {
			t.Errorf("Slack refused %s: %d %s", c.Method, c.Status, c.Error)
		}
	}
	h.noSecrets()
}

// TestDriftCommand: /pg drift says there is none, then lists a drifted
// database with its summary, since when and its resources.
func TestDriftCommand(t *testing.T) {
	h := newHarness(t)
	rec := h.readyIn(billing, "prod", "billing", "ledger", alice)
	h.readyIn(general, "dev", "search", "index", bob)

	h.command(alice, general, "drift")
	mustContain(t, "no drift", h.lastResponse(), "No drift")

	detected := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)
	h.writeWatch(keyOf(rec.Request), rec.ID(), func(w *store.Watch) {
		w.Drift = &request.Drift{Detected: detected, Checked: detected.Add(time.Hour), Commit: "0123456789",
			Summary: "Plan: 0 to add, 1 to change, 0 to destroy.", Resources: []string{"update module.database.kubectl_manifest.cluster"}, Fingerprint: "f1"}
	})
	h.command(alice, general, "drift")
	mustContain(t, "the drift list", h.lastResponse(), "*Drifted databases*", "`prod/billing/ledger` since 2026-03-01 08:30 UTC",
		"Plan: 0 to add, 1 to change, 0 to destroy.", "update module.database.kubectl_manifest.cluster")
	if strings.Contains(h.lastResponse(), "dev/search/index") {
		t.Error("a database without drift is listed")
	}
	h.command(alice, general, "drift env dev")
	mustContain(t, "no drift in dev", h.lastResponse(), "No drift: every watched database in dev matches its reviewed code.")
	mustContain(t, "drift mine", ackText(t, h.command(alice, general, "drift mine")), "Usage: `/pg drift")
}

// TestDriftPages: more drifted databases than a page are paged with a
// cursor, as /pg list is.
func TestDriftPages(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for i := 0; i < listPageSize+3; i++ {
		key := store.DatabaseKey{Environment: "dev", Team: "billing", Name: fmt.Sprintf("db%02d", i)}
		if _, err := h.store.UpdateWatch(ctx, key, func(w *store.Watch) (bool, []store.NewJob, error) {
			w.RequestID = "r" + key.Name
			w.Drift = &request.Drift{Summary: "Plan: 1 to change.", Resources: []string{"update x"}, Fingerprint: key.Name}
			return true, nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	h.command(alice, general, "drift")
	first := h.slack.CallsTo("response_url")
	call := first[len(first)-1]
	mustContain(t, "page 1", call.Args.Get("text"), "*Drifted databases* · 1–25", "dev/billing/db24")
	cb, err := h.slack.ClickInResponse(call, general, actionDriftNext, alice)
	if err != nil {
		t.Fatal(err)
	}
	h.serve(h.signer.Interaction(PathInteractions, cb))
	mustContain(t, "page 2", h.lastResponse(), "26–28 of 28", "dev/billing/db25", "dev/billing/db27")
	if strings.Contains(h.lastResponse(), "db24") {
		t.Error("page 2 repeats page 1")
	}
}

// TestStatusShowsHealth: the status card says a ready database is not
// watched yet, then shows its health, drift and open reconcile.
func TestStatusShowsHealth(t *testing.T) {
	h := newHarness(t)
	rec := h.readyIn(billing, "prod", "billing", "ledger", alice)
	h.command(alice, billing, "status ledger")
	mustContain(t, "not watched", h.lastResponse(), "*Health*: not watched yet")

	since := time.Date(2026, 3, 2, 7, 15, 0, 0, time.UTC)
	h.writeWatch(keyOf(rec.Request), rec.ID(), func(w *store.Watch) {
		w.Health = &request.Health{Found: true, Phase: "Failing over", Ready: false, ReadyReason: "ClusterIsNotReady", Instances: 3, ReadyInstances: 2, Primary: "ledger-2", Since: since}
		w.Drift = &request.Drift{Detected: since, Checked: since, Summary: "Plan: 0 to add, 1 to change, 0 to destroy.", Resources: []string{"update module.database.kubectl_manifest.cluster"}}
		r := plannedReconcile("rc9")
		r.Requested = since
		w.Reconcile = &r
	})
	h.command(alice, billing, "status ledger")
	mustContain(t, "the status card", h.lastResponse(),
		`*Health*: unhealthy · phase "Failing over" · 2/3 instances ready · not Ready: ClusterIsNotReady · primary ledger-2 · since 2026-03-02 07:15 UTC`,
		"*Drift* since 2026-03-02 07:15 UTC", "Plan: 0 to add, 1 to change, 0 to destroy.", "• `update module.database.kubectl_manifest.cluster`",
		"`/pg reconcile ledger env=prod team=billing`", "*Reconcile* rc9: planned, asked by <@UALICE>", "Apply this plan")

	h.writeWatch(keyOf(rec.Request), rec.ID(), func(w *store.Watch) {
		w.Health = &request.Health{Found: true, Phase: request.HealthyPhase, Ready: true, Instances: 3, ReadyInstances: 3, Primary: "ledger-1", Since: since}
		w.Drift, w.Reconcile = nil, nil
	})
	h.command(alice, billing, "status ledger")
	got := h.lastResponse()
	mustContain(t, "a healthy card", got, "*Health*: healthy", "3/3 instances ready", "primary ledger-1")
	if strings.Contains(got, "*Drift*") || strings.Contains(got, "*Reconcile*") {
		t.Errorf("a card without drift or reconcile mentions them:\n%s", got)
	}
}

// TestDayTwoHelp: the help and the app manifest's usage hint name the new
// subcommands.
func TestDayTwoHelp(t *testing.T) {
	h := newHarness(t)
	mustContain(t, "the help", ackText(t, h.command(alice, general, "help")), "`/pg drift", "`/pg reconcile <name>")
	b, err := os.ReadFile(filepath.Join("..", "deploy", "slack-app-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "the manifest", string(b), "| drift [team <t>] [env <e>] |", "| reconcile <name> |")
}
