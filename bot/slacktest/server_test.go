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
	modal := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Title", false, false)}
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
