package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/internal/testutil"
)

// demoTestEnv is the test's environment with the toolchain located as the
// Makefile exports it.
func demoTestEnv(t *testing.T) func(string) string {
	t.Helper()
	tools := testutil.ToolsDir(t)
	_, cli := testutil.Terraform(t)
	located := map[string]string{"CLUSTRO_TOOLS": tools, "TF_CLI_CONFIG_FILE": cli}
	return func(k string) string {
		if v, ok := located[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// TestDemo runs `clustro demo` end to end: the transcript shows each step
// from the Slack mention to psql's answer, it exits 0, and nothing it
// started is left running.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	began := time.Now()
	err := run(ctx, []string{"demo", "--dir", dir}, demoTestEnv(t), strings.NewReader(""), &stdout, &stderr)
	out := stdout.String()
	t.Logf("clustro demo took %s; its transcript:\n%s", time.Since(began).Round(time.Second), out)
	if err != nil {
		t.Fatalf("clustro demo: exit %d: %v\n%s", exitCode(err), err, stderr.String())
	}

	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^#platform  ada: @clustro I need a postgres for billing, called ledger$`),
		// A question of the bot, with its buttons, and the click.
		regexp.MustCompile(`(?m)^  clustro: @ada .*\n\s+Which environment\?\n\s+\[dev.*\] .*\[prod \(Production\)\]`),
		regexp.MustCompile(`(?m)^  ada clicks \[prod \(Production\)\]$`),
		regexp.MustCompile(`(?m)^  ada clicks \[SME\]$`),
		// A typed answer, the summary card and its confirmation.
		regexp.MustCompile(`(?m)^  ada: reports$`),
		regexp.MustCompile(`(?m)^\s+\[Confirm\] \[Edit\] \[Cancel\]$`),
		regexp.MustCompile(`(?m)^  ada clicks \[Confirm\]$`),
		// The pull request, its diff and plan, the merge.
		regexp.MustCompile(`(?m)^GitHub  PR #1 "clustro: create database billing/ledger \(prod, M\)"  http://127\.0\.0\.1:\d+/acme/infra/pull/1$`),
		regexp.MustCompile(`diff: .*databases/prod/billing/ledger/main\.tf \(\+\d+\)`),
		regexp.MustCompile(`(?m)^\s+size\s+= "M"$`),
		regexp.MustCompile(`(?m)^  clustro/plan: success  Plan: \d+ to add, 0 to change, 0 to destroy\.$`),
		regexp.MustCompile(`(?m)^GitHub  grace reviews the plan and merges PR #1$`),
		regexp.MustCompile(`(?m)^  request ready \(`),
		// Ready in the thread with the Grafana link; the URI by DM only.
		regexp.MustCompile(`(?m)^  clustro: prod/billing/ledger is ready: ledger-rw\.billing-prod\.svc\.cluster\.local`),
		regexp.MustCompile(`Grafana dashboard: https://grafana\.example\.com/d/cloudnative-pg/`),
		regexp.MustCompile("(?m)^DM to ada \\(private\\)  clustro: .*\n.*URI: `postgresql://"),
		regexp.MustCompile(`(?m)^  clustro \(status card, updated in place\): prod/billing/ledger · create · `),
		regexp.MustCompile(`(?m)^#platform  the status card now reads: prod/billing/ledger · create · ready$`),
		regexp.MustCompile(`(?m)^\$ psql "postgresql://[^"]+" -c "select current_database\(\), current_user, version\(\)"$`),
		regexp.MustCompile(`(?m)^Stopped clustro serve, .*the control plane in .*; nothing is left running`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the transcript lacks %s", want)
		}
	}
	// Only the direct message holds the URI.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "postgresql://") && strings.HasPrefix(line, "  clustro:") {
			t.Errorf("a URI in the channel: %s", line)
		}
	}
	// psql answered from the database the bot made.
	m := regexp.MustCompile(`\$ psql "(postgresql://[^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no psql command in the transcript")
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if psqlRow := regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(db) + ` +\| ` + regexp.QuoteMeta(u.User.Username()) + ` +\| PostgreSQL 15`); db == "" || !psqlRow.MatchString(out) || !strings.Contains(out, "(1 row)") {
		t.Errorf("no row of psql naming the database %q", db)
	}

	// Nothing is left: the control plane's directory is gone, no address
	// the demo printed answers, the state file is removed, the logs stay.
	if kc := regexp.MustCompile(`kubeconfig (\S+)`).FindStringSubmatch(out); kc == nil {
		t.Error("no kubeconfig in the transcript")
	} else if _, err := os.Stat(filepath.Dir(kc[1])); !os.IsNotExist(err) {
		t.Errorf("the control plane's directory %s is still there (%v)", filepath.Dir(kc[1]), err)
	}
	addrs := regexp.MustCompile(`(?:https?://|at )(127\.0\.0\.1:\d+)`).FindAllStringSubmatch(out, -1)
	if len(addrs) < 5 {
		t.Errorf("only %d addresses in the transcript", len(addrs))
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a[1], time.Second); err == nil {
			c.Close()
			t.Errorf("%s still answers after the demo", a[1])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, demoStateFile)); !os.IsNotExist(err) {
		t.Errorf("the state file is left behind (%v)", err)
	}
	for _, f := range []string{"clustro.log", "cluster.log", demoMarker} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "clustro.log")); !bytes.Contains(log, []byte(`"message":"clustro serve stopped"`)) {
		t.Error("clustro.log does not show serve stopping cleanly")
	}
}

