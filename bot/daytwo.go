package bot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Day two in Slack: the health and drift notices of a ready database are
// posted in its thread (Notify, stepMessage); /pg reconcile asks the
// pipeline to plan the reviewed code again, the plan comes back in the
// thread with an "Apply this plan" button, and a click by someone allowed
// (see accessChecker.reconcileRefusal) confirms it. /pg drift lists the
// drifted databases; /pg status shows a database's health, drift and open
// reconcile. What is healthy, what is a drift and when a plan may be
// applied is decided in request/ and pipeline/; the bot only shows it.

// actionReconcileApply is the action id of the "Apply this plan" button;
// its value is a reconcileRef, encoded.
const actionReconcileApply = "reconcile.apply"

// Action ids of /pg drift's page buttons; their value is a listQuery.
const (
	actionDriftNext = "drift.next"
	actionDriftPrev = "drift.prev"
)

const (
	reconcileUsage = "Usage: `/pg reconcile <name> [env=<env>] [team=<team>]`."
	driftUsage     = "Usage: `/pg drift [team <team>] [env <env>]`."
)

// reconcileRef is what the Apply button carries: the reconcile and its
// database.
type reconcileRef struct {
	ID  string
	Key store.DatabaseKey
}

func (r reconcileRef) encode() string {
	return url.Values{"id": {r.ID}, "db": {keyText(r.Key)}}.Encode()
}

func decodeReconcileRef(s string) (reconcileRef, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return reconcileRef{}, fmt.Errorf("reconcile button value %q: %w", s, err)
	}
	r := reconcileRef{ID: v.Get("id"), Key: databaseKey(v.Get("db"))}
	if r.ID == "" || r.Key.Environment == "" || r.Key.Team == "" || r.Key.Name == "" {
		return reconcileRef{}, fmt.Errorf("reconcile button value %q: no reconcile id or database", s)
	}
	return r, nil
}

// keyOf is the store key of a request's database.
func keyOf(r request.DatabaseRequest) store.DatabaseKey {
	return store.DatabaseKey{Environment: r.Environment, Team: r.Team, Name: r.Name}
}

// reconcileRefusal applies the reconcile access rule; an error is turned
// into a sentence too.
func (b *Bot) reconcileRefusal(ctx context.Context, env, team, channel, user string) (string, error) {
	return b.access.reconcileRefusal(ctx, env, team, channel, user)
}

// commandReconcile asks the pipeline to plan a reconcile of a database;
// the plan is posted in the database's thread, to be confirmed there.
func (b *Bot) commandReconcile(cmd slack.SlashCommand, rest []string) any {
	a := parseArgs(rest)
	t, problem := parseTarget(a)
	if problem != "" || len(a.words) > 1 {
		return ephemeralReply(text(reconcileUsage))
	}
	for _, k := range a.keys {
		if k != "env" && k != "environment" && k != "team" {
			return ephemeralReply(text(fmt.Sprintf("`reconcile` takes no `%s=`. %s", k, reconcileUsage)))
		}
	}
	if msg := b.cannotExist(t); msg != "" {
		return ephemeralReply(text(msg))
	}
	return b.answerLater("reconcile", func(ctx context.Context) error {
		m, err := b.doReconcile(ctx, cmd, t)
		return errors.Join(err, b.respond(ctx, cmd.ResponseURL, m))
	})
}

func (b *Bot) doReconcile(ctx context.Context, cmd slack.SlashCommand, t target) (message, error) {
	pipe, err := b.pipe()
	if err != nil {
		return text("The request pipeline is not running here; try again later."), err
	}
	rec, msg, err := b.findDatabase(ctx, "reconcile", t)
	if err != nil {
		return text("I could not read the requests; try again in a minute."), err
	}
	if msg != "" {
		return text(msg), nil
	}
	spec := rec.Request.Spec
	if msg, err := b.reconcileRefusal(ctx, spec.Environment, spec.Team, cmd.ChannelID, cmd.UserID); msg != "" {
		return text(msg), err
	}
	r, err := pipe.Reconcile(ctx, keyOf(rec.Request), requester(cmd), slackOrigin(cmd.TeamID, cmd.ChannelID, ""), "")
	var pr request.Problems
	if errors.As(err, &pr) {
		return problemsMessage(fmt.Sprintf("I cannot reconcile `%s`:", spec.Key()), pr, ""), nil
	}
	if err != nil {
		return text("I could not ask for a reconcile: the service had an error (logged). Try again in a minute."), fmt.Errorf("reconcile %s: %w", spec.Key(), err)
	}
	return text(reconcileAnswer(spec.Key(), r)), nil
}

