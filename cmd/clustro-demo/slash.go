package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/internal/cli"
)

// How long slash waits for answers on the response_url: the bot answers
// within Slack's 3 s, and reads the store after that.
const (
	slashFirstReply  = 10 * time.Second
	slashMoreReplies = time.Second
)

// slashCmd is `clustro-demo slash`: a person typing a slash command.
func slashCmd(e *env, dir *string) *cobra.Command {
	var serveURL, secret, user, channel string
	cmd := &cobra.Command{
		Use:   `slash "/pg <subcommand> ..."`,
		Short: "Send a signed slash command to a running demo's clustro serve and print the reply",
		Long: `Slash acts on a demo left running with ` + "`make demo ARGS=--keep`" + `, reading
its addresses and throwaway secrets from the state file in its directory
(--dir, default .demo). It sends the command as Slack would (a signed form
post to /slack/commands, from the demo's user in its channel) and prints
the bot's ephemeral reply: the acknowledgement, and what comes on the
response_url in the next seconds. Messages the bot posts in the channel
show in the demo's terminal.`,
		Example: `  clustro-demo slash "/pg list"
  clustro-demo slash "/pg status ledger env=prod team=billing"`,
	}
	cmd.Flags().StringVar(&serveURL, "url", "", "clustro serve's base URL (default: from the state file)")
	cmd.Flags().StringVar(&secret, "signing-secret", "", "the Slack signing secret (default: from the state file)")
	cmd.Flags().StringVar(&user, "user", "", "the Slack user id who types it (default: the demo's user)")
	cmd.Flags().StringVar(&channel, "channel", "", "the Slack channel id it is typed in (default: the demo's channel)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		line := strings.TrimSpace(strings.Join(args, " "))
		if line == "" {
			return cli.Usagef("slash needs a slash command, like: clustro-demo slash \"/pg list\"")
		}
		if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "/ ") {
			return cli.Usagef("slash: %q is not a slash command; want one like \"/pg list\"", line)
		}
		st := demoState{URL: serveURL, SlackSigningSecret: secret}
		if serveURL == "" || secret == "" {
			var err error
			if st, err = readDemoState(statePath(*dir)); err != nil {
				return err
			}
			st.URL = orDefault(serveURL, st.URL)
			st.SlackSigningSecret = orDefault(secret, st.SlackSigningSecret)
		}
		st.UserID = orDefault(user, orDefault(st.UserID, demoUserID))
		st.Channel = orDefault(channel, orDefault(st.Channel, demoChannel))
		command, text, _ := strings.Cut(line, " ")
		return slash(cmd.Context(), e.stdout, st, command, strings.TrimSpace(text))
	}
	return cmd
}

// slash sends one slash command and prints the replies.
func slash(ctx context.Context, out io.Writer, st demoState, command, text string) error {
	replies := make(chan []byte, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the response_url: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		select {
		case replies <- b:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	signer := slacktest.Signer{Secret: st.SlackSigningSecret}
	req, err := signer.Command(strings.TrimSuffix(st.URL, "/")+"/slack/commands", slacktest.Command{
		User: slacktest.User{ID: st.UserID, Name: orDefault(st.UserName, st.UserID)}, Channel: st.Channel,
		Command: command, Text: text, ResponseURL: "http://" + ln.Addr().String() + "/response"})
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req.WithContext(ctx))
	if err != nil {
		return notRunning(st.URL, err)
	}
	ack, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("clustro serve answered %d: %s", resp.StatusCode, strings.TrimSpace(string(ack)))
	}
	names := map[string]string{st.UserID: orDefault(st.UserName, st.UserID), slacktest.BotUserID: "clustro"}
	if st.ChannelName != "" {
		names[st.Channel] = st.ChannelName
	}
	printed := printReply(out, ack, names)
	wait := slashFirstReply
	if printed {
		wait = slashMoreReplies
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case b := <-replies:
			if printReply(out, b, names) {
				printed = true
			}
			timer.Reset(slashMoreReplies)
		case <-timer.C:
			if !printed {
				fmt.Fprintln(out, "(no reply to show: what the bot posted in the channel shows in the demo's terminal)")
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// printReply prints a slash command's reply (a JSON message); it reports
// whether there was anything to print.
func printReply(out io.Writer, body []byte, names map[string]string) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		return false
	}
	var r struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		fmt.Fprintln(out, strings.TrimSpace(string(body)))
		return true
	}
	content, _ := parseBlocks(r.Blocks)
	s := strings.Join(append(content.Sections, content.Context...), "\n")
	if s == "" {
		s = r.Text
	}
	if s = plainSlack(s, names); s == "" {
		return false
	}
	if len(content.Buttons) > 0 {
		s += "\n" + buttonsLine(content.Buttons)
	}
	fmt.Fprintln(out, s)
	return true
}
