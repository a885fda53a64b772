package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// command handles a slash command and returns its acknowledgement: an
// ephemeral reply, or nil for an empty 200. It answers within Slack's 3 s:
// anything that calls Slack or reads the store runs afterwards and answers
// on the response_url; a modal is opened here, with the trigger_id, right
// after the command is claimed. A reply leaves through send, as every
// message does.
func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) any {
	ack := b.answerCommand(ctx, cmd)
	if r, ok := ack.(reply); ok {
		m := b.send(message{Text: r.Text, Blocks: r.Blocks})
		r.Text, r.Blocks = m.Text, m.Blocks
		return r
	}
	return ack
}

func (b *Bot) answerCommand(ctx context.Context, cmd slack.SlashCommand) any {
	fields := strings.Fields(cmd.Text)
	if len(fields) == 0 {
		return ephemeralReply(helpMessage())
	}
	sub, rest := strings.ToLower(fields[0]), fields[1:]
	switch sub {
	case "help":
		return ephemeralReply(helpMessage())
	case "sizes":
		return ephemeralReply(sizesMessage(b.policy))
	}
	// The other commands act (a card, a form, a change, an answer on the
	// response_url): once per trigger_id. A replay is answered with an
	// empty 200: Slack does not resend commands, so a second delivery is a
	// replay whose sender need not learn anything, and the user already
	// has the first answer.
	switch first, err := b.claim(ctx, commandClaim(cmd)); {
	case err != nil:
		b.log.Error().Err(err).Str("trigger_id", cmd.TriggerID).Msg("slack command not claimed: not acted on")
		return ephemeralReply(text("I could not record this command, so I did not act on it (the error is logged). Try again in a minute."))
	case !first:
		return nil
	}
	switch sub {
	case "new":
		return b.commandNew(ctx, cmd, rest)
	case "list":
		return b.commandList(cmd, rest)
	case "status":
		return b.commandStatus(cmd, rest)
	case "resize", "retry":
		return b.commandChange(cmd, sub, rest)
	case "backups":
		return b.commandBackups(cmd, rest)
	case "backup":
		return b.commandBackup(cmd, rest)
	case "restore":
		return b.commandRestore(cmd, rest)
	case "delete":
		return b.commandDelete(ctx, cmd, rest)
	case "reconcile":
		return b.commandReconcile(cmd, rest)
	case "drift":
		return b.commandDrift(cmd, rest)
	}
	return ephemeralReply(text(fmt.Sprintf("I don't know `%s %s`.\n%s", cmd.Command, sub, usage)))
}

func requester(cmd slack.SlashCommand) request.Requester {
	return request.Requester{ID: cmd.UserID, Name: cmd.UserName}
}

func slackOrigin(team, channel, thread string) request.Origin {
	return request.Origin{Kind: request.OriginSlack, SlackTeam: team, SlackChannel: channel, SlackThread: thread}
}

// commandKey makes a command's pipeline call idempotent: Slack mints one
// trigger_id per invocation.
func commandKey(cmd slack.SlashCommand) store.Idempotency {
	if cmd.TriggerID == "" {
		return store.Idempotency{}
	}
	return store.Idempotency{Scope: "slack", Key: "command/" + cmd.TriggerID}
}