// reconcileAnswer tells who asked where their reconcile stands.
func reconcileAnswer(key string, r request.Reconcile) string {
	switch r.State {
	case request.ReconcilePlanning:
		return fmt.Sprintf("Planning a reconcile of `%s` (reconcile %s): the plan will be posted in the database's thread for confirmation. Nothing is applied until someone allowed presses *Apply this plan* there.", key, r.ID)
	case request.ReconcilePlanned:
		return fmt.Sprintf("A reconcile of `%s` is already planned (reconcile %s, %s): confirm it with *Apply this plan* in the database's thread.", key, r.ID, r.Summary)
	case request.ReconcileApplying:
		return fmt.Sprintf("A reconcile of `%s` is already being applied (reconcile %s); the outcome follows in the database's thread.", key, r.ID)
	}
	return fmt.Sprintf("Reconcile %s of `%s` is %s.", r.ID, key, r.State)
}

// onReconcileApply confirms a planned reconcile for the user who clicked,
// if they may reconcile the database, and replaces the button with who
// confirmed it. A second click finds the reconcile applying and changes
// nothing.
func (b *Bot) onReconcileApply(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) error {
	channel, thread := cb.Channel.ID, cb.Container.ThreadTs
	note := func(m message) error { return b.ephemeral(ctx, channel, thread, cb.User.ID, m) }
	ref, err := decodeReconcileRef(act.Value)
	if err != nil {
		return errors.Join(err, note(text("This button does not name a reconcile; ask again with `/pg reconcile`.")))
	}
	pipe, err := b.pipe()
	if err != nil {
		return errors.Join(err, note(text("The request pipeline is not running here; press *Apply this plan* again later.")))
	}
	if msg, err := b.reconcileRefusal(ctx, ref.Key.Environment, ref.Key.Team, channel, cb.User.ID); msg != "" {
		return errors.Join(err, note(text(msg)))
	}
	who := request.Requester{ID: cb.User.ID, Name: cb.User.Name}
	r, err := pipe.Reconcile(ctx, ref.Key, who, slackOrigin(cb.Team.ID, channel, thread), ref.ID)
	var pr request.Problems
	if errors.As(err, &pr) {
		return note(problemsMessage(fmt.Sprintf("I cannot apply this plan to `%s`:", keyText(ref.Key)), pr, ""))
	}
	if err != nil {
		return errors.Join(fmt.Errorf("confirm reconcile %s of %s: %w", ref.ID, keyText(ref.Key), err),
			note(text("I could not confirm it: the service had an error (logged). Press *Apply this plan* again in a minute.")))
	}
	if cb.Container.MessageTs == "" {
		return nil
	}
	if err := b.update(ctx, channel, cb.Container.MessageTs, reconcileConfirmed(ref.Key, r, cb.User.ID)); err != nil {
		return fmt.Errorf("replace the plan of reconcile %s: %w", r.ID, err)
	}
	return nil
}

// maxResources bounds the resources a message lists.
const maxResources = 25

// resourceLines lists a plan's resource changes, one a line, the first
// maxResources of them.
func resourceLines(resources []string) string {
	var b strings.Builder
	for i, r := range resources {
		if i == maxResources {
			fmt.Fprintf(&b, "\n… and %d more", len(resources)-maxResources)
			break
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "• `%s`", clip(r, 150))
	}
	return b.String()
}

