package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Backups and restores in Slack. /pg backups <name> shows a database's
// base backups and recovery window, as the pipeline reads them from its
// cluster; /pg backup <name> takes a base backup now (progress in the
// database's thread); /pg restore makes a NEW database from the backups of
// another one of the same environment and team, in one line, question by
// question in a thread (restoreQuestions), or from the "Restore…" button of
// the backups card (a modal). A restore is a new database request: it goes
// through the pull request like any other, and never touches its source.
// What can be restored, and to when, is the pipeline's and request's
// decision; the bot only asks and shows.

// actionRestoreOpen is the action id of the backups card's "Restore…"
// button; its value is the source database's key (env/team/name).
const actionRestoreOpen = "restore.open"

// callbackRestore is the callback id of the restore modal.
const callbackRestore = "pg.restore"

// The block ids (and action ids) of the restore modal's inputs: named as
// request.Problems names the fields, so that viewErrors puts each problem
// on its input.
const (
	blockTargetTime = "restore.targetTime"
	blockNewName    = "name"
)

const (
	backupsUsage = "Usage: `/pg backups <name> [env=<env>] [team=<team>]` shows its backups; `/pg backups <name> none|hourly|daily|weekly [hour=3] [retention=14d]` changes them."
	backupUsage  = "Usage: `/pg backup <name> [env=<env>] [team=<team>]`."
	restoreUsage = "Usage: `/pg restore <name> [--at latest|2026-12-02T10:00:00Z] [--as <new name>] [env=<env>] [team=<team>]`, or `/pg restore <name>` alone to be asked in a thread."
	// timeExample is how a point in time is written.
	timeExample = "2026-12-02T10:00:00Z"
	// maxBackupLines bounds the base backups the card lists.
	maxBackupLines = 15
)

// onlyQualifiers reports whether a's settings are only env= and team=; it
// returns the first other key.
func onlyQualifiers(a args) (string, bool) {
	for _, k := range a.keys {
		if k != "env" && k != "environment" && k != "team" {
			return k, false
		}
	}
	return "", true
}

// commandBackups shows a database's backups, or, given a schedule or a
// backup setting, changes them (see commandChange).
func (b *Bot) commandBackups(cmd slack.SlashCommand, rest []string) any {
	a := parseArgs(rest)
	if _, only := onlyQualifiers(a); !only || len(a.words) > 1 {
		return b.commandChange(cmd, "backups", rest)
	}
	t, problem := parseTarget(a)
	if problem != "" {
		return ephemeralReply(text(backupsUsage))
	}
	if msg := b.cannotExist(t); msg != "" {
		return ephemeralReply(text(msg))
	}
	return b.answerLater("backups card", func(ctx context.Context) error {
		m, err := b.backupsAnswer(ctx, t)
		return errors.Join(err, b.respond(ctx, cmd.ResponseURL, m))
	})
}

// backupsAnswer reads a database's backups for the card.
func (b *Bot) backupsAnswer(ctx context.Context, t target) (message, error) {
	pipe, err := b.pipe()
	if err != nil {
		return text("The request pipeline is not running here; try again later."), err
	}
	rec, msg, err := b.findDatabase(ctx, "backups", t)
	if err != nil {
		return text("I could not read the requests; try again in a minute."), err
	}
	if msg != "" {
		return text(msg), nil
	}
	r := rec.Request
	set, err := pipe.Backups(ctx, keyOf(r))
	var pr request.Problems
	if errors.As(err, &pr) {
		return problemsMessage(fmt.Sprintf("I cannot show the backups of `%s`:", r.Key()), pr, ""), nil
	}
	if err != nil {
		return text(fmt.Sprintf("I could not read the backups of `%s` from its cluster (the error is logged); try again in a minute.", r.Key())),
			fmt.Errorf("backups of %s: %w", r.Key(), err)
	}
	return backupsMessage(r, set), nil
}

