package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/internal/barman"
	"github.com/clustropg/clustro/internal/cli"
	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/internal/pgtest"
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
)

// Deadlines of the steps, generous for a loaded laptop.
const (
	demoReplyTimeout = 30 * time.Second
	demoPRTimeout    = 90 * time.Second
	demoPlanTimeout  = 3 * time.Minute
	demoReadyTimeout = 4 * time.Minute
	demoServeTimeout = 30 * time.Second
)

// demoCmd is the root command: the demo itself.
func demoCmd(e *env, dir *string) *cobra.Command {
	var keep, restore bool
	var clustroBin string
	cmd := &cobra.Command{
		Use:   "clustro-demo",
		Short: "Run the whole ClustroPG loop on this machine: a Slack conversation to a working database",
		Long: `clustro-demo starts everything ClustroPG talks to, on this machine and
offline: a Kubernetes control plane (etcd and kube-apiserver with the
CloudNativePG CRDs), a local PostgreSQL with a CloudNativePG stand-in, a
Slack fake and a GitHub emulator holding an infra repository; then it runs
clustro serve against them (the clustro binary next to clustro-demo, else
on PATH, else --clustro).

Then it plays a conversation as Slack would deliver it: someone asks the bot
for a database in #platform, answers its questions with the buttons, and
confirms. It prints the transcript, the pull request and its plan, merges it
as a reviewer, waits until the database is ready, and connects to it with
psql using the URI the bot sent by direct message.

With --restore a second act follows, on the same stack: the platform's
object store is a local MinIO (the credentials Secret made in the
database's namespace, as the platform team would), ledger is asked with
hourly backups, and after psql rows are written into ledger, a base backup
is taken with /pg backup, a row is written, a time T noted, then a row
deleted and another written (the mistake to undo), /pg backups shows the
recovery window, and /pg restore ledger --at T --as
ledger-t asks for a new database restored to T: a pull request, its plan,
the merge, the restore with barman-cloud; psql then shows that ledger-t
holds exactly the rows written before T, and how long the restore took.

Without --keep everything is stopped at the end. With --keep it stays up
until Ctrl-C, and the commands to go on by hand are printed (clustro-demo
slash, clustro-demo merge, curl on the REST API). The directory (--dir,
default .demo) is recreated each run and holds the store, the logs and
state.json (the throwaway secrets slash and merge read).`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave everything running after the script, until Ctrl-C, and print how to go on by hand")
	cmd.Flags().BoolVar(&restore, "restore", false, "a second act: back up ledger to a local MinIO, then restore it to a point in time as a new database (needs minio from `make tools` and barman-cloud)")
	cmd.Flags().StringVar(&clustroBin, "clustro", "", "the clustro binary to run as serve (default: clustro next to clustro-demo, else on PATH)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runDemo(cmd.Context(), e, *dir, clustroBin, keep, restore)
	}
	return cmd
}

// demo is one run of the demo: what it started, and the transcript.
type demo struct {
	e     *env
	out   io.Writer
	dir   string // absolute
	shown string // as given, for the messages
	began time.Time

	stops []demoStop

	clustroBin string // as given by --clustro, or ""
	restore    bool   // --restore: the second act, and what it needs
	minio      *barman.MinIO
	cp         *controlplane.ControlPlane
	pg         *pgtest.Server
	slack      *slacktest.Server
	gh         *githubtest.Server
	serve      *serveProcess
	serveLog   string // clustro serve's log, once it is started
	url        string // clustro serve's base URL
	state      demoState
	signer     slacktest.Signer
	http       *http.Client
	names      map[string]string

	// The transcript: messages printed per channel, the thread, the
	// bot's question waiting for an answer, and what the DM said.
	seen    map[string]int
	thread  string
	pending *botMessage
	events  int
	uri     string
	ready   bool
	// cards are the status messages the bot keeps up to date, by
	// database key (prod/billing/ledger).
	cards map[string]string
	// asked is when the user mentioned the bot.
	asked time.Time
	// step is where the script is, for a report when it stops.
	step string
	// ledger is the DM's URI of ledger routed to its server, and point the
	// time T the second act restores to (--restore).
	ledger string
	point  time.Time
	// actOne is how long act one took, from the mention to psql.
	actOne time.Duration
	// restoreTook is how long the restore took, request to ready (--restore).
	restoreTook time.Duration
}

// demoStop is one thing to stop at the end, newest first; what names it
// in the report ("" for files).
type demoStop struct {
	what string
	stop func()
}

// runDemo runs the demo in dir: start, the script's acts (the restore's
// too, with restore), then stop (or wait, with keep).
func runDemo(ctx context.Context, e *env, dir, clustroBin string, keep, restore bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	d := &demo{e: e, out: e.stdout, dir: abs, shown: dir, began: time.Now(), seen: map[string]int{},
		clustroBin: clustroBin, restore: restore, cards: map[string]string{}, http: &http.Client{Timeout: 30 * time.Second},
		names: map[string]string{demoUserID: demoUserName, slacktest.BotUserID: "clustro",
			demoChannel: demoChannelName, demoTeamChannel: demoTeamChannelName}}
	if err := d.prepareDir(); err != nil {
		return err
	}
	defer d.teardown()
	fmt.Fprintf(d.out, "clustro-demo: everything runs on this machine, offline; files in %s\n", dir)
	if err := d.start(ctx); err != nil {
		return d.stopped(err)
	}
	fmt.Fprintln(d.out)
	for _, act := range d.acts() {
		if err := act(ctx); err != nil {
			return d.stopped(err)
		}
	}
	if err := d.fakesServedAll(); err != nil {
		return d.stopped(err)
	}
	took := since(d.asked)
	if d.restore {
		took = d.actOne
	}
	fmt.Fprintf(d.out, "\nFrom the Slack mention to a working database in %s (%s in all).\n", took, since(d.began))
	if d.restore {
		fmt.Fprintf(d.out, "The point-in-time restore took %s from /pg restore to a ready %s.\n", d.restoreTook.Round(100*time.Millisecond), demoRestoreName)
	}
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
		return cli.Usagef("a demo is already running in %s (pid %d, %s): stop it first (Ctrl-C in its terminal)", d.shown, st.PID, st.URL)
	}
	entries, err := os.ReadDir(d.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo directory: %w", err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(d.dir, demoMarker)); err != nil {
			return cli.Usagef("--dir %s exists and was not made by clustro-demo (no %s in it): pick another directory", d.shown, demoMarker)
		}
		if err := os.RemoveAll(d.dir); err != nil {
			return fmt.Errorf("recreate %s: %w", d.shown, err)
		}
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", d.shown, err)
	}
	marker := "Made by clustro-demo, which recreates this directory on each run.\n"
	if err := os.WriteFile(filepath.Join(d.dir, demoMarker), []byte(marker), 0o600); err != nil {
		return fmt.Errorf("create %s: %w", d.shown, err)
	}
	return nil
}

// onStop registers what teardown stops.
func (d *demo) onStop(what string, stop func()) {
	d.stops = append(d.stops, demoStop{what, stop})
}

// teardown stops everything the demo started, newest first, and removes
// the state file: slash and merge then say that no demo runs.
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
	if cli.IsUsage(err) {
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
	if d.serveLog != "" {
		fmt.Fprintf(d.out, "Last lines of %s:\n", filepath.Join(d.shown, filepath.Base(d.serveLog)))
		for _, l := range tailLines(d.serveLog, 25) {
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
