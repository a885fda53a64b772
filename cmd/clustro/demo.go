package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/internal/testutil/pgtest"
	"github.com/clustropg/clustro/templates"
)

// The demo's cast and places.
const (
	demoOwner       = "acme"
	demoRepo        = "infra"
	demoChannel     = "CPLATFORM"
	demoChannelName = "platform"
	// demoTeamChannel is team shop's channel (slack.teamChannels): where
	// the progress of its requests made through the REST API goes.
	demoTeamChannel     = "CSHOP"
	demoTeamChannelName = "shop"
	demoUserID          = "UADA"
	demoUserName        = "ada"
	demoReviewer        = "grace"
	demoGrafana         = "https://grafana.example.com"
	// The database the script asks for.
	demoEnv  = "prod"
	demoTeam = "billing"
	demoName = "ledger"
	// demoAsk is the first message, in #platform.
	demoAsk = "I need a postgres for billing, called ledger"
	// demoMarker marks a directory made by the demo, which it may recreate.
	demoMarker = ".clustro-demo"
	// demoQuery is what psql runs on the new database.
	demoQuery = "select current_database(), current_user, version()"
)

// Deadlines of the steps, generous for a loaded laptop.
const (
	demoReplyTimeout = 30 * time.Second
	demoPRTimeout    = 90 * time.Second
	demoPlanTimeout  = 3 * time.Minute
	demoReadyTimeout = 4 * time.Minute
	demoServeTimeout = 30 * time.Second
)

// demoAnswers are the buttons the script clicks, by question: what a
// person at a small company would choose for a production ledger.
func demoAnswers() map[string]string {
	return map[string]string{"environment": "prod", "clientType": "sme", "load": "medium", "backups": "daily", "dbcount": "1"}
}

// demoTyped are the free-text answers, by a phrase of the question.
func demoTyped() [][2]string {
	return [][2]string{{"Name the", "reports"}, {"Which team", demoTeam}, {"What should it be called", demoName}}
}

// demoCmd is `clustro demo`.
func demoCmd(e *env) *cobra.Command {
	var keep bool
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole loop on this machine: a Slack conversation to a working database",
		Long: `Demo starts everything ClustroPG talks to, on this machine and offline: a
Kubernetes control plane (etcd and kube-apiserver with the CloudNativePG
CRDs), a local PostgreSQL with a CloudNativePG stand-in, a Slack fake and a
GitHub emulator holding an infra repository, and clustro serve itself.

Then it plays a conversation as Slack would deliver it: someone asks the bot
for a database in #platform, answers its questions with the buttons, and
confirms. It prints the transcript, the pull request and its plan, merges it
as a reviewer, waits until the database is ready, and connects to it with
psql using the URI the bot sent by direct message.

Without --keep everything is stopped at the end. With --keep it stays up
until Ctrl-C, and the commands to go on by hand are printed (clustro dev
slash, clustro dev merge, curl on the REST API). The directory (--dir,
default .demo) is recreated each run and holds the store, the logs and
state.json (the throwaway secrets the dev helpers read).`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave everything running after the script, until Ctrl-C, and print how to go on by hand")
	cmd.Flags().StringVar(&dir, "dir", defaultDemoDir, "the demo's directory, recreated each run: store, logs, state.json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runDemo(cmd.Context(), e, dir, keep)
	}
	return cmd
}

// demo is one run of `clustro demo`: what it started, and the transcript.
type demo struct {
	e     *env
	out   io.Writer
	dir   string // absolute
	shown string // as given, for the messages
	began time.Time

	stops []demoStop

	cp       *controlplane.ControlPlane
	pg       *pgtest.Server
	slack    *slacktest.Server
	gh       *githubtest.Server
	url      string // clustro serve's base URL
	logPath  string
	state    demoState
	signer   slacktest.Signer
	http     *http.Client
	names    map[string]string
	clusterL *lockedFile

	// The transcript: messages printed per channel, the thread, the
	// bot's question waiting for an answer, and what the DM said.
	seen    map[string]int
	thread  string
	pending *botMessage
	events  int
	uri     string
	ready   bool
	// card is the status message the bot keeps up to date in the thread.
	card string
	// asked is when the user mentioned the bot.
	asked time.Time
	// step is where the script is, for a report when it stops.
	step string
}

// demoStop is one thing to stop at the end, newest first; what names it
// in the report ("" for files).
type demoStop struct {
	what string
	stop func()
}

// botMessage is a message of the bot, as first seen.
type botMessage struct {
	channel, ts string
	text        string
	content     slackContent
}