// commandNew opens the form (no arguments), or reads a one-line request,
// checks it against the policy and posts a confirmation card.
func (b *Bot) commandNew(ctx context.Context, cmd slack.SlashCommand, rest []string) any {
	if len(rest) == 0 {
		draft := request.DatabaseRequest{Spec: request.Spec{Team: b.cfg.TeamOfChannel(cmd.ChannelID)}}
		v := b.requestView(draft, viewMeta{Channel: cmd.ChannelID})
		if err := b.openView(ctx, cmd.TriggerID, v); err != nil {
			b.log.Warn().Err(err).Msg("request form not opened")
			return ephemeralReply(text("I could not open the request form (" + err.Error() + "). Try again, or ask in one line: " + newUsage))
		}
		return nil
	}
	a := parseArgs(rest)
	r := request.DatabaseRequest{Requester: requester(cmd), Origin: slackOrigin(cmd.TeamID, cmd.ChannelID, "")}
	var pr request.Problems
	if len(a.words) > 0 {
		r.Name = strings.ToLower(a.words[0])
	}
	if len(a.words) > 1 {
		pr = append(pr, request.Problem{Field: "text", Message: fmt.Sprintf("I did not understand %q: give settings as key=value", strings.Join(a.words[1:], " "))})
	}
	pr = append(pr, a.apply(b.policy, &r)...)
	if r.Team == "" {
		r.Team = b.cfg.TeamOfChannel(cmd.ChannelID)
	}
	if len(pr) == 0 {
		if _, err := b.policy.Resolve(r); err != nil {
			if !errors.As(err, &pr) {
				pr = request.Problems{{Field: "request", Message: err.Error()}}
			}
		}
	}
	if len(pr) > 0 {
		if slices.ContainsFunc(pr, func(p request.Problem) bool { return p.Field == "team" }) && r.Team == "" {
			pr = append(pr, request.Problem{Field: "team", Message: "this channel has no default team: add team=<your team>"})
		}
		return ephemeralReply(problemsMessage("I cannot ask for that database:", pr, newUsage))
	}
	return b.answerLater("new draft", func(ctx context.Context) error { return b.startDraft(ctx, cmd, r) })
}

// startDraft checks access and posts the confirmation card of a one-line
// request, remembering the draft as a conversation.
func (b *Bot) startDraft(ctx context.Context, cmd slack.SlashCommand, r request.DatabaseRequest) error {
	resolved, err := b.policy.Resolve(r)
	if err != nil {
		return fmt.Errorf("resolve draft: %w", err)
	}
	if msg, err := b.refusal(ctx, resolved.Environment, cmd.ChannelID, cmd.UserID); msg != "" || err != nil {
		if err != nil {
			return errors.Join(err, b.respond(ctx, cmd.ResponseURL, text(msg)))
		}
		return b.respond(ctx, cmd.ResponseURL, text(msg))
	}
	if msg := b.exists(ctx, resolved.Spec); msg != "" {
		return b.respond(ctx, cmd.ResponseURL, text(msg))
	}
	c := b.newConversation(kindDraft, cmd.UserID, cmd.ChannelID, "")
	c.Draft = r
	ts, err := b.post(ctx, cmd.ChannelID, "", draftCard(b.policy, c.ID, cmd.UserID, resolved))
	if err != nil {
		return errors.Join(fmt.Errorf("post draft card: %w", err), b.respond(ctx, cmd.ResponseURL, text(notPostedText(err))))
	}
	c.CardTS = ts
	return b.saveConversation(ctx, c)
}

// refusal applies the access rules; an error is turned into a sentence too.
func (b *Bot) refusal(ctx context.Context, env, channel, user string) (string, error) {
	msg, err := b.access.refusal(ctx, env, channel, user)
	if err != nil {
		return "I could not check who may ask for " + env + " databases (Slack did not answer); try again in a minute.", err
	}
	return msg, nil
}

// exists says when a database already exists (the pipeline refuses it too;
// saying so before the card saves a click).
func (b *Bot) exists(ctx context.Context, s request.Spec) string {
	recs, err := b.store.ListRequests(ctx, store.Filter{Environment: s.Environment, Team: s.Team, Name: s.Name})
	db := store.Summarize(recs)
	if err != nil || !db.Exists() {
		return ""
	}
	return fmt.Sprintf("`%s` already exists (%s). Change it with `/pg resize`, `/pg backups` or `/pg delete`.", s.Key(), db.Latest.State)
}

func notPostedText(err error) string {
	switch slackError(err) {
	case "not_in_channel", "channel_not_found":
		return "I am not in this channel: invite me with `/invite @clustro`, or write to me directly."
	case "is_archived":
		return "This channel is archived: ask in another one."
	}
	return "Slack did not take my message; try again in a minute."
}

