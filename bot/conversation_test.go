package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
)

// thread is one conversation in a channel's thread, seen from the tests.
type thread struct {
	h       *harness
	channel string
	ts      string // the thread's root
}

// mention starts a thread by mentioning the bot.
func (h *harness) mention(u slacktest.User, channel, text string) thread {
	h.t.Helper()
	ts := h.slack.NextTS()
	if w := h.event(slacktest.AppMention(u.ID, channel, ts, "", text)); w.Code != 200 {
		h.t.Fatalf("event answered %d", w.Code)
	}
	return thread{h: h, channel: channel, ts: ts}
}

// say writes in the thread without mentioning the bot.
func (th thread) say(u slacktest.User, text string) {
	th.h.t.Helper()
	th.h.event(slacktest.ThreadReply(u.ID, th.channel, "channel", th.h.slack.NextTS(), th.ts, text))
}

// last is the bot's last message in the thread.
func (th thread) last() slacktest.Message {
	th.h.t.Helper()
	var last *slacktest.Message
	for _, m := range th.h.channelMessages(th.channel) {
		if m.ThreadTS == th.ts {
			last = &m
		}
	}
	if last == nil {
		th.h.t.Fatalf("the bot said nothing in thread %s", th.ts)
	}
	return *last
}

// pick clicks a button of the bot's last message in the thread.
func (th thread) pick(u slacktest.User, label string) {
	th.h.t.Helper()
	th.h.clickLabel(th.channel, th.last().TS, label, u)
}

func (th thread) expect(wants ...string) {
	th.h.t.Helper()
	mustContain(th.h.t, "the bot's last message", th.last().Text, wants...)
}

// TestThreadConversation: the bot reads what it can from the first
// message, asks the rest one question at a time (buttons for choices, free
// text for names), checks each answer with the request's validation, and
// survives a restart in the middle: a new bot on the same store goes on.
func TestThreadConversation(t *testing.T) {
	h := newHarness(t)
	th := h.mention(alice, general, "I need a postgres for billing in prod with daily backups")
	th.expect("<@UALICE> sure", "I understood: team *billing*, environment *prod*, backups *daily*", "What should it be called?")

	th.say(alice, "9lives")
	th.expect("that does not work", "*name*", "must be lowercase letters, digits and '-', start with a letter", "What should it be called?")
	th.say(alice, "call it ledger")
	th.expect("Who is it for?")
	if btns := h.slack.Buttons(general, th.last().TS); len(btns) != 3 {
		t.Errorf("client type buttons: %v", btns)
	}

	h.restart() // a new process, the same store

	th.pick(alice, "Enterprise")
	question, _ := h.slack.Message(general, h.channelMessages(general)[len(h.channelMessages(general))-2].TS)
	mustContain(t, "the answered question", question.Text, ":ballot_box_with_check: *Enterprise*")
	th.expect("What load do you expect?")
	th.pick(alice, "medium (M)")
	th.expect("How many databases besides the default `app` one?")
	th.pick(alice, "2")
	th.expect("Name the 2 extra database(s)")
	th.say(alice, "reports, postgres")
	th.expect("that does not work", `"postgres" is reserved`)
	th.say(alice, "reports, audit")

	card := th.last()
	mustContain(t, "the summary", blocksText(card), "`ledger` (team *billing*, environment *prod*)", "*Size*: M", "*Instances*: 3",
		"*Client*: enterprise", "*Backups*: daily at 03:00 UTC, kept 30d", "*Extra databases*: reports, audit")
	th.h.clickLabel(general, card.TS, "Confirm", alice)

	recs := h.pipe.requests(t)
	if len(recs) != 1 {
		t.Fatalf("%d requests", len(recs))
	}
	r := recs[0].Request
	if r.Key() != "prod/billing/ledger" || r.ClientType != request.Enterprise || r.Load != request.Medium || r.Size != request.SizeM ||
		r.Backups.Schedule != request.Daily || strings.Join(r.Databases, ",") != "reports,audit" || r.Requester.ID != alice.ID ||
		r.Origin.SlackChannel != general || r.Origin.SlackThread != th.ts {
		t.Errorf("submitted %+v", r)
	}
	if _, err := h.store.FindConversation(context.Background(), general, th.ts, alice.ID); err == nil {
		t.Error("the conversation outlived its submission")
	}
}

