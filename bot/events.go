package bot

import (
	"context"
	"strings"

	"github.com/slack-go/slack/slackevents"

	"github.com/clustropg/clustro/store"
)

// event handles an Events API callback after its acknowledgement: a
// mention of the bot, a direct message, or a message in a thread where a
// conversation goes on. Slack retries an event it thinks was not
// acknowledged; each event_id is handled once.
func (b *Bot) event(_ context.Context, ev slackevents.EventsAPIEvent) {
	eventID := ""
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		eventID = cb.EventID
	}
	var m threadMessage
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		if e.BotID != "" || e.User == "" {
			return
		}
		m = threadMessage{Team: ev.TeamID, User: e.User, Channel: e.Channel, Thread: e.ThreadTimeStamp, Text: e.Text, Mention: true}
		if m.Thread == "" {
			m.Thread = e.TimeStamp // the mention starts a thread
		}
	case *slackevents.MessageEvent:
		if e.BotID != "" || e.SubType != "" || e.User == "" {
			return // the bot's own messages, edits, joins...
		}
		m = threadMessage{Team: ev.TeamID, User: e.User, Channel: e.Channel, Thread: e.ThreadTimeStamp, Text: e.Text, DM: e.ChannelType == slackevents.ChannelTypeIM}
		if !m.DM && m.Thread == "" {
			return // only answers in threads matter outside direct messages
		}
	default:
		return
	}
	b.later("event", func(ctx context.Context) error {
		if eventID != "" {
			_, first, err := b.store.Remember(ctx, store.Idempotency{Scope: "slack-event", Key: eventID}, []byte("handled"))
			if err != nil {
				return err
			}
			if !first {
				return nil
			}
		}
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
}