// runDemo runs the demo in dir: start, script, then stop (or wait, with keep).
func runDemo(ctx context.Context, e *env, dir string, keep bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	d := &demo{e: e, out: e.stdout, dir: abs, shown: dir, began: time.Now(), seen: map[string]int{},
		http: &http.Client{Timeout: 30 * time.Second},
		names: map[string]string{demoUserID: demoUserName, slacktest.BotUserID: "clustro",
			demoChannel: demoChannelName, demoTeamChannel: demoTeamChannelName}}
	if err := d.prepareDir(); err != nil {
		return err
	}
	defer d.teardown()
	fmt.Fprintf(d.out, "clustro demo: everything runs on this machine, offline; files in %s\n", dir)
	if err := d.start(ctx); err != nil {
		return d.stopped(err)
	}
	fmt.Fprintln(d.out)
	if err := d.converse(ctx); err != nil {
		return d.stopped(err)
	}
	if err := d.follow(ctx); err != nil {
		return d.stopped(err)
	}
	if err := d.psql(ctx); err != nil {
		return d.stopped(err)
	}
	if err := d.fakesServedAll(); err != nil {
		return d.stopped(err)
	}
	fmt.Fprintf(d.out, "\nFrom the Slack mention to a working database in %s (%s in all).\n", since(d.asked), since(d.began))
	if !keep {
		fmt.Fprintln(d.out, "Run `make demo ARGS=--keep` to keep it all running and try it by hand.")
		return nil
	}
	d.printNextSteps()
	d.watch(ctx)
	return nil
}

