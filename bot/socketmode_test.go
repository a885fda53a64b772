package bot

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
)

// TestSocketMode: over Socket Mode the same handlers answer: each envelope
// is acknowledged with what the HTTP answer would carry, and a dropped
// connection is opened again.
func TestSocketMode(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) {
		c.SigningSecret = ""
		c.AppToken = slacktest.DefaultAppToken
	})
	h.bot.sleep = sleepContext // real waits: the reconnection backoff is a second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	send := func(typ string, payload any) json.RawMessage {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
		defer scancel()
		ack, err := h.slack.SocketSend(sctx, typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	form := h.signer.Form(slacktest.Command{User: alice, Channel: general, Text: "help"})
	cmd := map[string]string{}
	for k := range form {
		cmd[k] = form.Get(k)
	}
	var reply struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(send("slash_commands", cmd), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.ResponseType != "ephemeral" {
		t.Errorf("ack = %+v", reply)
	}
	mustContain(t, "the help", reply.Text, "/pg new", "/pg sizes")

	// The connection drops; the bot opens another and goes on.
	if err := h.slack.SocketDrop(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); h.slack.Connections() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bot did not reconnect")
		}
	}
	cmd["text"], cmd["trigger_id"] = "new", h.slack.TriggerID()
	if ack := send("slash_commands", cmd); string(ack) != "" && string(ack) != "null" {
		t.Errorf("/pg new acknowledged with %s", ack)
	}
	if len(h.slack.Views()) != 1 {
		t.Fatal("/pg new over Socket Mode opened no modal")
	}
	cb, err := h.slack.SubmitView(h.slack.Views()[0].ID, alice, map[string]string{"name": "Bad!", "team": "billing"})
	if err != nil {
		t.Fatal(err)
	}
	var errs struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	json.Unmarshal(send("interactive", &cb), &errs)
	if errs.ResponseAction != "errors" || errs.Errors["name"] == "" {
		t.Errorf("view submission acknowledged with %+v", errs)
	}

	ev := slacktest.EventCallback("EvSOCKET", slacktest.AppMention(alice.ID, general, h.slack.NextTS(), "", "postgres for billing"))
	send("events_api", ev)
	h.bot.settle()
	mustContain(t, "the answer to the mention", h.lastMessage(general).Text, "sure, let's ask")
}
