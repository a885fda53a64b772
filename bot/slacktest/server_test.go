package slacktest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// recordingT records what the fake reports at cleanup.
type recordingT struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recordingT) Helper()                   {}
func (r *recordingT) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recordingT) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

func client(s *Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(s.APIURL()))
}

// TestUnknownMethodFailsTheTest: a method the fake does not know answers
// unknown_method and fails the test at cleanup.
func TestUnknownMethodFailsTheTest(t *testing.T) {
	rt := &recordingT{TB: t}
	s := New(rt)
	_, err := client(s, s.BotToken).GetUserInfoContext(context.Background(), "U1")
	if slackErr(err) != "unknown_method" {
		t.Errorf("users.info answered %v", err)
	}
	for _, f := range rt.cleanups {
		f()
	}
	if len(rt.errs) != 1 || !strings.Contains(rt.errs[0], "users.info") {
		t.Errorf("reported %v", rt.errs)
	}
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestStrictness(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	good := client(s, s.BotToken)
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Title", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "Hello", false, false), nil, nil)}}}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"wrong token", func() error { _, err := client(s, "xoxb-other").AuthTestContext(ctx); return err }, "invalid_auth"},
		{"no token", func() error { _, err := client(s, "").AuthTestContext(ctx); return err }, "not_authed"},
		{"message without text", func() error { _, _, err := good.PostMessageContext(ctx, "C1"); return err }, "no_text"},
		{"update of a message never posted", func() error {
			_, _, _, err := good.UpdateMessageContext(ctx, "C1", "1.2", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"unknown trigger", func() error { _, err := good.OpenViewContext(ctx, "123.456", modal); return err }, "invalid_trigger_id"},
		{"title too long", func() error {
			m := modal
			m.Title = slack.NewTextBlockObject("plain_text", "A title far too long for Slack", false, false)
			_, err := good.OpenViewContext(ctx, s.TriggerID(), m)
			return err
		}, "invalid_arguments"},
		{"unknown group", func() error { _, err := good.GetUserGroupMembersContext(ctx, "SNONE"); return err }, "no_such_subteam"},
		{"socket mode with the bot token", func() error {
			_, _, err := slack.New(s.BotToken, slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(s.BotToken)).StartSocketModeContext(ctx)
			return err
		}, "not_allowed_token_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := slackErr(tc.call()); got != tc.want {
				t.Errorf("error %q, want %q", got, tc.want)
			}
		})
	}

	// A trigger_id works once, within its 3 s.
	tr := s.TriggerID()
	if _, err := good.OpenViewContext(ctx, tr, modal); err != nil {
		t.Fatalf("views.open: %v", err)
	}
	if _, err := good.OpenViewContext(ctx, tr, modal); slackErr(err) != "exchanged_trigger_id" {
		t.Errorf("second use: %v", err)
	}
	s.TriggerTTL = 0
	if _, err := good.OpenViewContext(ctx, s.TriggerID(), modal); slackErr(err) != "expired_trigger_id" {
		t.Errorf("late use: %v", err)
	}

	// 429 with Retry-After, as slack-go reads it.
	s.FailNext(1, http.StatusTooManyRequests, 7*time.Second)
	_, _, err := good.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Errorf("429 read as %v", err)
	}
	if _, _, err := good.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false)); err != nil {
		t.Errorf("after the fault: %v", err)
	}

	// A response_url takes five posts.
	u := s.ResponseURL()
	for i := range 6 {
		_, _, err := good.PostMessageContext(ctx, "", slack.MsgOptionText("hi", false), slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral))
		if (err != nil) != (i == 5) {
			t.Errorf("post %d on the response_url: %v", i+1, err)
		}
	}
	if c := s.CallsTo("chat.postMessage"); len(c) != 3 || c[0].Args.Get("token") != "" || strings.Contains(string(c[2].Body), s.BotToken) {
		t.Errorf("calls recorded: %+v (tokens are not kept)", c)
	}
}

