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

// Notify tells a request's channel about a step: one message per request
// (posted on the first notice, its ts kept with the record) updated in
// place with the current state, and a reply per step in its thread. On
// ready, the credentials go to the requester by direct message, never to
// the channel. Requests that came through the API go to their team's
// channel (config.Slack.TeamChannels) and get no direct message: the
// thread says how to read the secret.
//
// Slack's rate limits and 5xx answers are waited out here; an error
// returned makes the pipeline's notify job try again later (notices of one
// request are sent one at a time, in order).
func (b *Bot) Notify(ctx context.Context, rec store.Record, n request.Notice) error {
	channel, thread := b.origin(rec)
	if channel == "" {
		b.log.Info().Str("request", rec.ID()).Str("database", rec.Request.Key()).Str("notice", n.Kind).
			Msg("no Slack channel for this request (set slack.teamChannels): notice not posted")
		return nil
	}
	progress := progressMessage(rec, n)
	if rec.Progress.TS == "" {
		ch, ts, err := b.postProgress(ctx, rec, channel, thread, progress)
		if err != nil {
			return err
		}
		rec.Progress = store.SlackMessage{Channel: ch, TS: ts}
		if _, err := b.store.UpdateRequest(ctx, rec.ID(), store.Change{Progress: &rec.Progress},
			request.Event{Actor: "clustro", Origin: request.OriginSlack, Detail: "progress message posted in " + ch}); err != nil {
			return fmt.Errorf("remember progress message of %s: %w", rec.ID(), err)
		}
	} else if err := b.update(ctx, rec.Progress.Channel, rec.Progress.TS, progress); err != nil {
		return err
	}
	replyThread := rec.Progress.TS
	if rec.Progress.Channel == channel && thread != "" {
		replyThread = thread
	}
	credentials := ""
	if n.Kind == request.NoticeReady && n.Ready != nil {
		var err error
		if credentials, err = b.sendCredentials(ctx, rec, *n.Ready); err != nil {
			return err
		}
	}
	_, err := b.post(ctx, rec.Progress.Channel, replyThread, stepMessage(rec, n, credentials))
	return err
}

// origin is where a request's progress goes: the Slack channel (and
// thread) it came from, or its team's channel.
func (b *Bot) origin(rec store.Record) (channel, thread string) {
	o := rec.Request.Origin
	if o.SlackChannel != "" {
		return o.SlackChannel, o.SlackThread
	}
	return b.cfg.ChannelOfTeam(rec.Request.Team), ""
}

// fromSlackUser reports whether the requester is a Slack user (who can get
// a direct message).
func fromSlackUser(rec store.Record) bool {
	return rec.Request.Origin.Kind == request.OriginSlack && rec.Request.Requester.ID != ""
}

// postProgress posts the progress message. When the bot cannot post in the
// channel (it was removed, the channel archived), the requester gets it by
// direct message instead, with the reason.
func (b *Bot) postProgress(ctx context.Context, rec store.Record, channel, thread string, m message) (string, string, error) {
	ts, err := b.post(ctx, channel, thread, m)
	if err == nil {
		return channel, ts, nil
	}
	if !slices.Contains([]string{"not_in_channel", "channel_not_found", "is_archived"}, slackError(err)) || !fromSlackUser(rec) {
		return "", "", err
	}
	b.log.Warn().Err(err).Str("request", rec.ID()).Msg("progress posted by direct message instead")
	dm, derr := b.openDM(ctx, rec.Request.Requester.ID)
	if derr != nil {
		return "", "", errors.Join(err, derr)
	}
	m.Blocks = append(m.Blocks, contextText(fmt.Sprintf("I could not post in <#%s> (%s): invite me with `/invite @clustro` to follow requests there.", channel, slackError(err))))
	ts, derr = b.post(ctx, dm, "", m)
	if derr != nil {
		return "", "", errors.Join(err, derr)
	}
	return dm, ts, nil
}

// sendCredentials sends a ready database's URI and password to the
// requester by direct message, once, and returns what the thread says
// about them. The credentials are read only here and go nowhere else.
func (b *Bot) sendCredentials(ctx context.Context, rec store.Record, info request.ReadyInfo) (string, error) {
	hint := fmt.Sprintf("Read the credentials with `%s`.", info.SecretHint)
	if !fromSlackUser(rec) {
		return hint, nil
	}
	user := rec.Request.Requester.ID
	if b.credentials == nil {
		return hint, nil
	}
	key := store.Idempotency{Scope: "slack-dm", Key: rec.ID() + "/credentials"}
	sent := fmt.Sprintf("The credentials were sent to <@%s> by direct message.", user)
	if _, err := b.store.Recall(ctx, key); err == nil {
		return sent, nil
	}
	uri, password, err := b.credentials(ctx, rec.Request.Environment, info.Namespace, info.Cluster)
	if err != nil {
		return "", fmt.Errorf("read the credentials of %s: %w", rec.Request.Key(), err)
	}
	dm, err := b.openDM(ctx, user)
	if err == nil {
		_, err = b.post(ctx, dm, "", credentialsMessage(rec, info, uri, password))
	}
	switch {
	case err == nil:
	case slices.Contains([]string{"user_not_found", "cannot_dm_bot", "user_disabled", "account_inactive"}, slackError(err)):
		return fmt.Sprintf("I could not send <@%s> the credentials by direct message (%s). %s", user, slackError(err), hint), nil
	default:
		return "", err
	}
	if _, _, err := b.store.Remember(ctx, key, []byte("sent")); err != nil {
		b.log.Warn().Err(err).Str("request", rec.ID()).Msg("credentials sent, but not remembered as sent")
	}
	return sent, nil
}