// fakesServedAll checks that the Slack fake and the GitHub emulator
// served every call clustro made: both are strict, and a call they do not
// implement means the demo no longer shows what a real Slack and GitHub
// would do.
func (d *demo) fakesServedAll() error {
	var bad []string
	for _, m := range d.slack.Unknown() {
		bad = append(bad, "Slack method "+m)
	}
	for _, r := range d.gh.Unexpected() {
		bad = append(bad, fmt.Sprintf("GitHub %s -> %d (%s)", r, r.StatusCode, r.Reason))
	}
	if len(bad) > 0 {
		d.step = "checking the fakes"
		return fmt.Errorf("clustro made calls the fakes do not implement:\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}

// prepareDir recreates the demo directory, refusing one the demo did not
// make and one where a demo still runs.
func (d *demo) prepareDir() error {
	if st, err := readDemoState(statePath(d.dir)); err == nil && answers(st.URL+"/healthz") {
		return usagef("a demo is already running in %s (pid %d, %s): stop it first (Ctrl-C in its terminal)", d.shown, st.PID, st.URL)
	}
	entries, err := os.ReadDir(d.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo directory: %w", err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(d.dir, demoMarker)); err != nil {
			return usagef("--dir %s exists and was not made by clustro demo (no %s in it): pick another directory", d.shown, demoMarker)
		}
		if err := os.RemoveAll(d.dir); err != nil {
			return fmt.Errorf("recreate %s: %w", d.shown, err)
		}
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", d.shown, err)
	}
	marker := "Made by `clustro demo`, which recreates this directory on each run.\n"
	if err := os.WriteFile(filepath.Join(d.dir, demoMarker), []byte(marker), 0o600); err != nil {
		return fmt.Errorf("create %s: %w", d.shown, err)
	}
	return nil
}

// answers reports whether a GET of u answers 200 within a second.
func answers(u string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// onStop registers what teardown stops.
func (d *demo) onStop(what string, stop func()) {
	d.stops = append(d.stops, demoStop{what, stop})
}

// teardown stops everything the demo started, newest first, and removes
// the state file: the dev helpers then say that no demo runs.
func (d *demo) teardown() {
	if len(d.stops) == 0 {
		return
	}
	began := time.Now()
	var names []string
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i].stop()
		if d.stops[i].what != "" {
			names = append(names, d.stops[i].what)
		}
	}
	d.stops = nil
	os.Remove(statePath(d.dir))
	if len(names) > 0 {
		fmt.Fprintf(d.out, "Stopped %s in %s; nothing is left running (logs stay in %s).\n",
			strings.Join(names, ", "), since(began), d.shown)
	}
}

// stopped reports where the script stopped, with the end of serve's log.
func (d *demo) stopped(err error) error {
	if errors.Is(err, context.Canceled) {
		return errors.New("demo interrupted")
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	if d.slack != nil {
		d.flushSlack()
	}
	fmt.Fprintf(d.out, "\nThe demo stopped")
	if d.step != "" {
		fmt.Fprintf(d.out, " while %s", d.step)
	}
	fmt.Fprintf(d.out, ": %v\n", err)
	if d.logPath != "" {
		fmt.Fprintf(d.out, "Last lines of %s:\n", filepath.Join(d.shown, filepath.Base(d.logPath)))
		for _, l := range tailLines(d.logPath, 25) {
			fmt.Fprintln(d.out, "  "+l)
		}
	}
	return fmt.Errorf("demo stopped: %w", err)
}

// tailLines returns the last n lines of a file.
func tailLines(p string, n int) []string {
	f, err := os.Open(p)
	if err != nil {
		return []string{fmt.Sprintf("(%v)", err)}
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// start starts the control plane, PostgreSQL and the operator stand-in,
// the Slack fake, the GitHub emulator and clustro serve.
func (d *demo) start(ctx context.Context) error {
	tools, err := d.toolchain()
	if err != nil {
		return err
	}
	secrets, err := newDemoSecrets()
	if err != nil {
		return err
	}
	d.clusterL, err = openLocked(filepath.Join(d.dir, "cluster.log"))
	if err != nil {
		return err
	}
	d.onStop("", d.clusterL.Close)

	d.step = "starting the control plane"
	t := time.Now()
	d.cp, err = controlplane.Start(ctx, controlplane.Options{BinDir: tools.binDir, Logf: d.clusterL.Logf})
	if err != nil {
		return err
	}
	d.onStop("the control plane", d.cp.Stop)
	if err := d.cp.EnsureNamespace(ctx, "clustro-system"); err != nil {
		return err
	}
	crds := "the real CloudNativePG CRDs from " + d.cp.CRDSource()
	if d.cp.CRDSource() == "embedded" {
		crds = "minimal CloudNativePG CRDs (set CLUSTRO_CNPG_CRDS for the real ones)"
	}
	fmt.Fprintf(d.out, "  control plane ready in %s: etcd + kube-apiserver at %s, %s; kubeconfig %s\n",
		since(t), d.cp.RESTConfig().Host, crds, d.cp.Kubeconfig())

	d.step = "starting PostgreSQL"
	t = time.Now()
	d.pg, err = pgtest.StartServer("")
	if err != nil {
		return err
	}
	d.onStop("PostgreSQL", func() {
		if err := d.pg.Stop(); err != nil {
			fmt.Fprintf(d.e.stderr, "clustro demo: %v\n", err)
		}
	})
	pgURL, _ := url.Parse(d.pg.DSN())
	fmt.Fprintf(d.out, "  PostgreSQL 15 ready in %s at %s\n", since(t), pgURL.Host)

	d.step = "starting the CloudNativePG stand-in"
	op, err := d.cp.RunOperator(ctx, controlplane.OperatorOptions{PostgresDSN: d.pg.DSN(), Logf: d.clusterL.Logf})
	if err != nil {
		return err
	}
	d.onStop("the CloudNativePG stand-in", op.Stop)
	fmt.Fprintf(d.out, "  CloudNativePG stand-in running: each Cluster gets a database and role in that PostgreSQL (log: %s)\n", filepath.Join(d.shown, "cluster.log"))

	d.slack = slacktest.New(nil)
	d.slack.BotToken = secrets.botToken
	d.onStop("the Slack fake", d.slack.Close)
	d.signer = d.slack.Signer(secrets.signing)
	fmt.Fprintf(d.out, "  Slack fake at %s: channel #%s, user @%s\n", d.slack.URL, demoChannelName, demoUserName)

	d.step = "starting the GitHub emulator"
	files, err := demoRepoFiles()
	if err != nil {
		return err
	}
	d.gh, err = githubtest.New(githubtest.Options{Owner: demoOwner, Repo: demoRepo, Files: files,
		Token: secrets.githubToken, WebhookSecret: secrets.webhook, Reviewer: demoReviewer})
	if err != nil {
		return err
	}
	d.onStop("the GitHub emulator", d.gh.Close)
	fmt.Fprintf(d.out, "  GitHub emulator at %s/%s/%s, seeded with %s and a README\n", d.gh.URL(), demoOwner, demoRepo, templates.ModuleDir)

	vals := map[string]string{
		"CLUSTRO_STORE":                 filepath.Join(d.dir, "clustro.db"),
		"CLUSTRO_SHUTDOWN_GRACE":        "5s",
		"CLUSTRO_READY_TIMEOUT":         "3m",
		"CLUSTRO_SLACK_BOT_TOKEN":       secrets.botToken,
		"CLUSTRO_SLACK_SIGNING_SECRET":  secrets.signing,
		"CLUSTRO_SLACK_API_URL":         d.slack.APIURL(),
		"CLUSTRO_GITHUB_TOKEN":          secrets.githubToken,
		"CLUSTRO_GITHUB_REPO":           demoOwner + "/" + demoRepo,
		"CLUSTRO_GITHUB_API_URL":        d.gh.URL() + "/",
		"CLUSTRO_GITHUB_WEBHOOK_SECRET": secrets.webhook,
		"CLUSTRO_KUBECONFIG":            d.cp.Kubeconfig(),
		"CLUSTRO_TERRAFORM_CLI_CONFIG":  tools.cliConfig,
		"CLUSTRO_TERRAFORM":             tools.terraform,
		"CLUSTRO_GRAFANA_URL":           demoGrafana,
		"CLUSTRO_CONNECTION_CHECK":      "direct",
		"CLUSTRO_API_TOKENS":            "demo:read+request:" + secrets.apiToken,
	}
	d.step = "starting clustro serve"
	if err := d.startServe(ctx, vals); err != nil {
		return err
	}
	d.gh.SetWebhook(d.url+"/webhooks/github", secrets.webhook)

	d.state = demoState{PID: os.Getpid(), Dir: d.dir, URL: d.url, SlackSigningSecret: secrets.signing, SlackURL: d.slack.URL,
		Channel: demoChannel, ChannelName: demoChannelName, UserID: demoUserID, UserName: demoUserName,
		APIToken: secrets.apiToken, GitHubURL: d.gh.URL(), GitHubToken: secrets.githubToken, GitHubRepo: demoOwner + "/" + demoRepo,
		Kubeconfig: d.cp.Kubeconfig(), PostgresDSN: d.pg.DSN()}
	if err := writeDemoState(statePath(d.dir), d.state); err != nil {
		return err
	}
	d.step = ""
	return nil
}

// since is the time since t, for people.
func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// demoSecrets are the throwaway secrets of one run.
type demoSecrets struct {
	botToken, signing, githubToken, webhook, apiToken string
}

// newDemoSecrets makes fresh random secrets.
func newDemoSecrets() (demoSecrets, error) {
	var s demoSecrets
	for _, p := range []*string{&s.botToken, &s.signing, &s.githubToken, &s.webhook, &s.apiToken} {
		h, err := randomHex(16)
		if err != nil {
			return s, err
		}
		*p = h
	}
	s.botToken = "xoxb-demo-" + s.botToken
	s.githubToken = "ghp_demo" + s.githubToken
	s.apiToken = "demo-" + s.apiToken
	return s, nil
}

// demoTools is where the offline toolchain is.
type demoTools struct {
	binDir    string // etcd and kube-apiserver
	cliConfig string // terraform's CLI config with the provider mirror
	terraform string // the binary, or "" for serve to find it on PATH
}

// toolchain finds what `make tools` built: $CLUSTRO_TOOLS, or .tools in
// the repository.
func (d *demo) toolchain() (demoTools, error) {
	var t demoTools
	dir := d.e.getenv("CLUSTRO_TOOLS")
	if dir == "" {
		root, err := findRepoRoot()
		if err != nil {
			return t, fmt.Errorf("locate the toolchain: %w; set CLUSTRO_TOOLS or run `make demo` in the repository", err)
		}
		dir = filepath.Join(root, ".tools")
	}
	t.binDir = filepath.Join(dir, "bin")
	// TF_CLI_CONFIG_FILE (the Makefile exports the toolchain's), else the
	// toolchain's own: a variable naming a missing file is no use.
	candidates := []string{filepath.Join(dir, "terraformrc")}
	if v := d.e.getenv("TF_CLI_CONFIG_FILE"); v != "" {
		candidates = append([]string{v}, candidates...)
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			t.cliConfig = c
			break
		}
	}
	if t.cliConfig == "" {
		return t, fmt.Errorf("no terraform CLI config with the provider mirror (looked for %s): run `make tools`, or use `make demo`",
			strings.Join(candidates, " and "))
	}
	t.terraform = d.e.getenv("CLUSTRO_TERRAFORM")
	if t.terraform == "" {
		_, errTF := exec.LookPath("terraform")
		_, errTofu := exec.LookPath("tofu")
		if errTF != nil && errTofu != nil {
			tofu := filepath.Join(t.binDir, "tofu")
			if _, err := os.Stat(tofu); err != nil {
				return t, errors.New("no terraform or tofu on PATH nor in the toolchain: run `make tools` (it builds OpenTofu)")
			}
			t.terraform = tofu
		}
	}
	return t, nil
}

// findRepoRoot walks up from the working directory to this module's go.mod.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/clustropg/clustro\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the ClustroPG repository")
		}
		dir = parent
	}
}