// latestPerDatabase keeps the newest record of each database (records come
// newest first), in that order.
func latestPerDatabase(recs []store.Record) []store.Record {
	seen := map[string]bool{}
	var out []store.Record
	for _, rec := range recs {
		k := rec.Request.Key()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, rec)
	}
	return out
}

// target names a database in a command: its name and, when several
// databases share it, env= and team=.
type target struct{ name, env, team string }

func parseTarget(a args) (target, string) {
	if len(a.words) == 0 {
		return target{}, "name the database"
	}
	t := target{name: strings.ToLower(a.words[0])}
	if v, ok := a.vals["env"]; ok {
		t.env = strings.ToLower(v)
	}
	if v, ok := a.vals["environment"]; ok {
		t.env = strings.ToLower(v)
	}
	if v, ok := a.vals["team"]; ok {
		t.team = strings.ToLower(v)
	}
	return t, ""
}

// findDatabase returns the latest record of the database a command names.
// When none or several match, msg says so (and how to say which).
func (b *Bot) findDatabase(ctx context.Context, sub string, t target) (rec store.Record, msg string, err error) {
	t.env = normalizeEnv(b.policy, t.env)
	release, err := b.reading(ctx)
	if err != nil {
		return store.Record{}, "", fmt.Errorf("find database %s: %w", t.name, err)
	}
	recs, err := b.store.ListRequests(ctx, store.Filter{Name: t.name, Environment: t.env, Team: t.team})
	release()
	if err != nil {
		return store.Record{}, "", fmt.Errorf("find database %s: %w", t.name, err)
	}
	latest := latestPerDatabase(recs)
	if len(latest) > 1 {
		live := slices.DeleteFunc(slices.Clone(latest), func(r store.Record) bool { return r.State == request.Deleted })
		if len(live) > 0 {
			latest = live
		}
	}
	switch len(latest) {
	case 0:
		return store.Record{}, fmt.Sprintf("There is no database called `%s`%s. `/pg list` shows them.", t.name, where(t)), nil
	case 1:
		return latest[0], "", nil
	}
	keys := make([]string, len(latest))
	for i, r := range latest {
		keys[i] = "`" + r.Request.Key() + "`"
	}
	first := latest[0].Request
	return store.Record{}, fmt.Sprintf("`%s` exists in several places: %s. Say which, like `/pg %s %s env=%s team=%s`.",
		t.name, strings.Join(keys, ", "), sub, t.name, first.Environment, first.Team), nil
}

// cannotExist says when a command names a database that no request could
// have made (a name or team longer than the policy allows, an unknown
// environment), before it is quoted in a form.
func (b *Bot) cannotExist(t target) string {
	if t.env != "" {
		if !b.policy.HasEnvironment(normalizeEnv(b.policy, t.env)) {
			return fmt.Sprintf("`%s` is not an environment; allowed: %s.", clip(t.env, 40), strings.Join(b.policy.EnvironmentNames(), ", "))
		}
	}
	if len(t.name) > request.MaxNameLength() || len(t.team) > request.MaxTeamLength {
		return fmt.Sprintf("There is no database called `%s`%s. `/pg list` shows them.", clip(t.name, 60), where(target{team: clip(t.team, 40)}))
	}
	return ""
}