// progressMessage shows where a request stands now.
func progressMessage(rec store.Record, n request.Notice) message {
	r := rec.Request
	head := fmt.Sprintf("%s *%s* · %s · *%s*", stateEmoji(rec.State), r.Key(), r.Kind, strings.ReplaceAll(string(rec.State), "_", " "))
	facts := fmt.Sprintf("Size %s · %d instance(s) · PostgreSQL %d · backups %s · asked by %s",
		r.Size, r.Instances, r.PostgresVersion, backupsText(r.Backups), who(r.Requester, r.Origin))
	if rec.PR.URL != "" {
		facts += fmt.Sprintf(" · <%s|pull request #%d>", rec.PR.URL, rec.PR.Number)
	}
	latest := clip(n.Text, maxDetail)
	if rec.State == request.Failed && rec.Failure != nil && n.Kind != request.NoticeFailed {
		latest = "Failed while " + rec.Failure.Step + ": " + clip(rec.Failure.Reason, maxDetail)
	}
	return message{
		Text:   fmt.Sprintf("%s: %s. %s", r.Key(), rec.State, latest),
		Blocks: []slack.Block{section(head), contextText(facts), contextText("Latest: " + latest)},
	}
}

// maxPlan bounds the plan a thread reply quotes.
const maxPlan = 2500

// stepMessage is the thread reply for one notice.
func stepMessage(rec store.Record, n request.Notice, credentials string) message {
	if n.Kind == request.NoticeReconcilePlan && n.Reconcile != nil && n.Reconcile.State == request.ReconcilePlanned {
		return reconcilePlanMessage(rec, n)
	}
	var b strings.Builder
	emoji := map[string]string{
		request.NoticeReceived: ":inbox_tray:", request.NoticePROpened: ":page_facing_up:",
		request.NoticePlanned: ":clipboard:", request.NoticeMerged: ":twisted_rightwards_arrows:",
		request.NoticeApplying: ":gear:", request.NoticeProgress: ":hourglass_flowing_sand:",
		request.NoticeReady: ":white_check_mark:", request.NoticeFailed: ":x:",
		request.NoticeCancelled: ":no_entry_sign:", request.NoticeDeleted: ":wastebasket:",
		request.NoticeRefused: ":no_entry:", request.NoticeEdited: ":pencil2:",
		request.NoticeUnhealthy: ":warning:", request.NoticeRecovered: ":green_heart:",
		request.NoticeFailover: ":arrows_counterclockwise:", request.NoticeGone: ":rotating_light:",
		request.NoticeDrift: ":mag:", request.NoticeDriftResolved: ":white_check_mark:",
		request.NoticeReconcilePlan: ":clipboard:", request.NoticeReconciled: ":white_check_mark:",
		request.NoticeReconcileFailed: ":x:",
		request.NoticeArchivingFailed: ":rotating_light:", request.NoticeArchivingRecovered: ":green_heart:",
		request.NoticeBackupFailed: ":warning:", request.NoticeBackupRecovered: ":green_heart:",
		request.NoticeBackupStarted: ":floppy_disk:", request.NoticeBackupDone: ":white_check_mark:",
	}[n.Kind]
	if emoji == "" {
		emoji = ":information_source:"
	}
	b.WriteString(emoji + " " + n.Text)
	if n.PRURL != "" && (n.Kind == request.NoticePROpened || n.Kind == request.NoticeRefused || n.Kind == request.NoticeEdited) {
		fmt.Fprintf(&b, "\n<%s|Open the pull request>", n.PRURL)
	}
	if n.Kind == request.NoticePlanned && n.Plan != "" {
		plan, cut := clipLines(n.Plan, maxPlan)
		fmt.Fprintf(&b, "\n```%s```", plan)
		if cut > 0 {
			b.WriteString("\nThe whole plan is on the pull request.")
		}
	}
	if (n.Kind == request.NoticeFailed || n.Kind == request.NoticeReconcileFailed) && n.Next != "" {
		fmt.Fprintf(&b, "\n*Next*: %s", n.Next)
	}
	if ri := n.Ready; n.Kind == request.NoticeReady && ri != nil {
		fmt.Fprintf(&b, "\n• Read-write: `%s:%d`", ri.RWHost, ri.Port)
		fmt.Fprintf(&b, "\n• Read-only: `%s:%d`", ri.ROHost, ri.Port)
		fmt.Fprintf(&b, "\n• Database `%s`, user `%s` (namespace `%s`, secret `%s`)", ri.Database, ri.User, ri.Namespace, ri.Secret)
		if ri.Grafana != "" {
			fmt.Fprintf(&b, "\n• <%s|Grafana dashboard>", ri.Grafana)
		}
		if credentials != "" {
			b.WriteString("\n" + credentials)
		}
	}
	return text(b.String())
}

// credentialsMessage is the direct message with the password and URI.
func credentialsMessage(rec store.Record, info request.ReadyInfo, uri, password string) message {
	s := fmt.Sprintf(":key: Credentials of *%s*, ready now:\n• URI: `%s`\n• User `%s`, password `%s`\n• Read-write host `%s:%d`, read-only `%s:%d`, database `%s`\nKeep them out of channels and code; the secret `%s` in namespace `%s` holds them too.",
		rec.Request.Key(), uri, info.User, password, info.RWHost, info.Port, info.ROHost, info.Port, info.Database, info.Secret, info.Namespace)
	return text(s)
}
