package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/gitops/githubtest"
)

// TestHelperArgumentErrors: bad arguments to slash and merge are usage
// errors (status 2); no running demo is a plain error saying how to start
// one.
func TestHelperArgumentErrors(t *testing.T) {
	missing := t.TempDir()
	dead := t.TempDir()
	gone := "http://" + freeAddr(t)
	if err := writeDemoState(statePath(dead), demoState{URL: gone, SlackSigningSecret: "s", GitHubURL: gone, GitHubToken: "t", GitHubRepo: "acme/infra"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(statePath(dead)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi.Mode(), err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"slash"}, 2, `needs a slash command, like: clustro-demo slash "/pg list"`},
		{[]string{"slash", "pg list"}, 2, `"pg list" is not a slash command`},
		{[]string{"merge"}, 2, "needs one pull request number"},
		{[]string{"merge", "1", "2"}, 2, "needs one pull request number"},
		{[]string{"merge", "abc"}, 2, `"abc" is not a pull request number`},
		{[]string{"merge", "0"}, 2, `"0" is not a pull request number`},
		{[]string{"slash", "--dir", missing, "/pg list"}, 1, "no demo is running (no " + statePath(missing) + "): start one with `make demo ARGS=--keep`"},
		{[]string{"--dir", missing, "merge", "1"}, 1, "no demo is running"},
		{[]string{"slash", "--dir", dead, "/pg list"}, 1, "nothing answers at " + gone},
		{[]string{"merge", "--dir", dead, "1"}, 1, "nothing answers at " + gone},
	} {
		r := clustroDemo(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("clustro-demo %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
}

// freeAddr is an address on 127.0.0.1 where nothing listens (another
// process may take it meanwhile).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestSlashAndMerge: slash signs a command as Slack would and prints the
// acknowledgement and the replies on the response_url, against a real
// clustro serve; merge merges a pull request through the emulator's API.
func TestSlashAndMerge(t *testing.T) {
	slack := slacktest.New(t)
	const secret = "dev-test-signing-secret"
	dir := t.TempDir()
	p, err := startServe(context.Background(), serveOptions{bin: clustroBinary(t), dir: dir, getenv: os.Getenv, logPath: filepath.Join(dir, "clustro.log"),
		env: map[string]string{"CLUSTRO_STORE": filepath.Join(dir, "clustro.db"), "CLUSTRO_SLACK_SIGNING_SECRET": secret,
			"CLUSTRO_SLACK_BOT_TOKEN": slack.BotToken, "CLUSTRO_SLACK_API_URL": slack.APIURL()}})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "clustro.log"))
		t.Fatalf("start clustro serve: %v\n%s", err, log)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	})

	gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra"})
	openPull(t, gh)

	demoDir := t.TempDir()
	if err := writeDemoState(statePath(demoDir), demoState{URL: p.url, SlackSigningSecret: secret, Channel: "CPLATFORM", ChannelName: "platform",
		UserID: "UADA", UserName: "ada", GitHubURL: gh.URL(), GitHubToken: gh.Token(), GitHubRepo: "acme/infra"}); err != nil {
		t.Fatal(err)
	}
	// The acknowledgement.
	if r := clustroDemo(t, nil, "slash", "--dir", demoDir, "/pg help"); r.code != 0 || !strings.Contains(r.stdout, "/pg new") || strings.Contains(r.stdout, "*Usage*") {
		t.Errorf("slash /pg help: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A reply that comes later, on the response_url.
	if r := clustroDemo(t, nil, "slash", "--dir", demoDir, "/pg", "list"); r.code != 0 || !strings.Contains(r.stdout, "none yet") {
		t.Errorf("slash /pg list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A wrong secret is refused by serve.
	if r := clustroDemo(t, nil, "slash", "--url", p.url, "--signing-secret", "wrong", "/pg help"); r.code != 1 || !strings.Contains(r.stderr, "answered 401") {
		t.Errorf("slash with a wrong secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := clustroDemo(t, nil, "merge", "--dir", demoDir, "1")
	if r.code != 0 || !strings.Contains(r.stdout, "Merged pull request #1") || !strings.Contains(r.stdout, gh.URL()+"/acme/infra/pull/1") {
		t.Errorf("merge 1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if pr, err := gh.PullRequest(1); err != nil || !pr.GetMerged() {
		t.Errorf("pull request #1 not merged: %v", err)
	}
	if r := clustroDemo(t, nil, "merge", "--dir", demoDir, "1"); r.code != 1 || !strings.Contains(r.stderr, "GitHub answered 405 to merging pull request #1") {
		t.Errorf("merge of a merged pull request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := clustroDemo(t, nil, "merge", "--dir", demoDir, "7"); r.code != 1 || !strings.Contains(r.stderr, "GitHub answered 404") {
		t.Errorf("merge of a missing pull request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// openPull opens pull request #1 on the emulator: a branch with one commit.
func openPull(t *testing.T, gh *githubtest.Server) {
	t.Helper()
	ctx := context.Background()
	main, err := gh.Resolve("main")
	if err != nil {
		t.Fatal(err)
	}
	c := gh.Client()
	if _, _, err := c.Git.CreateRef(ctx, "acme", "infra", &github.Reference{Ref: github.String("refs/heads/change"), Object: &github.GitObject{SHA: github.String(main)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.PushCommit("change", map[string][]byte{"notes.md": []byte("a change\n")}, nil, "a change"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PullRequests.Create(ctx, "acme", "infra", &github.NewPullRequest{Title: github.String("a change"), Head: github.String("change"), Base: github.String("main")}); err != nil {
		t.Fatal(err)
	}
}