// reconcilePlanMessage is the thread reply with a reconcile's plan and the
// button that confirms it.
func reconcilePlanMessage(rec store.Record, n request.Notice) message {
	r := n.Reconcile
	head := ":clipboard: " + clip(n.Text, maxDetail)
	body := fmt.Sprintf("*Reconcile %s* · *Plan*: %s", r.ID, clip(r.Summary, 300))
	if len(r.Resources) > 0 {
		body += "\n" + resourceLines(r.Resources)
	}
	apply := button(actionReconcileApply, reconcileRef{ID: r.ID, Key: keyOf(rec.Request)}.encode(), "Apply this plan")
	apply.Style = slack.StylePrimary
	blocks := []slack.Block{section(head)}
	blocks = append(blocks, sections(body)...)
	blocks = append(blocks,
		slack.NewActionBlock("reconcile."+r.ID, apply),
		contextText("Nothing is applied unless someone allowed to reconcile this database presses *Apply this plan*. It plans again first and applies only if the plan is still this one."))
	return message{Text: head, Blocks: blocks}
}

// reconcileConfirmed replaces the plan's message once it is confirmed.
func reconcileConfirmed(key store.DatabaseKey, r request.Reconcile, clicked string) message {
	by := clicked
	if r.Confirmer != nil && r.Confirmer.ID != "" {
		by = r.Confirmer.ID
	}
	outcome := fmt.Sprintf("Confirmed by <@%s>: applying…", by)
	switch r.State {
	case request.ReconcileDone:
		outcome = fmt.Sprintf("Confirmed by <@%s>: applied.", by)
	case request.ReconcileFailed:
		outcome = fmt.Sprintf("Confirmed by <@%s>: it did not apply (see below).", by)
	}
	body := fmt.Sprintf(":clipboard: *Reconcile %s* of `%s` · *Plan*: %s", r.ID, keyText(key), clip(r.Summary, 300))
	if len(r.Resources) > 0 {
		body += "\n" + resourceLines(r.Resources)
	}
	return message{Text: outcome, Blocks: append(sections(body), contextText(outcome))}
}