// demoRepoFiles is the infra repository's first commit: a README and the
// module, rendered as clustro bootstrap would.
func demoRepoFiles() (map[string][]byte, error) {
	cfg, err := config.Load("", func(k string) string {
		return map[string]string{"CLUSTRO_GRAFANA_URL": demoGrafana, "CLUSTRO_GITHUB_REPO": demoOwner + "/" + demoRepo}[k]
	})
	if err != nil {
		return nil, err
	}
	r, err := templates.New(cfg.Templates())
	if err != nil {
		return nil, err
	}
	module, err := r.Module()
	if err != nil {
		return nil, fmt.Errorf("render the module: %w", err)
	}
	files := map[string][]byte{"README.md": []byte("# infra\n\nDatabases asked through ClustroPG live in `databases/<env>/<team>/<name>`; " +
		"the module they call is `" + templates.ModuleDir + "`.\n")}
	for name, b := range module {
		files[path.Join(templates.ModuleDir, name)] = b
	}
	return files, nil
}

// startServe runs `clustro serve` in this process on a free port, its
// JSON logs in clustro.log, and waits until /healthz answers.
func (d *demo) startServe(ctx context.Context, vals map[string]string) error {
	d.logPath = filepath.Join(d.dir, "clustro.log")
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("serve log: %w", err)
	}
	d.onStop("", func() { logf.Close() })
	var lastErr error
	for range 3 { // a port picked free may be taken before serve binds it
		t := time.Now()
		port, err := freeLocalPort()
		if err != nil {
			return err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		vals["CLUSTRO_LISTEN"] = addr
		getenv := func(k string) string { return vals[k] }
		cfg, err := config.Load("", getenv)
		if err != nil {
			return err
		}
		// API requests of team shop (the curl example) report in #shop.
		cfg.Slack.TeamChannels = map[string]string{demoTeamChannelName: demoTeamChannel}
		se := &env{getenv: getenv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: logf,
			log: zerolog.New(logf).With().Timestamp().Logger()}
		// serve's context is the teardown's to cancel, after the script.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		var serveErr error
		go func() {
			serveErr = serve(sctx, se, cfg)
			close(done)
		}()
		stop := func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				fmt.Fprintln(d.e.stderr, "clustro demo: clustro serve did not stop within 30s")
			}
		}
		d.url = "http://" + addr
		err = d.waitHealthy(ctx, done)
		if err == nil {
			d.onStop("clustro serve", stop)
			fmt.Fprintf(d.out, "  clustro serve ready in %s at %s (logs: %s); the emulator's webhook points at /webhooks/github\n",
				since(t), d.url, filepath.Join(d.shown, "clustro.log"))
			return nil
		}
		stop()
		select {
		case <-done:
			if serveErr != nil {
				err = fmt.Errorf("clustro serve stopped: %w", serveErr)
			}
		default:
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return lastErr
}

