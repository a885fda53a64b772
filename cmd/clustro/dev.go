package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/bot/slacktest"
)

// How long `dev slash` waits for answers on the response_url: the bot
// answers within Slack's 3 s, and reads the store after that.
const (
	devFirstReply  = 10 * time.Second
	devMoreReplies = time.Second
)

// devCmd is `clustro dev`, the parent of the helpers for a running demo.
func devCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Helpers for a running `clustro demo --keep`: send a slash command, merge a pull request",
		Long: `The dev helpers act on a demo left running with ` + "`make demo ARGS=--keep`" + `,
reading its addresses and throwaway secrets from its state file
(--state, default .demo/state.json): dev slash is a person typing a slash
command in Slack, dev merge a reviewer merging a pull request on GitHub.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	state := cmd.PersistentFlags().String("state", filepath.Join(defaultDemoDir, demoStateFile), "the running demo's state file")
	cmd.AddCommand(devSlashCmd(e, state), devMergeCmd(e, state))
	return cmd
}

// devSlashCmd is `clustro dev slash`: a person typing a slash command.
func devSlashCmd(e *env, state *string) *cobra.Command {
	var serveURL, secret, user, channel string
	cmd := &cobra.Command{
		Use:   `slash "/pg <subcommand> ..."`,
		Short: "Send a signed slash command to the demo's clustro serve and print the reply",
		Long: `Slash sends the command as Slack would (a signed form post to
/slack/commands, from the demo's user in its channel) and prints the bot's
ephemeral reply: the acknowledgement, and what comes on the response_url
in the next seconds. Messages the bot posts in the channel show in the
demo's terminal.`,
		Example: `  clustro dev slash "/pg list"
  clustro dev slash "/pg status ledger env=prod team=billing"`,
	}
	cmd.Flags().StringVar(&serveURL, "url", "", "clustro serve's base URL (default: from the state file)")
	cmd.Flags().StringVar(&secret, "signing-secret", "", "the Slack signing secret (default: from the state file)")
	cmd.Flags().StringVar(&user, "user", "", "the Slack user id who types it (default: the demo's user)")
	cmd.Flags().StringVar(&channel, "channel", "", "the Slack channel id it is typed in (default: the demo's channel)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		line := strings.TrimSpace(strings.Join(args, " "))
		if line == "" {
			return usagef("dev slash needs a slash command, like: clustro dev slash \"/pg list\"")
		}
		if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "/ ") {
			return usagef("dev slash: %q is not a slash command; want one like \"/pg list\"", line)
		}
		st := demoState{URL: serveURL, SlackSigningSecret: secret}
		if serveURL == "" || secret == "" {
			var err error
			if st, err = readDemoState(*state); err != nil {
				return err
			}
			st.URL = orDefault(serveURL, st.URL)
			st.SlackSigningSecret = orDefault(secret, st.SlackSigningSecret)
		}
		st.UserID = orDefault(user, orDefault(st.UserID, demoUserID))
		st.Channel = orDefault(channel, orDefault(st.Channel, demoChannel))
		command, text, _ := strings.Cut(line, " ")
		return devSlash(cmd.Context(), e.stdout, st, command, strings.TrimSpace(text))
	}
	return cmd
}

// orDefault is a, or b when a is empty.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// devSlash sends one slash command and prints the replies.
func devSlash(ctx context.Context, out io.Writer, st demoState, command, text string) error {
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
	wait := devFirstReply
	if printed {
		wait = devMoreReplies
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case b := <-replies:
			if printReply(out, b, names) {
				printed = true
			}
			timer.Reset(devMoreReplies)
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

// notRunning explains a failed connection to the demo.
func notRunning(u string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: nothing answers at %s; start one with `make demo ARGS=--keep` and leave it running", errNoDemo, u)
	}
	return fmt.Errorf("reach the demo at %s: %w", u, err)
}

// devMergeCmd is `clustro dev merge`: a reviewer merging a pull request.
func devMergeCmd(e *env, state *string) *cobra.Command {
	var ghURL, token, repo string
	cmd := &cobra.Command{
		Use:   "merge <pull request number>",
		Short: "Merge a pull request on the demo's GitHub emulator, as a reviewer would",
		Long: `Merge merges the pull request through the emulator's API (PUT
/repos/{owner}/{repo}/pulls/{n}/merge, with the demo's token). GitHub then
sends clustro the pull_request webhook, and clustro applies the change:
follow it in the demo's terminal. The pull request's page has a Merge
button too.`,
		Example: "  clustro dev merge 2",
	}
	cmd.Flags().StringVar(&ghURL, "github-url", "", "the GitHub emulator's base URL (default: from the state file)")
	cmd.Flags().StringVar(&token, "token", "", "the GitHub token (default: from the state file)")
	cmd.Flags().StringVar(&repo, "repo", "", "the repository, owner/name (default: from the state file)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("dev merge needs one pull request number, like: clustro dev merge 2")
		}
		n, err := strconv.Atoi(strings.TrimPrefix(args[0], "#"))
		if err != nil || n < 1 {
			return usagef("dev merge: %q is not a pull request number", args[0])
		}
		st := demoState{GitHubURL: ghURL, GitHubToken: token, GitHubRepo: repo}
		if ghURL == "" || token == "" || repo == "" {
			if st, err = readDemoState(*state); err != nil {
				return err
			}
			st.GitHubURL, st.GitHubToken, st.GitHubRepo = orDefault(ghURL, st.GitHubURL), orDefault(token, st.GitHubToken), orDefault(repo, st.GitHubRepo)
		}
		return devMerge(cmd.Context(), e.stdout, st, n)
	}
	return cmd
}

// devMerge merges pull request n through the emulator's API.
func devMerge(ctx context.Context, out io.Writer, st demoState, n int) error {
	base := strings.TrimSuffix(st.GitHubURL, "/")
	page := fmt.Sprintf("%s/%s/pull/%d", base, st.GitHubRepo, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/repos/%s/pulls/%d/merge", base, st.GitHubRepo, n),
		strings.NewReader(`{"merge_method":"merge"}`))
	if err != nil {
		return fmt.Errorf("dev merge: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+st.GitHubToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return notRunning(base, err)
	}
	defer resp.Body.Close()
	var res struct {
		SHA     string `json:"sha"`
		Merged  bool   `json:"merged"`
		Message string `json:"message"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	json.Unmarshal(body, &res)
	if resp.StatusCode != http.StatusOK || !res.Merged {
		msg := res.Message
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("GitHub answered %d to merging pull request #%d: %s (page: %s)", resp.StatusCode, n, msg, page)
	}
	fmt.Fprintf(out, "Merged pull request #%d as %s.\n", n, shortSHA(res.SHA))
	fmt.Fprintf(out, "GitHub sent clustro the pull_request webhook: it applies the change now (follow it in the demo's terminal).\n")
	fmt.Fprintf(out, "Page: %s\n", page)
	return nil
}

// shortSHA is a commit's abbreviated name.
func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
