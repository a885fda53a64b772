package bot

import (
	"context"
	"errors"
	"strings"

	"github.com/slack-go/slack/slackevents"
)

// event handles an Events API callback: a mention of the bot, a direct
// message, or a message in a thread where a conversation goes on. It
// claims the event_id before the acknowledgement, and the work runs after
// it: Slack resends an event it thinks was lost (X-Slack-Retry-Num), and a
// resent event changes nothing, even while the first is still handled.
//
// retry reports that the event could not be claimed, so it was not
// handled: the transport should have Slack send it again (no
// acknowledgement over Socket Mode).
func (b *Bot) event(ctx context.Context, ev slackevents.EventsAPIEvent) (retry bool) {
	eventID := ""
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		eventID = cb.EventID
	}
	var m threadMessage
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		if e.BotID != "" || e.User == "" {
			return false
		}
		m = threadMessage{Team: ev.TeamID, User: e.User, Channel: e.Channel, Thread: e.ThreadTimeStamp, Text: e.Text, Mention: true}
		if m.Thread == "" {
			m.Thread = e.TimeStamp // the mention starts a thread
		}
	case *slackevents.MessageEvent:
		if e.BotID != "" || e.SubType != "" || e.User == "" {
			return false // the bot's own messages, edits, joins...
		}
		m = threadMessage{Team: ev.TeamID, User: e.User, Channel: e.Channel, Thread: e.ThreadTimeStamp, Text: e.Text, DM: e.ChannelType == slackevents.ChannelTypeIM}
		if !m.DM && m.Thread == "" {
			return false // only answers in threads matter outside direct messages
		}
	default:
		return false
	}
	first, err := b.claim(ctx, eventClaim(eventID))
	if err != nil {
		b.log.Error().Err(err).Str("event_id", eventID).Msg("slack event not claimed: not handled")
		return !errors.Is(err, errNoID)
	}
	if !first {
		return false
	}
	b.later("event", func(ctx context.Context) error {
		if !m.Mention && !m.DM {
			// A mention in a thread also arrives as an app_mention: answer that one.
			self, err := b.selfID(ctx)
			if err != nil {
				return err
			}
			if m.User == self || strings.Contains(m.Text, "<@"+self+">") {
				return nil
			}
		}
		return b.onMessage(ctx, m)
	})
	return false
}