// waitHealthy polls /healthz until it answers, serve stops, or the deadline.
func (d *demo) waitHealthy(ctx context.Context, done <-chan struct{}) error {
	deadline := time.Now().Add(demoServeTimeout)
	for {
		if answers(d.url + "/healthz") {
			return nil
		}
		select {
		case <-done:
			return errors.New("clustro serve stopped before answering /healthz")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clustro serve did not answer /healthz within %s", demoServeTimeout)
		}
	}
}

// freeLocalPort picks a free TCP port on 127.0.0.1 (another process may
// take it before it is used).
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedFile is a log file several goroutines write lines to.
type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

// openLocked opens (appends to) a log file.
func openLocked(p string) (*lockedFile, error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &lockedFile{f: f}, nil
}

// Logf writes one timestamped line.
func (l *lockedFile) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		fmt.Fprintf(l.f, "%s %s\n", time.Now().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	}
}

// Close closes the file; later lines are dropped.
func (l *lockedFile) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// --- The conversation in Slack ---

// converse mentions the bot in #platform and answers its questions in the
// thread until the summary card, then confirms it.
func (d *demo) converse(ctx context.Context) error {
	d.thread = d.slack.NextTS()
	d.asked = time.Now()
	fmt.Fprintf(d.out, "#%s  %s: @clustro %s\n", demoChannelName, demoUserName, demoAsk)
	d.step = "mentioning the bot"
	if err := d.sendEvent(ctx, slacktest.AppMention(demoUserID, demoChannel, d.thread, "", demoAsk)); err != nil {
		return err
	}
	for range 20 {
		q, err := d.nextQuestion(ctx)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(q.content.Buttons, func(b slackButton) bool { return b.ActionID == "draft.confirm" }); i >= 0 {
			return d.click(ctx, q, q.content.Buttons[i])
		}
		if len(q.content.Buttons) > 0 {
			if err := d.click(ctx, q, pickButton(q.content.Buttons)); err != nil {
				return err
			}
			continue
		}
		answer := ""
		for _, t := range demoTyped() {
			if strings.Contains(q.text, t[0]) {
				answer = t[1]
			}
		}
		if answer == "" {
			return fmt.Errorf("the bot asked something the script cannot answer: %q", q.text)
		}
		if err := d.say(ctx, answer); err != nil {
			return err
		}
	}
	return errors.New("no summary card after 20 answers")
}

// pickButton chooses the button a person would: the script's answer to
// that question, else the first.
func pickButton(bs []slackButton) slackButton {
	want := demoAnswers()
	for _, b := range bs {
		qid, value, _ := strings.Cut(b.Value, "=")
		if w, ok := want[qid]; ok && w == value {
			return b
		}
	}
	return bs[0]
}

// nextQuestion waits for the bot's next question in the thread.
func (d *demo) nextQuestion(ctx context.Context) (botMessage, error) {
	d.step = "waiting for the bot's next question"
	err := d.waitFor(ctx, "the bot's answer in the thread", demoReplyTimeout, func() (bool, error) { return d.pending != nil, nil })
	if err != nil {
		return botMessage{}, err
	}
	q := *d.pending
	d.pending = nil
	return q, nil
}

// click clicks a button of a message as the user, as Slack posts it.
func (d *demo) click(ctx context.Context, m botMessage, b slackButton) error {
	fmt.Fprintf(d.out, "  %s clicks [%s]\n", demoUserName, b.Label)
	d.step = "clicking [" + b.Label + "]"
	cb, err := d.slack.ClickButton(m.channel, m.ts, b.ActionID, slacktest.User{ID: demoUserID, Name: demoUserName})
	if err != nil {
		return err
	}
	req, err := d.signer.Interaction(d.url+"/slack/interactions", cb)
	if err != nil {
		return err
	}
	return d.deliver(ctx, req)
}