// TestRefusesOverLimitPayloads: a message or view over Block Kit's limits
// is refused as Slack refuses it, on every method that takes one, with
// the problem and its JSON pointer in the error (slack-go reads them into
// SlackErrorResponse); a response_url answers 400.
func TestRefusesOverLimitPayloads(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	api := client(s, s.BotToken)
	long := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("x", 3460), false, false), nil, nil))
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("ok", false))
	if err != nil {
		t.Fatal(err)
	}
	const want = "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
	for name, call := range map[string]func() error{
		"chat.postMessage": func() error {
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("t", false), long)
			return err
		},
		"chat.update": func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("t", false), long)
			return err
		},
		"chat.postEphemeral": func() error {
			_, err := api.PostEphemeralContext(ctx, "C1", "U1", slack.MsgOptionText("t", false), long)
			return err
		},
	} {
		err := call()
		var se slack.SlackErrorResponse
		if !errors.As(err, &se) || se.Err != "invalid_blocks" {
			t.Errorf("%s: %v, want invalid_blocks", name, err)
			continue
		}
		if len(se.ResponseMetadata.Messages) != 1 || se.ResponseMetadata.Messages[0] != "[ERROR] "+want ||
			len(se.Errors) != 1 || se.Errors[0].Message == nil || *se.Errors[0].Message != want {
			t.Errorf("%s: details %+v %+v", name, se.ResponseMetadata, se.Errors)
		}
	}
	if m, _ := s.Message("C1", ts); m.Text != "ok" || m.Updates != 0 {
		t.Errorf("a refused update changed the message: %+v", m)
	}
	u := s.ResponseURL()
	_, _, err = api.PostMessageContext(ctx, "", slack.MsgOptionText("t", false), long, slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusBadRequest {
		t.Errorf("response_url: %v, want a 400", err)
	}
	if c := s.CallsTo("response_url"); len(c) != 1 || c[0].Error != "invalid_blocks" {
		t.Errorf("response_url calls: %+v", c)
	}
	tooMany := make([]slack.Block, 51)
	for i := range tooMany {
		tooMany[i] = slack.NewDividerBlock()
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("t", false), slack.MsgOptionBlocks(tooMany...)); slackErr(err) != "invalid_blocks" {
		t.Errorf("51 blocks: %v", err)
	}
	big := make([]slack.Block, 5)
	for i := range big {
		big[i] = slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("y", 3000), false, false), nil, nil)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("t", false), slack.MsgOptionBlocks(big...)); slackErr(err) != "msg_blocks_too_long" {
		t.Errorf("15,000 characters of blocks: %v", err)
	}
	v := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "A title far too long for Slack", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}
	_, err = api.OpenViewContext(ctx, s.TriggerID(), v)
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "invalid_arguments" || len(se.ResponseMetadata.Messages) == 0 ||
		!strings.Contains(se.ResponseMetadata.Messages[0], "[json-pointer:/view/title/text]") {
		t.Errorf("views.open with a long title: %v %+v", err, se.ResponseMetadata)
	}
}

// TestViewsUpdate: views.update replaces an open view (by id, with the
// hash of the version it replaces when given), keeps what the user picked
// while the new view offers it, and refuses an unknown view, a stale hash
// or an invalid view.
func TestViewsUpdate(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	api := client(s, s.BotToken)
	form := func(title string, sizes ...string) slack.ModalViewRequest {
		opts := make([]*slack.OptionBlockObject, len(sizes))
		for i, sz := range sizes {
			opts[i] = slack.NewOptionBlockObject(sz, slack.NewTextBlockObject("plain_text", sz, false, false), nil)
		}
		env := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, "env",
			slack.NewOptionBlockObject("dev", slack.NewTextBlockObject("plain_text", "dev", false, false), nil),
			slack.NewOptionBlockObject("prod", slack.NewTextBlockObject("plain_text", "prod", false, false), nil))
		size := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, "size", opts...)
		return slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", title, false, false),
			Submit: slack.NewTextBlockObject("plain_text", "Go", false, false), CallbackID: "cb",
			Blocks: slack.Blocks{BlockSet: []slack.Block{
				slack.NewInputBlock("env", slack.NewTextBlockObject("plain_text", "Env", false, false), nil, env).WithDispatchAction(true),
				slack.NewInputBlock("size", slack.NewTextBlockObject("plain_text", "Size", false, false), nil, size),
			}}}
	}
	opened, err := api.OpenViewContext(ctx, s.TriggerID(), form("Form", "S", "XL"))
	if err != nil {
		t.Fatal(err)
	}
	id, hash := opened.View.ID, opened.View.Hash
	if id == "" || hash == "" {
		t.Fatalf("views.open returned %+v", opened.View)
	}
	// The user picks a size, then an environment: Slack sends that.
	if _, err := s.SelectInView(id, "size", "XL", User{ID: "U1"}); err == nil {
		t.Error("a select without dispatch_action sent a block_actions")
	}
	cb, err := s.SelectInView(id, "env", "dev", User{ID: "U1"})
	if err != nil {
		t.Fatal(err)
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.View.ID != id || cb.View.Hash != hash || cb.Container.Type != "view" ||
		cb.ActionCallback.BlockActions[0].SelectedOption.Value != "dev" || cb.View.State.Values["size"]["size"].SelectedOption.Value != "XL" {
		t.Errorf("block_actions = %+v", cb)
	}
	for _, tc := range []struct {
		name, viewID, hash string
		view               slack.ModalViewRequest
		want               string
	}{
		{"unknown view", "V404", "", form("Form", "S"), "not_found"},
		{"stale hash", id, "1.stale", form("Form", "S"), "hash_conflict"},
		{"invalid view", id, hash, form("A title far too long for Slack", "S"), "invalid_arguments"},
	} {
		if _, err := api.UpdateViewContext(ctx, tc.view, "", tc.hash, tc.viewID); slackErr(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	updated, err := api.UpdateViewContext(ctx, form("Form", "S", "M"), "", hash, id)
	if err != nil {
		t.Fatal(err)
	}
	if updated.View.ID != id || updated.View.Hash == hash {
		t.Errorf("updated view %s hash %s", updated.View.ID, updated.View.Hash)
	}
	// XL is no longer offered: dropped; dev is kept.
	sub, err := s.SubmitView(id, User{ID: "U1"}, map[string]string{"size": "M"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sub.View.State.Values["env"]["env"].SelectedOption.Value; got != "dev" {
		t.Errorf("env after the update: %q", got)
	}
	if _, err := s.SubmitView(id, User{ID: "U1"}, map[string]string{"size": "XL"}); err == nil {
		t.Error("submitted a size the updated view does not offer")
	}
	if vs := s.Views(); len(vs) != 1 || vs[0].Updates != 1 || vs[0].State["size"] != "" {
		t.Errorf("views = %+v", vs)
	}
}
