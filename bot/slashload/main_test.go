package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/bot"
	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/store"
)

// TestRun drives a bot's Handler for a moment and reads the report.
func TestRun(t *testing.T) {
	const secret = "load-test-secret"
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	fake := slacktest.New(t)
	cfg.Slack.BotToken, cfg.Slack.SigningSecret, cfg.Slack.APIURL = config.Secret(fake.BotToken), secret, fake.APIURL()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "clustro.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := bot.New(bot.Deps{Store: st, Policy: &cfg.Policy, Config: cfg.Slack, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()

	var out, errOut bytes.Buffer
	args := []string{"-url", srv.URL, "-rate", "50", "-duration", "400ms"}
	if err := run(context.Background(), args, func(k string) string {
		return map[string]string{"CLUSTRO_SLACK_SIGNING_SECRET": secret}[k]
	}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"sent 20 in", "20 answered 200, 0 errors", "ack latency: p50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, out.String())
		}
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("/pg help called Slack %d times", n)
	}

	// /pg list is acknowledged empty and answered on the response_url,
	// slashload's receiver.
	out.Reset()
	args = []string{"-url", srv.URL, "-rate", "50", "-duration", "400ms", "-text", "list", "-secret", secret}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"20 answered 200, 0 errors", "answers on response_url: 20 of 20 delivered", "answer delay after its command: p50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, out.String())
		}
	}

	if err := run(context.Background(), []string{"-url", srv.URL}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Error("ran without a signing secret")
	}
}