// say writes an answer in the thread, as a message event.
func (d *demo) say(ctx context.Context, text string) error {
	fmt.Fprintf(d.out, "  %s: %s\n", demoUserName, text)
	d.step = "answering " + strconv.Quote(text)
	return d.sendEvent(ctx, slacktest.ThreadReply(demoUserID, demoChannel, "channel", d.slack.NextTS(), d.thread, text))
}

// sendEvent delivers an Events API callback, signed.
func (d *demo) sendEvent(ctx context.Context, inner map[string]any) error {
	d.events++
	req, err := d.signer.Event(d.url+"/slack/events", fmt.Sprintf("Ev%08dDEMO", d.events), inner)
	if err != nil {
		return err
	}
	return d.deliver(ctx, req)
}

// deliver posts a signed Slack request to serve; Slack wants a 200.
func (d *demo) deliver(ctx context.Context, req *http.Request) error {
	resp, err := d.http.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("deliver to %s: %w", req.URL.Path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d: %s", req.URL.Path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// dmChannel is the direct message channel of the demo's user.
func dmChannel() string { return slacktest.DMChannel(demoUserID) }

// flushSlack prints the messages the bot posted since the last call, and
// notes a question waiting for an answer and the URI of a DM.
func (d *demo) flushSlack() {
	for _, ch := range []string{demoChannel, demoTeamChannel, dmChannel()} {
		msgs := d.slack.Messages(ch)
		for _, m := range msgs[min(d.seen[ch], len(msgs)):] {
			d.printMessage(m)
		}
		d.seen[ch] = len(msgs)
	}
}

var (
	uriRE = regexp.MustCompile("postgres(?:ql)?://[^\\s`'\"<>]+")
	// statusCardRE is the head of the status message: "prod/billing/ledger · create · submitted".
	statusCardRE = regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+/[a-z0-9-]+ · [a-z]+ · `)
)

// printMessage prints one message of the bot as a terminal transcript line.
func (d *demo) printMessage(m slacktest.Message) {
	content, err := parseBlocks(m.Blocks)
	body := strings.Join(content.Sections, "\n")
	if err != nil || body == "" {
		body = m.Text
	}
	text := plainSlack(body, d.names)
	card := statusCardRE.MatchString(text)
	who := "clustro"
	switch {
	case m.Ephemeral:
		who = fmt.Sprintf("clustro (only @%s sees this)", demoUserName)
	case card:
		// Posted once per request and edited at each step: shown as it
		// stands when first seen.
		who = "clustro (status card, updated in place)"
	}
	var prefix string
	switch {
	case m.Channel == dmChannel():
		prefix = fmt.Sprintf("DM to %s (private)  %s: ", demoUserName, who)
	case m.ThreadTS != "" && m.ThreadTS == d.thread:
		prefix = "  " + who + ": "
	default:
		prefix = fmt.Sprintf("#%s  %s: ", d.names[m.Channel], who)
	}
	line := text
	if len(content.Buttons) > 0 {
		line += "\n" + buttonsLine(content.Buttons)
	}
	pad := strings.Repeat(" ", len(prefix))
	fmt.Fprintln(d.out, prefix+indent(line, pad))

	asks := len(content.Buttons) > 0 || slices.ContainsFunc(content.Context, func(s string) bool { return strings.Contains(s, "Type your answer") })
	if asks && !m.Ephemeral && m.Channel == demoChannel && m.ThreadTS == d.thread {
		d.pending = &botMessage{channel: m.Channel, ts: m.TS, text: text, content: content}
	}
	if m.Channel == dmChannel() {
		if u := uriRE.FindString(m.Text); u != "" {
			d.uri = u
		}
	}
	if m.Channel == demoChannel && strings.Contains(text, " is ready: ") {
		d.ready = true
	}
	if m.Channel == demoChannel && d.card == "" && card {
		d.card = m.TS
	}
}

// waitFor polls cond, printing Slack messages as they come, until it
// holds or within has passed.
func (d *demo) waitFor(ctx context.Context, what string, within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		d.flushSlack()
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %s", what, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// --- GitHub, terraform and Kubernetes, as clustro drives them ---

// dbView is the part of GET /api/v1/databases/{env}/{team}/{name} the demo reads.
type dbView struct {
	State       string `json:"state"`
	PullRequest *struct {
		Number int    `json:"number"`
		URL    string `json:"url"`
	} `json:"pullRequest"`
	PlanSummary string `json:"planSummary"`
	Failure     *struct {
		Step   string `json:"step"`
		Reason string `json:"reason"`
	} `json:"failure"`
	Grafana string `json:"grafana"`
}

// database reads the demo's database through the REST API.
func (d *demo) database(ctx context.Context) (dbView, error) {
	var v dbView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url+"/api/v1/databases/"+demoEnv+"/"+demoTeam+"/"+demoName, nil)
	if err != nil {
		return v, err
	}
	req.Header.Set("Authorization", "Bearer "+d.state.APIToken)
	resp, err := d.http.Do(req)
	if err != nil {
		return v, fmt.Errorf("read the request through the API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return v, nil
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return v, fmt.Errorf("GET the database through the API: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("read the database through the API: %w", err)
	}
	if v.State == "failed" && v.Failure != nil {
		return v, fmt.Errorf("the request failed while %s: %s", v.Failure.Step, v.Failure.Reason)
	}
	return v, nil
}

// follow shows the pull request and its plan, merges it as a reviewer and
// waits until the database is ready and its credentials came by DM.
func (d *demo) follow(ctx context.Context) error {
	var db dbView
	d.step = "waiting for the pull request"
	err := d.waitFor(ctx, "pull request", demoPRTimeout, func() (bool, error) {
		var err error
		db, err = d.database(ctx)
		return db.PullRequest != nil, err
	})
	if err != nil {
		return err
	}
	n := db.PullRequest.Number
	pr, err := d.gh.PullRequest(n)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "GitHub  PR #%d %q  %s\n", n, pr.GetTitle(), pr.GetHTMLURL())
	fmt.Fprintf(d.out, "  %s wants to merge %d commit(s) into %s from %s\n", pr.GetUser().GetLogin(), pr.GetCommits(), pr.GetBase().GetRef(), pr.GetHead().GetRef())
	if err := d.printDiff(ctx, n, pr.GetHead().GetRef()); err != nil {
		return err
	}

	d.step = "waiting for the plan"
	err = d.waitFor(ctx, "plan", demoPlanTimeout, func() (bool, error) {
		var err error
		db, err = d.database(ctx)
		return db.State == "planned" && db.PlanSummary != "", err
	})
	if err != nil {
		return err
	}
	for _, st := range d.gh.Statuses(pr.GetHead().GetSHA()) {
		if st.GetContext() == "clustro/plan" {
			fmt.Fprintf(d.out, "  clustro/plan: %s  %s\n", st.GetState(), st.GetDescription())
			break
		}
	}
	for _, c := range d.gh.Comments(n) {
		if strings.Contains(c.GetBody(), "Plan: ") {
			fmt.Fprintf(d.out, "  comment by %s: %s\n", c.GetUser().GetLogin(), firstLineWith(c.GetBody(), "Plan: "))
		}
	}

	d.step = "merging the pull request"
	fmt.Fprintf(d.out, "GitHub  %s reviews the plan and merges PR #%d\n", demoReviewer, n)
	merged := time.Now()
	if _, err := d.gh.Merge(n, demoReviewer); err != nil {
		return err
	}
	d.step = "waiting for the database to be ready"
	last := db.State
	err = d.waitFor(ctx, "ready database", demoReadyTimeout, func() (bool, error) {
		var err error
		db, err = d.database(ctx)
		if err == nil && db.State != last {
			fmt.Fprintf(d.out, "  request %s (%s after the merge)\n", db.State, since(merged))
			last = db.State
		}
		return db.State == "ready", err
	})
	if err != nil {
		return err
	}
	d.step = "waiting for the credentials by direct message"
	err = d.waitFor(ctx, "direct message with the credentials", demoReplyTimeout, func() (bool, error) { return d.uri != "" && d.ready, nil })
	if err != nil {
		return err
	}
	if m, ok := d.slack.Message(demoChannel, d.card); ok && d.card != "" {
		if c, err := parseBlocks(m.Blocks); err == nil && len(c.Sections) > 0 {
			fmt.Fprintf(d.out, "#%s  the status card now reads: %s\n", demoChannelName, plainSlack(c.Sections[0], d.names))
		}
	}
	return nil
}

// firstLineWith is the first line of s containing sub, trimmed.
func firstLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.Trim(strings.TrimSpace(l), "`*")
		}
	}
	return ""
}