// TestDemoRefusesAForeignDirectory: --dir is recreated, so a directory the
// demo did not make is refused and left alone.
func TestDemoRefusesAForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := clustro(t, nil, "demo", "--dir", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "was not made by clustro demo") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
	if r := clustro(t, nil, "demo", "extra"); r.code != 2 {
		t.Errorf("demo with an argument: exit %d", r.code)
	}
}

// TestDevArgumentErrors: bad arguments are usage errors (status 2); no
// running demo is a plain error saying how to start one.
func TestDevArgumentErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "state.json")
	dead := filepath.Join(t.TempDir(), "state.json")
	port, err := freeLocalPort()
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := writeDemoState(dead, demoState{URL: gone, SlackSigningSecret: "s", GitHubURL: gone, GitHubToken: "t", GitHubRepo: "acme/infra"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dead); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v %v", fi.Mode(), err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dev", "slash"}, 2, `needs a slash command, like: clustro dev slash "/pg list"`},
		{[]string{"dev", "slash", "pg list"}, 2, `"pg list" is not a slash command`},
		{[]string{"dev", "merge"}, 2, "needs one pull request number"},
		{[]string{"dev", "merge", "1", "2"}, 2, "needs one pull request number"},
		{[]string{"dev", "merge", "abc"}, 2, `"abc" is not a pull request number`},
		{[]string{"dev", "merge", "0"}, 2, `"0" is not a pull request number`},
		{[]string{"dev", "bogus"}, 2, "unknown command"},
		{[]string{"dev", "slash", "--state", missing, "/pg list"}, 1, "no demo is running (no " + missing + "): start one with `make demo ARGS=--keep`"},
		{[]string{"dev", "merge", "--state", missing, "1"}, 1, "no demo is running"},
		{[]string{"dev", "slash", "--state", dead, "/pg list"}, 1, "nothing answers at " + gone},
		{[]string{"dev", "merge", "--state", dead, "1"}, 1, "nothing answers at " + gone},
	} {
		r := clustro(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("clustro %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
}

// TestDevSlashAndMerge: dev slash signs a command as Slack would and
// prints the acknowledgement and the replies on the response_url; dev
// merge merges a pull request through the emulator's API.
func TestDevSlashAndMerge(t *testing.T) {
	slack := slacktest.New(t)
	const secret = "dev-test-signing-secret"
	p := startServe(t, t.TempDir(), "CLUSTRO_SLACK_SIGNING_SECRET="+secret,
		"CLUSTRO_SLACK_BOT_TOKEN="+slack.BotToken, "CLUSTRO_SLACK_API_URL="+slack.APIURL())

	gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra"})
	openPull(t, gh)

	state := filepath.Join(t.TempDir(), "state.json")
	if err := writeDemoState(state, demoState{URL: "http://" + p.addr, SlackSigningSecret: secret, Channel: "CPLATFORM", ChannelName: "platform",
		UserID: "UADA", UserName: "ada", GitHubURL: gh.URL(), GitHubToken: gh.Token(), GitHubRepo: "acme/infra"}); err != nil {
		t.Fatal(err)
	}
	// The acknowledgement.
	if r := clustro(t, nil, "dev", "slash", "--state", state, "/pg help"); r.code != 0 || !strings.Contains(r.stdout, "/pg new") || strings.Contains(r.stdout, "*Usage*") {
		t.Errorf("dev slash /pg help: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A reply that comes later, on the response_url.
	if r := clustro(t, nil, "dev", "slash", "--state", state, "/pg", "list"); r.code != 0 || !strings.Contains(r.stdout, "none yet") {
		t.Errorf("dev slash /pg list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A wrong secret is refused by serve.
	if r := clustro(t, nil, "dev", "slash", "--url", "http://"+p.addr, "--signing-secret", "wrong", "/pg help"); r.code != 1 || !strings.Contains(r.stderr, "answered 401") {
		t.Errorf("dev slash with a wrong secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := clustro(t, nil, "dev", "merge", "--state", state, "1")
	if r.code != 0 || !strings.Contains(r.stdout, "Merged pull request #1") || !strings.Contains(r.stdout, gh.URL()+"/acme/infra/pull/1") {
		t.Errorf("dev merge 1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if pr, err := gh.PullRequest(1); err != nil || !pr.GetMerged() {
		t.Errorf("pull request #1 not merged: %v", err)
	}
	if r := clustro(t, nil, "dev", "merge", "--state", state, "1"); r.code != 1 || !strings.Contains(r.stderr, "GitHub answered 405 to merging pull request #1") {
		t.Errorf("dev merge of a merged pull request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := clustro(t, nil, "dev", "merge", "--state", state, "7"); r.code != 1 || !strings.Contains(r.stderr, "GitHub answered 404") {
		t.Errorf("dev merge of a missing pull request: exit %d\n%s%s", r.code, r.stdout, r.stderr)
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