// when writes a time for people, in UTC to the minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// watchLines describe a database's health, drift and open reconcile, for
// its status card; err is GetWatch's (ErrNotFound: nothing was recorded).
// A database that is not ready and has no record gets nothing.
func watchLines(rec store.Record, w store.Watch, err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		if rec.State != request.Ready {
			return ""
		}
		return "*Health*: not watched yet"
	case err != nil:
		return "*Health*: unknown (I could not read it; try again in a minute)"
	}
	var lines []string
	if h := w.Health; h == nil {
		lines = append(lines, "*Health*: not watched yet")
	} else if !h.Found {
		lines = append(lines, fmt.Sprintf("*Health*: gone: the Cluster object does not exist · since %s", when(h.Since)))
	} else {
		s := fmt.Sprintf("*Health*: %s · phase %q", h.State(), clip(h.Phase, 100))
		if h.Reason != "" {
			s += " (" + clip(h.Reason, 200) + ")"
		}
		s += fmt.Sprintf(" · %d/%d instances ready", h.ReadyInstances, h.Instances)
		if !h.Ready && h.ReadyReason != "" {
			s += " · not Ready: " + clip(h.ReadyReason, 200)
		}
		s += fmt.Sprintf(" · primary %s · since %s", orUnknown(h.Primary), when(h.Since))
		lines = append(lines, s)
	}
	if d := w.Drift; d != nil {
		s := fmt.Sprintf("*Drift* since %s (checked %s): %s", when(d.Detected), when(d.Checked), clip(d.Summary, 300))
		if len(d.Resources) > 0 {
			s += "\n" + resourceLines(d.Resources)
		}
		s += "\n`/pg reconcile " + rec.Request.Name + " env=" + rec.Request.Environment + " team=" + rec.Request.Team + "` plans the way back."
		lines = append(lines, s)
	}
	if r := w.Reconcile; r.Open() {
		s := fmt.Sprintf("*Reconcile* %s: %s, asked by <@%s> at %s", r.ID, r.State, r.Requester.ID, when(r.Requested))
		if r.Origin.Kind != request.OriginSlack {
			s = fmt.Sprintf("*Reconcile* %s: %s, asked by %s at %s", r.ID, r.State, who(r.Requester, r.Origin), when(r.Requested))
		}
		if r.State == request.ReconcilePlanned {
			s += fmt.Sprintf(" · plan: %s; confirm it with *Apply this plan* in the database's thread", clip(r.Summary, 300))
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// commandDrift lists the drifted databases on the response_url.
func (b *Bot) commandDrift(cmd slack.SlashCommand, rest []string) any {
	q, msg := parseListQuery(b.policy, rest)
	if msg != "" || q.Mine {
		return ephemeralReply(text(driftUsage))
	}
	return b.answerLater("drift", func(ctx context.Context) error {
		m, err := b.driftMessage(ctx, q)
		if err != nil {
			return errors.Join(err, b.respond(ctx, cmd.ResponseURL, text("I could not read the drift records; try again in a minute.")))
		}
		return b.respond(ctx, cmd.ResponseURL, m)
	})
}

// onDriftPage shows the page of /pg drift a button names, in place.
func (b *Bot) onDriftPage(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) error {
	q, err := decodeListQuery(act.Value)
	if err != nil {
		return err
	}
	m, err := b.driftMessage(ctx, q)
	if err != nil {
		return errors.Join(err, b.respond(ctx, cb.ResponseURL, text("I could not read the drift records; try again in a minute.")))
	}
	return b.replace(ctx, cb.ResponseURL, m)
}

// driftList is the kind of /pg drift's pages.
func driftList(q listQuery) listKind {
	title := "Drifted databases"
	if q.Team != "" {
		title += " of team " + q.Team
	}
	if q.Env != "" {
		title += " in " + q.Env
	}
	return listKind{title: title, empty: "No drift: every watched database" + strings.TrimPrefix(title, "Drifted databases") + " matches its reviewed code.",
		next: actionDriftNext, prev: actionDriftPrev, command: "drift"}
}

// driftMessage reads the page of drifted databases q names.
func (b *Bot) driftMessage(ctx context.Context, q listQuery) (message, error) {
	release, err := b.reading(ctx)
	if err != nil {
		return message{}, fmt.Errorf("list drift: %w", err)
	}
	defer release()
	f := store.WatchFilter{Environment: q.Env, Team: q.Team, Drifted: true}
	read := func(ctx context.Context, after store.DatabaseKey, limit int) ([]entry, error) {
		ws, err := b.store.ListWatches(ctx, f, after, limit)
		if err != nil {
			return nil, err
		}
		out := make([]entry, 0, len(ws))
		for _, w := range ws {
			out = append(out, entry{key: w.Key, line: driftLine(w)})
		}
		return out, nil
	}
	pg, err := readPage(ctx, q, read)
	if err != nil {
		return message{}, fmt.Errorf("list drift: %w", err)
	}
	if len(pg.entries) == 0 && (q.After != "" || q.Before != "") {
		q.After, q.Before, q.At = "", "", 0
		if pg, err = readPage(ctx, q, read); err != nil {
			return message{}, fmt.Errorf("list drift: %w", err)
		}
	}
	return pg.message(q, driftList(q)), nil
}

// maxDriftLine bounds one database's line in /pg drift, so that a page
// of them fits one message.
const maxDriftLine = 280

// driftLine is one drifted database in /pg drift.
func driftLine(w store.Watch) string {
	d := w.Drift
	if d == nil {
		return fmt.Sprintf("`%s`: no drift recorded", keyText(w.Key))
	}
	line := fmt.Sprintf(":mag: `%s` since %s: %s", keyText(w.Key), when(d.Detected), d.Summary)
	if len(d.Resources) > 0 {
		line += " · " + strings.Join(d.Resources, ", ")
	}
	return clip(line, maxDriftLine)
}