// utc writes a time as the cards show it: RFC 3339 in UTC, "—" when zero.
func utc(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

// windowText is a recovery window in one line.
func windowText(w request.RecoveryWindow) string {
	if w.First.IsZero() {
		return "no backup yet"
	}
	return fmt.Sprintf("from %s to %s", utc(w.First), utc(w.Last))
}

// backupsMessage is the backups card: the recovery window, WAL archiving,
// the last failed backup and the base backups newest first, with a
// "Restore…" button when there is something to restore from.
func backupsMessage(r request.DatabaseRequest, set request.BackupSet) message {
	w := set.Window
	var head strings.Builder
	fmt.Fprintf(&head, "*Backups of `%s`* (schedule: %s)\n", r.Key(), backupsText(r.Backups))
	fmt.Fprintf(&head, "*Recovery window*: %s\n", windowText(w))
	if w.Archiving {
		head.WriteString("*WAL archiving*: :large_green_circle: working\n")
	} else {
		fmt.Fprintf(&head, "*WAL archiving*: :rotating_light: failing (%s)\n", clip(cmp.Or(w.ArchivingReason, "no reason given"), 300))
	}
	if !w.LastBackup.IsZero() {
		fmt.Fprintf(&head, "*Last backup*: %s\n", utc(w.LastBackup))
	}
	if !w.LastFailedBackup.IsZero() {
		fmt.Fprintf(&head, "*Last failed backup*: %s\n", utc(w.LastFailedBackup))
	}
	base := slices.Clone(set.Base)
	slices.SortStableFunc(base, func(x, y request.BaseBackup) int { return y.Started.Compare(x.Started) })
	var list strings.Builder
	if len(base) == 0 {
		list.WriteString("*Base backups*: none yet")
	} else {
		list.WriteString("*Base backups* (newest first)\n")
	}
	for i, bk := range base {
		if i == maxBackupLines {
			fmt.Fprintf(&list, "… and %d older\n", len(base)-maxBackupLines)
			break
		}
		how := "scheduled"
		if bk.OnDemand {
			how = "on demand"
		}
		fmt.Fprintf(&list, "• `%s` *%s* · %s → %s · %s", bk.Name, cmp.Or(bk.Phase, "pending"), utc(bk.Started), utc(bk.Stopped), how)
		if bk.Error != "" {
			fmt.Fprintf(&list, " · error: %s", clip(bk.Error, 200))
		}
		list.WriteString("\n")
	}
	blocks := append(sections(strings.TrimSpace(head.String())), sections(strings.TrimSpace(list.String()))...)
	if !w.First.IsZero() {
		blocks = append(blocks, slack.NewActionBlock("backups."+r.Name, button(actionRestoreOpen, keyText(keyOf(r)), "Restore…")))
		blocks = append(blocks, contextText(fmt.Sprintf("A restore makes a new database next to `%s` and never touches it. `/pg backup %s` takes a base backup now.", r.Name, r.Name)))
	} else {
		blocks = append(blocks, contextText(fmt.Sprintf("Nothing to restore from yet. `/pg backup %s` takes a base backup now.", r.Name)))
	}
	return message{Text: fmt.Sprintf("Backups of %s: recovery window %s", r.Key(), windowText(w)), Blocks: blocks}
}

// commandBackup takes a base backup of a database now, authorized like a
// change to it.
func (b *Bot) commandBackup(cmd slack.SlashCommand, rest []string) any {
	a := parseArgs(rest)
	t, problem := parseTarget(a)
	if problem != "" || len(a.words) > 1 {
		return ephemeralReply(text(backupUsage))
	}
	if k, only := onlyQualifiers(a); !only {
		return ephemeralReply(text(fmt.Sprintf("`backup` takes no `%s=`. %s", clip(k, 40), backupUsage)))
	}
	if msg := b.cannotExist(t); msg != "" {
		return ephemeralReply(text(msg))
	}
	return b.answerLater("backup", func(ctx context.Context) error {
		m, err := b.doBackup(ctx, cmd, t)
		return errors.Join(err, b.respond(ctx, cmd.ResponseURL, m))
	})
}

func (b *Bot) doBackup(ctx context.Context, cmd slack.SlashCommand, t target) (message, error) {
	pipe, err := b.pipe()
	if err != nil {
		return text("The request pipeline is not running here; try again later."), err
	}
	rec, msg, err := b.findDatabase(ctx, "backup", t)
	if err != nil {
		return text("I could not read the requests; try again in a minute."), err
	}
	if msg != "" {
		return text(msg), nil
	}
	r := rec.Request
	if msg, err := b.refusal(ctx, r.Environment, cmd.ChannelID, cmd.UserID); msg != "" {
		return text(msg), err
	}
	bk, err := pipe.TakeBackup(ctx, keyOf(r), requester(cmd), slackOrigin(cmd.TeamID, cmd.ChannelID, ""), commandKey(cmd))
	var pr request.Problems
	if errors.As(err, &pr) {
		return problemsMessage(fmt.Sprintf("I cannot back up `%s`:", r.Key()), pr, ""), nil
	}
	if err != nil {
		return text(fmt.Sprintf("I could not start a backup of `%s`: the service had an error (logged). Try again in a minute.", r.Key())),
			fmt.Errorf("backup of %s: %w", r.Key(), err)
	}
	where := "in the database's thread"
	if rec.Progress.Channel != "" {
		where = fmt.Sprintf("in the thread of `%s` in <#%s>", r.Key(), rec.Progress.Channel)
	}
	return text(fmt.Sprintf("Backup `%s` of `%s` started (%s). Its progress and result come %s; `/pg backups %s` shows it.",
		bk.Name, r.Key(), cmp.Or(bk.Phase, "pending"), where, r.Name)), nil
}

// restoreArgs is a /pg restore command, read.
type restoreArgs struct {
	target target
	// at is the point in time (nil: the latest), as is the new name ("":
	// the default); atSet and asSet say whether they were given.
	at           *time.Time
	as           string
	atSet, asSet bool
}

// parseRestore reads "<name> [--at TIME] [--as NEWNAME] [env=] [team=]"
// (also --at=TIME). msg says what is wrong.
func parseRestore(rest []string) (restoreArgs, message) {
	var ra restoreArgs
	var words []string
	for i := 0; i < len(rest); i++ {
		flag, val, hasVal := strings.Cut(rest[i], "=")
		flag = strings.ToLower(flag)
		if flag != "--at" && flag != "--as" {
			if strings.HasPrefix(flag, "--") {
				return ra, text(fmt.Sprintf("`restore` takes no `%s`. %s", clip(flag, 40), restoreUsage))
			}
			words = append(words, rest[i])
			continue
		}
		if !hasVal {
			if i+1 >= len(rest) {
				return ra, text(fmt.Sprintf("`%s` needs a value. %s", flag, restoreUsage))
			}
			i++
			val = rest[i]
		}
		if flag == "--as" {
			ra.as, ra.asSet = strings.ToLower(strings.TrimSpace(val)), true
			continue
		}
		ra.atSet = true
		at, err := readTargetTime(val)
		if err != nil {
			var pr request.Problems
			errors.As(err, &pr)
			return ra, problemsMessage("I cannot restore to that point:", pr, restoreUsage)
		}
		ra.at = at
	}
	a := parseArgs(words)
	t, problem := parseTarget(a)
	if problem != "" || len(a.words) > 1 {
		return ra, text(restoreUsage)
	}
	if k, only := onlyQualifiers(a); !only {
		return ra, text(fmt.Sprintf("`restore` takes no `%s=`. %s", clip(k, 40), restoreUsage))
	}
	ra.target = t
	return ra, message{}
}

// readTargetTime reads a point in time as a user writes it: "latest" (nil)
// or RFC 3339 (request.ParseTargetTime, whose Problems name
// restore.targetTime).
func readTargetTime(s string) (*time.Time, error) {
	s = strings.Trim(strings.TrimSpace(s), "`'\".,")
	switch strings.ToLower(s) {
	case "", "latest", "last", "now":
		return nil, nil
	}
	t, err := request.ParseTargetTime(s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// commandRestore asks for a new database restored from another one: in
// one line (--at or --as given), or, with the name alone, question by
// question in a thread.
func (b *Bot) commandRestore(cmd slack.SlashCommand, rest []string) any {
	ra, msg := parseRestore(rest)
	if msg.Text != "" {
		return ephemeralReply(msg)
	}
	if msg := b.cannotExist(ra.target); msg != "" {
		return ephemeralReply(text(msg))
	}
	if !ra.atSet && !ra.asSet {
		return b.answerLater("restore conversation", func(ctx context.Context) error { return b.startRestore(ctx, cmd, ra.target) })
	}
	return b.answerLater("restore", func(ctx context.Context) error {
		m, err := b.doRestore(ctx, cmd, ra)
		return errors.Join(err, b.respond(ctx, cmd.ResponseURL, m))
	})
}

// restoreSource reads the live record of the database a restore names.
// msg says when there is none (or it is not ready yet).
func (b *Bot) restoreSource(ctx context.Context, t target) (store.Record, string, error) {
	rec, msg, err := b.findDatabase(ctx, "restore", t)
	if err != nil || msg != "" {
		return store.Record{}, msg, err
	}
	key := keyOf(rec.Request)
	release, err := b.reading(ctx)
	if err != nil {
		return store.Record{}, "", fmt.Errorf("read %s: %w", keyText(key), err)
	}
	recs, err := b.store.ListRequests(ctx, store.Filter{Environment: key.Environment, Team: key.Team, Name: key.Name})
	release()
	if err != nil {
		return store.Record{}, "", fmt.Errorf("read %s: %w", keyText(key), err)
	}
	db := store.Summarize(recs)
	if db.Live == nil {
		return store.Record{}, fmt.Sprintf("`%s` is not running (%s): there is nothing to restore from.", keyText(key), rec.State), nil
	}
	return *db.Live, "", nil
}

// restoreRequest is a new database like src (its live request: size,
// instances, storage, version, backups, logical backup, databases, client
// type), named name, restored from src at the point at (nil: the latest).
func restoreRequest(src store.Record, name string, at *time.Time) request.DatabaseRequest {
	s := src.Request.Spec
	s.Name = name
	s.Databases = slices.Clone(s.Databases)
	if s.Backups.Hour != nil {
		h := *s.Backups.Hour
		s.Backups.Hour = &h
	}
	var target *time.Time
	if at != nil {
		t := *at
		target = &t
	}
	s.Restore = &request.Restore{Source: src.Request.Name, TargetTime: target}
	return request.DatabaseRequest{Kind: request.Create, ClientType: src.Request.ClientType, Load: src.Request.Load, Spec: s}
}

// maxRestoreNames bounds the names defaultRestoreName tries.
const maxRestoreNames = 50

// defaultRestoreName is the first free name <source>-restore-<n> that the
// policy accepts (the source's name is shortened when the policy's length
// rules, which count the team and environment, would refuse it).
func (b *Bot) defaultRestoreName(ctx context.Context, src store.Record) (string, error) {
	for n := 1; n <= maxRestoreNames; n++ {
		suffix := fmt.Sprintf("-restore-%d", n)
		base := src.Request.Name
		name := ""
		for base != "" {
			probe := restoreRequest(src, base+suffix, nil)
			if _, err := b.policy.Resolve(probe); !problemOn(err, "name") {
				name = base + suffix
				break
			}
			base = strings.TrimRight(base[:len(base)-1], "-")
		}
		if name == "" {
			return "", fmt.Errorf("no valid restore name for %s", src.Request.Key())
		}
		s := src.Request.Spec
		s.Name = name
		if b.exists(ctx, s) == "" {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free restore name for %s after %d tries", src.Request.Key(), maxRestoreNames)
}

// problemOn reports whether err holds a problem of field.
func problemOn(err error, field string) bool {
	var pr request.Problems
	return errors.As(err, &pr) && pr.Has(field)
}

// doRestore submits a one-line restore.
func (b *Bot) doRestore(ctx context.Context, cmd slack.SlashCommand, ra restoreArgs) (message, error) {
	pipe, err := b.pipe()
	if err != nil {
		return text("The request pipeline is not running here; try again later."), err
	}
	src, msg, err := b.restoreSource(ctx, ra.target)
	if err != nil {
		return text("I could not read the requests; try again in a minute."), err
	}
	if msg != "" {
		return text(msg), nil
	}
	if msg, err := b.refusal(ctx, src.Request.Environment, cmd.ChannelID, cmd.UserID); msg != "" {
		return text(msg), err
	}
	name := ra.as
	if name == "" {
		if name, err = b.defaultRestoreName(ctx, src); err != nil {
			return text(fmt.Sprintf("I could not find a free name for the new database: name it with `--as <new name>`. %s", restoreUsage)), err
		}
	}
	r := restoreRequest(src, name, ra.at)
	r.Requester, r.Origin = requester(cmd), slackOrigin(cmd.TeamID, cmd.ChannelID, "")
	rec, _, err := pipe.Submit(ctx, r, commandKey(cmd))
	var pr request.Problems
	if errors.As(err, &pr) {
		return problemsMessage(fmt.Sprintf("I cannot restore `%s` into `%s`:", src.Request.Key(), name), pr, restoreUsage), nil
	}
	if err != nil {
		return text("I could not ask for the restore: the service had an error (logged). Try again in a minute."), fmt.Errorf("restore %s: %w", src.Request.Key(), err)
	}
	return restoreAnswer(rec, fmt.Sprintf("Its progress message is posted in <#%s>, each step in that message's thread.", cmd.ChannelID)), nil
}

// restoreAnswer says what was asked, where it goes on, and that the source
// is left as it is.
func restoreAnswer(rec store.Record, where string) message {
	r := rec.Request
	src := r.Restore.Source
	at := "the latest point archived"
	if r.Restore.TargetTime != nil {
		at = utc(*r.Restore.TargetTime)
	}
	return text(fmt.Sprintf(":white_check_mark: Asked: `%s`, a new database restored from `%s` as it was at %s (request %s). A pull request opens now; %s\n"+
		"A restore never touches `%s`: once `%s` is ready, point your clients at its hosts (in the ready message; the credentials come by direct message), "+
		"and delete `%s` with `/pg delete %s` if it is no longer needed.",
		r.Key(), src, at, rec.ID(), where, src, r.Name, src, src))
}

// restoreQuestions are what a restore asks in a thread, in this order.
var restoreQuestions = []question{
	{id: "restore.targetTime", fields: []string{"restore.targetTime"},
		prompt: func(_ *Bot, c *conversation) string {
			s := "Which point in time? `latest` or a time like " + timeExample
			if c.Window != "" {
				s += fmt.Sprintf(" (`%s` can be restored %s)", c.Draft.Restore.Source, c.Window)
			}
			return s
		},
		choices: func(*Bot, *conversation) []choice { return []choice{{"Latest", "latest"}} }},
	// The new name answers restore.source too: the source's own name is
	// refused there (a restore never overwrites a database).
	{id: "name", fields: []string{"name", "restore.source"},
		prompt: func(_ *Bot, c *conversation) string {
			if c.DefaultName == "" {
				return fmt.Sprintf("Name of the new database? A lowercase name (at most %d characters).", request.MaxNameLength())
			}
			return fmt.Sprintf("Name of the new database? (default `%s`)", c.DefaultName)
		},
		choices: func(_ *Bot, c *conversation) []choice {
			if c.DefaultName == "" {
				return nil
			}
			return []choice{{"Use " + c.DefaultName, c.DefaultName}}
		}},
}

// keepsDefault reports whether an answer takes the default.
func keepsDefault(s string) bool {
	s = strings.Trim(strings.TrimSpace(s), ".!`")
	return slices.Contains([]string{"", "default", "ok", "okay", "yes", "y", "fine", "sure", "the default", "use the default"}, s)
}

// applyTargetTime reads the answer to the point-in-time question.
func (b *Bot) applyTargetTime(c *conversation, raw string) string {
	at, err := readTargetTime(strings.Fields(raw + " ")[0])
	var pr request.Problems
	if errors.As(err, &pr) {
		return problemsMessage("that is not a point in time:", pr, "").Text
	}
	if c.Draft.Restore == nil {
		c.Draft.Restore = &request.Restore{}
	}
	c.Draft.Restore.TargetTime = at
	c.markAnswered("restore.targetTime")
	return ""
}

// startRestore checks the source and access, posts the restore's first
// message in the channel and asks its questions in that thread.
func (b *Bot) startRestore(ctx context.Context, cmd slack.SlashCommand, t target) error {
	say := func(m message, err error) error { return errors.Join(err, b.respond(ctx, cmd.ResponseURL, m)) }
	pipe, err := b.pipe()
	if err != nil {
		return say(text("The request pipeline is not running here; try again later."), err)
	}
	src, msg, err := b.restoreSource(ctx, t)
	if err != nil {
		return say(text("I could not read the requests; try again in a minute."), err)
	}
	if msg != "" {
		return say(text(msg), nil)
	}
	key := src.Request.Key()
	if msg, err := b.refusal(ctx, src.Request.Environment, cmd.ChannelID, cmd.UserID); msg != "" {
		return say(text(msg), err)
	}
	set, werr := pipe.Backups(ctx, keyOf(src.Request))
	var pr request.Problems
	switch {
	case errors.As(werr, &pr):
		return say(problemsMessage(fmt.Sprintf("I cannot restore `%s`:", key), pr, ""), nil)
	case werr != nil:
		// The pipeline checks the window again when the restore is
		// submitted: the questions go on without it.
		b.log.Warn().Err(werr).Str("database", key).Msg("recovery window not read for a restore")
	case set.Window.First.IsZero():
		return say(text(fmt.Sprintf("`%s` has no backup yet: there is nothing to restore from. `/pg backup %s` takes one now.", key, src.Request.Name)), nil)
	}
	def, err := b.defaultRestoreName(ctx, src)
	if err != nil {
		b.log.Warn().Err(err).Str("database", key).Msg("no default name for a restore")
	}
	ts, err := b.post(ctx, cmd.ChannelID, "", text(fmt.Sprintf("<@%s> restores `%s` into a new database; `%s` itself is not touched. I ask what I need in this thread.", cmd.UserID, key, src.Request.Name)))
	if err != nil {
		return say(text(notPostedText(err)), fmt.Errorf("post restore thread: %w", err))
	}
	c := b.newConversation(kindRestore, cmd.UserID, cmd.ChannelID, ts)
	c.Draft = restoreRequest(src, "", nil)
	c.Draft.Requester, c.Draft.Origin = requester(cmd), slackOrigin(cmd.TeamID, cmd.ChannelID, ts)
	c.DefaultName = def
	if werr == nil {
		c.Window = windowText(set.Window)
	}
	if err := b.askNext(ctx, c, ""); err != nil {
		return err
	}
	return b.respond(ctx, cmd.ResponseURL, text(fmt.Sprintf("I ask about the restore of `%s` in a thread in this channel: answer there.", key)))
}

// submitRestore submits a restore whose questions are all answered; a
// refusal asks the question it names again.
func (b *Bot) submitRestore(ctx context.Context, c *conversation) error {
	rec, err := b.submit(ctx, c, c.Draft)
	var pr request.Problems
	if errors.As(err, &pr) {
		for _, field := range []string{"restore.targetTime", "name"} {
			if pr.Has(field) {
				q, _ := questionByID(c, field)
				c.forget(field)
				return b.ask(ctx, c, q, problemsMessage(fmt.Sprintf("<@%s> that does not work:", c.User), pr, "").Text)
			}
		}
		_, perr := b.post(ctx, c.Channel, c.Thread, problemsMessage(fmt.Sprintf("<@%s> I cannot restore `%s`:", c.User, c.Draft.Restore.Source), pr, "Nothing was asked for."))
		return errors.Join(perr, b.store.DeleteConversation(ctx, c.ID))
	}
	if err != nil {
		q, _ := questionByID(c, "name")
		c.forget("name")
		return errors.Join(fmt.Errorf("submit restore %s: %w", c.ID, err),
			b.ask(ctx, c, q, fmt.Sprintf("<@%s> I could not submit it: the service had an error (logged). Answer again in a minute.", c.User)))
	}
	if _, err := b.post(ctx, c.Channel, c.Thread, restoreAnswer(rec, "progress follows in this thread.")); err != nil {
		return err
	}
	return b.store.DeleteConversation(ctx, c.ID)
}

// openRestoreView opens the restore modal from the backups card's button;
// views.open comes first, within the click's 3 s.
func (b *Bot) openRestoreView(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) {
	key := databaseKey(act.Value)
	if key.Name == "" {
		b.log.Warn().Str("value", act.Value).Msg("restore button without a database")
		return
	}
	meta := viewMeta{Channel: cb.Channel.ID, Name: key.Name, Env: key.Environment, Team: key.Team}
	if err := b.openView(ctx, cb.TriggerID, restoreView(meta)); err != nil {
		b.log.Warn().Err(err).Msg("restore form not opened")
		b.tell(cb, fmt.Sprintf("I could not open the restore form (%s); try again, or use `/pg restore %s`.", err.Error(), key.Name))
	}
}

// restoreView asks for a restore's point in time and new name.
func restoreView(meta viewMeta) slack.ModalViewRequest {
	key := keyText(store.DatabaseKey{Environment: meta.Env, Team: meta.Team, Name: meta.Name})
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: callbackRestore,
		Title:      plain("Restore a database"),
		Submit:     plain("Restore"),
		Close:      plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section(fmt.Sprintf("Restores `%s` into a *new* database next to it, through a pull request like any new database. `%s` itself is not touched.", key, meta.Name)),
			textInput(blockTargetTime, "Point in time", "latest, or a UTC time like "+timeExample+" within the recovery window.", "latest", timeExample, true),
			textInput(blockNewName, "Name of the new database", fmt.Sprintf("Empty: %s-restore-<n>, the first one free.", meta.Name), "", meta.Name+"-restore-1", true),
		}},
		PrivateMetadata: meta.encode(),
	}
}

// submitRestoreView reads the restore modal and submits the restore;
// problems go back inline, on their inputs.
func (b *Bot) submitRestoreView(ctx context.Context, cb slack.InteractionCallback) any {
	meta := decodeMeta(cb.View.PrivateMetadata)
	state := cb.View.State
	value := func(block string) string {
		if state == nil {
			return ""
		}
		return strings.TrimSpace(state.Values[block][block].Value)
	}
	fail := func(block, msg string) any {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{block: msg})
	}
	at, err := readTargetTime(value(blockTargetTime))
	var pr request.Problems
	if errors.As(err, &pr) {
		return viewErrors(state, pr)
	}
	pipe, err := b.pipe()
	if err != nil {
		return fail(blockNewName, "The request pipeline is not running here; try again later.")
	}
	src, msg, err := b.restoreSource(ctx, target{name: meta.Name, env: meta.Env, team: meta.Team})
	if err != nil {
		b.log.Error().Err(err).Msg("restore source not read")
		return fail(blockNewName, "I could not read the requests; try again in a minute.")
	}
	if msg != "" {
		return fail(blockNewName, msg)
	}
	if msg, err := b.refusal(ctx, src.Request.Environment, meta.Channel, cb.User.ID); msg != "" {
		if err != nil {
			b.log.Warn().Err(err).Msg("access not checked")
		}
		return fail(blockNewName, msg)
	}
	name := strings.ToLower(value(blockNewName))
	if name == "" {
		if name, err = b.defaultRestoreName(ctx, src); err != nil {
			b.log.Warn().Err(err).Msg("no default restore name")
			return fail(blockNewName, "I could not find a free name: type one.")
		}
	}
	r := restoreRequest(src, name, at)
	r.Requester = request.Requester{ID: cb.User.ID, Name: cb.User.Name}
	r.Origin = slackOrigin(cb.Team.ID, meta.Channel, "")
	rec, _, err := pipe.Submit(ctx, r, store.Idempotency{Scope: "slack", Key: "view/" + cb.View.ID})
	if errors.As(err, &pr) {
		return viewErrors(state, pr)
	}
	if err != nil {
		b.log.Error().Err(err).Msg("restore not submitted")
		return fail(blockNewName, "The service could not take the request (the error is logged); submit again in a minute.")
	}
	answer := restoreAnswer(rec, fmt.Sprintf("Its progress message is posted in <#%s>, each step in that message's thread.", meta.Channel))
	b.later("restore answer", func(ctx context.Context) error {
		return b.ephemeral(ctx, meta.Channel, "", cb.User.ID, answer)
	})
	return nil
}