func where(t target) string {
	var parts []string
	if t.env != "" {
		parts = append(parts, "in "+t.env)
	}
	if t.team != "" {
		parts = append(parts, "of team "+t.team)
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

// watchOf reads the watch record of a request's database.
func (b *Bot) watchOf(ctx context.Context, rec store.Record) (store.Watch, error) {
	release, err := b.reading(ctx)
	if err != nil {
		return store.Watch{}, fmt.Errorf("read the watch of %s: %w", rec.Request.Key(), err)
	}
	defer release()
	w, err := b.store.GetWatch(ctx, keyOf(rec.Request))
	if err != nil {
		return store.Watch{}, fmt.Errorf("read the watch of %s: %w", rec.Request.Key(), err)
	}
	return w, nil
}

// commandStatus shows where a database's latest request stands, and its
// health, drift and open reconcile.
func (b *Bot) commandStatus(cmd slack.SlashCommand, rest []string) any {
	t, problem := parseTarget(parseArgs(rest))
	if problem != "" {
		return ephemeralReply(text("Usage: `/pg status <name> [env=<env>] [team=<team>]`."))
	}
	return b.answerLater("status", func(ctx context.Context) error {
		rec, msg, err := b.findDatabase(ctx, "status", t)
		if err != nil {
			return errors.Join(err, b.respond(ctx, cmd.ResponseURL, text("I could not read the requests; try again in a minute.")))
		}
		if msg != "" {
			return b.respond(ctx, cmd.ResponseURL, text(msg))
		}
		w, werr := b.watchOf(ctx, rec)
		if werr != nil && !errors.Is(werr, store.ErrNotFound) {
			b.log.Warn().Err(werr).Str("database", rec.Request.Key()).Msg("watch record not read for the status card")
		}
		return b.respond(ctx, cmd.ResponseURL, statusMessage(b.policy, rec, watchLines(rec, w, werr)))
	})
}

// change is a resize, backups or retry command, read and checked.
type change struct {
	sub       string
	target    target
	size      request.Size
	instances int
	storage   string
	schedule  request.Schedule
	hour      *int
	retention string
}

func (b *Bot) parseChange(sub string, rest []string) (change, string) {
	a := parseArgs(rest)
	t, problem := parseTarget(a)
	c := change{sub: sub, target: t}
	usageOf := map[string]string{
		"resize":  "`/pg resize <name> size=L [instances=3] [storage=100Gi] [env=<env>] [team=<team>]`",
		"backups": "`/pg backups <name> none|hourly|daily|weekly [hour=3] [retention=14d] [env=<env>] [team=<team>]`",
		"retry":   "`/pg retry <name> [env=<env>] [team=<team>]`",
	}[sub]
	if problem != "" {
		return c, "Usage: " + usageOf
	}
	allowed := map[string][]string{
		"resize":  {"size", "instances", "storage"},
		"backups": {"backups", "hour", "retention"},
		"retry":   nil,
	}[sub]
	var r request.DatabaseRequest
	for _, k := range a.keys {
		if k == "env" || k == "environment" || k == "team" {
			continue
		}
		if !slices.Contains(allowed, k) {
			return c, fmt.Sprintf("`%s` takes no `%s=`. Usage: %s", sub, k, usageOf)
		}
		if msg := setField(b.policy, &r, settings[k], a.vals[k]); msg != "" {
			return c, msg + ". Usage: " + usageOf
		}
	}
	if sub == "backups" && len(a.words) > 1 {
		if msg := setField(b.policy, &r, "backups.schedule", a.words[1]); msg != "" {
			return c, msg
		}
	}
	c.size, c.instances, c.storage = r.Size, r.Instances, r.Storage
	c.schedule, c.hour, c.retention = r.Backups.Schedule, r.Backups.Hour, r.Backups.Retention
	switch {
	case sub == "resize" && c.size == "" && c.instances == 0 && c.storage == "":
		return c, "Say what to change. Usage: " + usageOf
	case sub == "backups" && c.schedule == "":
		return c, "Say how often: none, hourly, daily or weekly. Usage: " + usageOf
	case sub == "backups" && !slices.Contains(request.Schedules(), c.schedule):
		return c, fmt.Sprintf("%q is not a schedule; allowed: none, hourly, daily, weekly.", c.schedule)
	}
	return c, ""
}

// commandChange asks for a resize or a backup change, or retries a failed
// request, through the pipeline.
func (b *Bot) commandChange(cmd slack.SlashCommand, sub string, rest []string) any {
	c, msg := b.parseChange(sub, rest)
	if msg != "" {
		return ephemeralReply(text(msg))
	}
	return b.answerLater(sub, func(ctx context.Context) error {
		m, err := b.doChange(ctx, cmd, c)
		return errors.Join(err, b.respond(ctx, cmd.ResponseURL, m))
	})
}

func (b *Bot) doChange(ctx context.Context, cmd slack.SlashCommand, c change) (message, error) {
	pipe, err := b.pipe()
	if err != nil {
		return text("The request pipeline is not running here; try again later."), err
	}
	rec, msg, err := b.findDatabase(ctx, c.sub, c.target)
	if err != nil {
		return text("I could not read the requests; try again in a minute."), err
	}
	if msg != "" {
		return text(msg), nil
	}
	spec := rec.Request.Spec
	if msg, err := b.refusal(ctx, spec.Environment, cmd.ChannelID, cmd.UserID); msg != "" {
		return text(msg), err
	}
	if c.sub == "retry" {
		if rec.State != request.Failed {
			return text(fmt.Sprintf("`%s` is %s, not failed: there is nothing to retry.", spec.Key(), rec.State)), nil
		}
		if _, err := pipe.Retry(ctx, rec.ID(), requester(cmd), request.OriginSlack); err != nil {
			var re *request.RetryError
			if errors.As(err, &re) {
				return text(re.Error()), nil
			}
			return text("I could not retry it: the service had an error (logged). Try again in a minute."), err
		}
		return text(fmt.Sprintf("Retrying `%s` (request %s). Progress follows in its thread.", spec.Key(), rec.ID())), nil
	}
	ch, what := changeOf(rec, c)
	ch.Requester, ch.Origin = requester(cmd), slackOrigin(cmd.TeamID, cmd.ChannelID, "")
	out, _, err := pipe.Change(ctx, ch, commandKey(cmd))
	var pr request.Problems
	if errors.As(err, &pr) {
		return problemsMessage(fmt.Sprintf("I cannot %s `%s`:", c.sub, spec.Key()), pr, ""), nil
	}
	if errors.Is(err, request.ErrNoChange) {
		return text(fmt.Sprintf("Nothing changes: `%s` already has these settings.", spec.Key())), nil
	}
	if err != nil {
		return text("I could not ask for that change: the service had an error (logged). Try again in a minute."), err
	}
	return text(fmt.Sprintf("Asked: %s of `%s` (request %s). A pull request opens now; progress follows in this channel.", what, spec.Key(), out.ID())), nil
}

// changeOf turns a change command into the domain's change of the
// database rec describes (the policy applies it), and says what it asks.
func changeOf(rec store.Record, c change) (request.Change, string) {
	old := rec.Request.Spec
	ch := request.Change{Environment: old.Environment, Team: old.Team, Name: old.Name}
	if c.sub == "resize" {
		var parts []string
		if c.size != "" {
			parts = append(parts, fmt.Sprintf("size %s → %s", old.Size, c.size))
		}
		if c.instances != 0 {
			parts = append(parts, fmt.Sprintf("instances %d → %d", old.Instances, c.instances))
		}
		if c.storage != "" {
			parts = append(parts, fmt.Sprintf("storage → %s", c.storage))
		}
		ch.Kind, ch.Size, ch.Instances, ch.Storage = request.Resize, c.size, c.instances, c.storage
		return ch, "resize (" + strings.Join(parts, ", ") + ")"
	}
	ch.Kind = request.Backup
	ch.Backups = &request.BackupsChange{Schedule: c.schedule, Hour: c.hour, Retention: c.retention}
	return ch, fmt.Sprintf("backups %s → %s", backupsText(old.Backups), c.schedule)
}

// commandDelete opens the confirmation form: the name must be typed.
func (b *Bot) commandDelete(ctx context.Context, cmd slack.SlashCommand, rest []string) any {
	t, problem := parseTarget(parseArgs(rest))
	if problem != "" {
		return ephemeralReply(text("Usage: `/pg delete <name> [env=<env>] [team=<team>]`."))
	}
	if msg := b.cannotExist(t); msg != "" {
		return ephemeralReply(text(msg))
	}
	v := deleteView(viewMeta{Channel: cmd.ChannelID, Name: t.name, Env: t.env, Team: t.team})
	if err := b.openView(ctx, cmd.TriggerID, v); err != nil {
		b.log.Warn().Err(err).Msg("delete form not opened")
		return ephemeralReply(text("I could not open the confirmation form (" + err.Error() + "); try again."))
	}
	return nil
}
