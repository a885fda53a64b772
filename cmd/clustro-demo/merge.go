package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/spf13/cobra"
)

// mergeCmd is `clustro-demo merge`: a reviewer merging a pull request.
func mergeCmd(e *env, dir *string) *cobra.Command {
	var ghURL, token, repo string
	cmd := &cobra.Command{
		Use:   "merge <pull request number>",
		Short: "Merge a pull request on a running demo's GitHub emulator, as a reviewer would",
		Long: `Merge acts on a demo left running with ` + "`make demo ARGS=--keep`" + `, reading
its addresses and throwaway secrets from the state file in its directory
(--dir, default .demo). It merges the pull request through the emulator's
API (PUT /repos/{owner}/{repo}/pulls/{n}/merge, with the demo's token).
GitHub then sends clustro the pull_request webhook, and clustro applies the
change: follow it in the demo's terminal. The pull request's page has a
Merge button too.`,
		Example: "  clustro-demo merge 2",
	}
	cmd.Flags().StringVar(&ghURL, "github-url", "", "the GitHub emulator's base URL (default: from the state file)")
	cmd.Flags().StringVar(&token, "token", "", "the GitHub token (default: from the state file)")
	cmd.Flags().StringVar(&repo, "repo", "", "the repository, owner/name (default: from the state file)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return cli.Usagef("merge needs one pull request number, like: clustro-demo merge 2")
		}
		n, err := strconv.Atoi(strings.TrimPrefix(args[0], "#"))
		if err != nil || n < 1 {
			return cli.Usagef("merge: %q is not a pull request number", args[0])
		}
		st := demoState{GitHubURL: ghURL, GitHubToken: token, GitHubRepo: repo}
		if ghURL == "" || token == "" || repo == "" {
			if st, err = readDemoState(statePath(*dir)); err != nil {
				return err
			}
			st.GitHubURL, st.GitHubToken, st.GitHubRepo = orDefault(ghURL, st.GitHubURL), orDefault(token, st.GitHubToken), orDefault(repo, st.GitHubRepo)
		}
		return merge(cmd.Context(), e.stdout, st, n)
	}
	return cmd
}

// merge merges pull request n through the emulator's API.
func merge(ctx context.Context, out io.Writer, st demoState, n int) error {
	base := strings.TrimSuffix(st.GitHubURL, "/")
	page := fmt.Sprintf("%s/%s/pull/%d", base, st.GitHubRepo, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/repos/%s/pulls/%d/merge", base, st.GitHubRepo, n),
		strings.NewReader(`{"merge_method":"merge"}`))
	if err != nil {
		return fmt.Errorf("merge: %w", err)
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