// TestThreadAnswersValidated: a choice that the policy refuses is asked
// again with what is allowed; typed answers work like buttons.
func TestThreadAnswersValidated(t *testing.T) {
	h := newHarness(t)
	th := h.mention(alice, billing, "a small database called audit in production, no backups")
	// The team comes from the channel; prod refuses "no backups".
	th.expect("I understood: name `audit`, team *billing*, environment *prod*, load *small*, backups *none*", "Who is it for?")
	th.say(alice, "startup")
	th.expect("How many databases")
	th.say(alice, "0")
	th.expect("one more thing", "*backups.schedule*", "prod requires backups; allowed there: hourly, daily, weekly", "Backups: how often?")
	th.pick(alice, "Weekly")
	mustContain(t, "the summary", blocksText(th.last()), "weekly at 03:00 UTC, kept 14d", "*Size*: S")
	th.say(alice, "cancel")
	th.expect("cancelled: nothing was asked for")
	if n := len(h.pipe.requests(t)); n != 0 {
		t.Errorf("%d requests after cancel", n)
	}
}

// TestTwoUsersOneChannel: two people asking in one channel, even in one
// thread, have a conversation each.
func TestTwoUsersOneChannel(t *testing.T) {
	h := newHarness(t)
	a := h.mention(alice, general, "postgres for billing in dev")
	b := h.mention(bob, general, "postgres for search in staging")
	// Bob also joins Alice's thread with his own request.
	h.event(slacktest.AppMention(bob.ID, general, h.slack.NextTS(), a.ts, "and one for search in dev please"))

	a.say(alice, "ledger")
	b.say(bob, "index")
	a.say(bob, "catalog") // Bob's answer in Alice's thread names Bob's database
	a.expect("<@UBOB>", "Who is it for?")

	ctx := context.Background()
	ca, err := h.bot.findConversation(ctx, general, a.ts, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := h.bot.findConversation(ctx, general, b.ts, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	cab, err := h.bot.findConversation(ctx, general, a.ts, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conv        *conversation
		name, team  string
		environment string
	}{{ca, "ledger", "billing", "dev"}, {cb, "index", "search", "staging"}, {cab, "catalog", "search", "dev"}} {
		if c.conv.Draft.Name != c.name || c.conv.Draft.Team != c.team || c.conv.Draft.Environment != c.environment {
			t.Errorf("conversation of %s in %s: %+v", c.conv.User, c.conv.Thread, c.conv.Draft.Spec)
		}
	}
	// Bob cannot answer Alice's buttons.
	var aliceQuestion slacktest.Message
	for _, m := range h.channelMessages(general) {
		if m.ThreadTS == a.ts && strings.Contains(m.Text, "<@UALICE>") {
			aliceQuestion = m
		}
	}
	h.clickLabel(general, aliceQuestion.TS, "Startup", bob)
	if ca2, _ := h.bot.findConversation(ctx, general, a.ts, alice.ID); ca2.Draft.ClientType != "" {
		t.Errorf("bob answered alice's question: %+v", ca2.Draft)
	}
	eph := h.slack.Messages(general)
	mustContain(t, "the note to bob", eph[len(eph)-1].Text, "This question is for <@UALICE>")
}

// TestConversationExpires: an idle conversation is forgotten; answers in
// its thread are then ignored, and a new mention starts afresh.
func TestConversationExpires(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) { c.ConversationTimeout = config.Duration(10 * time.Minute) })
	th := h.mention(alice, general, "postgres for billing in dev")
	before := len(h.channelMessages(general))
	h.clock.Advance(11 * time.Minute)
	th.say(alice, "ledger")
	if n := len(h.channelMessages(general)); n != before {
		t.Errorf("the bot answered in an expired conversation")
	}
	h.event(slacktest.AppMention(alice.ID, general, h.slack.NextTS(), th.ts, "ledger"))
	th.expect("sure, let's ask", "Which team owns it?")
}

// TestEventsHandledOnce: Slack retries an event it thinks was lost; the
// bot answers once.
func TestEventsHandledOnce(t *testing.T) {
	h := newHarness(t)
	ts := h.slack.NextTS()
	ev := slacktest.AppMention(alice.ID, general, ts, "", "postgres for billing")
	for range 2 {
		h.serve(h.signer.Event(PathEvents, "EvSAME", ev))
	}
	if n := len(h.channelMessages(general)); n != 1 {
		t.Errorf("%d answers to one event", n)
	}
}

// TestDirectMessage: writing to the bot starts a conversation there too.
func TestDirectMessage(t *testing.T) {
	h := newHarness(t)
	dm := slacktest.DMChannel(alice.ID)
	h.event(slacktest.DirectMessage(alice.ID, h.slack.NextTS(), "", "hi, I need a database called notes for billing"))
	mustContain(t, "the answer", h.lastMessage(dm).Text, "name `notes`, team *billing*", "Which environment?")
	h.event(slacktest.DirectMessage(alice.ID, h.slack.NextTS(), "", "dev"))
	mustContain(t, "the answer", h.lastMessage(dm).Text, "Who is it for?")
}