// printDiff lists the pull request's files and shows the module call of
// the workspace's main.tf: what a reviewer reads.
func (d *demo) printDiff(ctx context.Context, n int, head string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/repos/%s/%s/pulls/%d/files", d.gh.URL(), demoOwner, demoRepo, n), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.state.GitHubToken)
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("list the pull request's files: %w", err)
	}
	defer resp.Body.Close()
	var files []struct {
		Filename  string `json:"filename"`
		Additions int    `json:"additions"`
		Deletions int    `json:"deletions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&files); err != nil {
		return fmt.Errorf("list the pull request's files: %w", err)
	}
	var parts []string
	mainTF := ""
	for _, f := range files {
		parts = append(parts, fmt.Sprintf("%s (+%d)", f.Filename, f.Additions))
		if path.Base(f.Filename) == "main.tf" {
			mainTF = f.Filename
		}
	}
	fmt.Fprintf(d.out, "  diff: %s\n", strings.Join(parts, "  "))
	if mainTF == "" {
		return nil
	}
	b, err := d.gh.ReadFile(head, mainTF)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s, the module call:\n", path.Base(mainTF))
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "module ") {
			in = true
		}
		if in {
			fmt.Fprintln(d.out, "    "+l)
		}
		if in && l == "}" {
			break
		}
	}
	return nil
}

// psql connects to the new database with the URI of the DM.
func (d *demo) psql(ctx context.Context) error {
	d.step = "connecting with psql"
	bin, err := exec.LookPath("psql")
	if err != nil {
		bin = filepath.Join(pgtest.BinDir, "psql")
		if _, serr := os.Stat(bin); serr != nil {
			return fmt.Errorf("psql is not on PATH (%v): install postgresql-client, or run `make tools`", err)
		}
	}
	uri, host, err := d.routed(d.uri)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n# No cluster DNS here: hostaddr and port send %s to the local PostgreSQL\n", host)
	fmt.Fprintf(d.out, "# the stand-in provisioned, as `kubectl port-forward` would.\n")
	fmt.Fprintf(d.out, "$ psql \"%s\" -c \"%s\"\n", uri, demoQuery)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, uri, "-c", demoQuery)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	d.out.Write(out)
	if err != nil {
		return fmt.Errorf("psql: %w", err)
	}
	d.step = ""
	return nil
}

// routed adds hostaddr and port to the DM's URI (whose host is the
// cluster's read-write service) so that libpq reaches the local PostgreSQL;
// it returns the URI and the service host.
func (d *demo) routed(uri string) (string, string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", fmt.Errorf("the URI of the direct message: %w", err)
	}
	local, err := url.Parse(d.pg.DSN())
	if err != nil {
		return "", "", fmt.Errorf("the local PostgreSQL's DSN: %w", err)
	}
	q := u.Query()
	q.Set("hostaddr", local.Hostname())
	q.Set("port", local.Port())
	u.RawQuery = q.Encode()
	return u.String(), u.Hostname(), nil
}

// --- --keep ---

// printNextSteps prints the URLs and the commands to go on by hand.
func (d *demo) printNextSteps() {
	self := "clustro"
	if fi, err := os.Stat(filepath.Join("bin", "clustro")); err == nil && !fi.IsDir() {
		self = "bin/clustro"
	}
	state := ""
	if sp := statePath(d.dir); !samePath(sp, filepath.Join(defaultDemoDir, demoStateFile)) {
		state = " --state " + filepath.Join(d.shown, demoStateFile)
	}
	tok := d.state.APIToken
	fmt.Fprintf(d.out, `
Everything keeps running until Ctrl-C:
  clustro serve    %[1]s  (/healthz, /readyz, /metrics; logs in %[2]s)
  pull request     %[3]s/%[4]s/%[5]s/pull/1  (its page has Merge and Close buttons, as %[6]s)
  Slack fake       %[7]s/api/
  kubeconfig       %[8]s
  PostgreSQL       %[9]s

Go on by hand; this terminal shows what the bot posts and what happens to pull requests:
  %[10]s dev slash%[11]s "/pg list"
  %[10]s dev slash%[11]s "/pg resize ledger size=L"
      opens pull request #2 for the resize, and plans it
  %[10]s dev merge%[11]s 2
      merges it through the emulator's API: GitHub's webhook tells clustro to apply it
  curl -H "Authorization: Bearer %[12]s" %[1]s/api/v1/databases
  curl %[1]s/api/v1/openapi.json
  curl -H "Authorization: Bearer %[12]s" -H "Content-Type: application/json" \
       -d '{"name":"orders","team":"%[13]s","environment":"dev","load":"small"}' %[1]s/api/v1/databases
      asks for a database as Backstage would: the next pull request, progress in #%[13]s; merge it with dev merge
  kubectl --kubeconfig %[8]s get clusters.postgresql.cnpg.io -A

The secrets of this throwaway demo are in %[14]s (mode 0600).
`, d.url, filepath.Join(d.shown, "clustro.log"), d.gh.URL(), demoOwner, demoRepo, demoReviewer, d.slack.URL,
		d.cp.Kubeconfig(), d.pg.DSN(), self, state, tok, demoTeamChannelName, filepath.Join(d.shown, demoStateFile))
}

// samePath reports whether two paths name the same place.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// watch prints what the bot posts and what happens to pull requests until
// ctx ends (Ctrl-C).
func (d *demo) watch(ctx context.Context) {
	prs := map[int]string{}
	pulls := func(announce bool) {
		all, err := d.gh.PullRequests()
		if err != nil {
			return
		}
		for _, pr := range all {
			state := pr.GetState()
			if pr.GetMerged() {
				state = "merged"
			}
			if prs[pr.GetNumber()] == state {
				continue
			}
			prs[pr.GetNumber()] = state
			if announce {
				fmt.Fprintf(d.out, "GitHub  PR #%d %q is %s  %s\n", pr.GetNumber(), pr.GetTitle(), state, pr.GetHTMLURL())
			}
		}
	}
	pulls(false)
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(d.out, "\nStopping the demo.")
			return
		case <-time.After(300 * time.Millisecond):
		}
		d.flushSlack()
		pulls(true)
	}
}
