package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/internal/pgtest"
)

// The script: what a person in Slack and a reviewer on GitHub do, act by
// act, and what the demo checks at each step.

// Act one asks for this database.
const (
	demoEnv  = "prod"
	demoTeam = "billing"
	demoName = "ledger"
	// demoAsk is the first message, in #platform.
	demoAsk = "I need a postgres for billing, called ledger"
	// demoQuery is what psql runs on the new database.
	demoQuery = "select current_database(), current_user, version()"
)

// demoAnswers are the buttons the script clicks, by question: what a
// person at a small company would choose for a production ledger (with
// hourly backups for --restore, whose point in time is minutes old).
func demoAnswers(restore bool) map[string]string {
	backups := "daily"
	if restore {
		backups = "hourly"
	}
	return map[string]string{"environment": "prod", "clientType": "sme", "load": "medium", "backups": backups, "dbcount": "1"}
}

// demoTyped are the free-text answers, by a phrase of the question.
func demoTyped() [][2]string {
	return [][2]string{{"Name the", "reports"}, {"Which team", demoTeam}, {"What should it be called", demoName}}
}

// acts are the script's steps, in order. Act one: a database asked for in
// a Slack thread, reviewed and merged on GitHub, then used with psql. A
// later act (a resize, say) goes after it, on the same stack and transcript.
func (d *demo) acts() []func(context.Context) error {
	acts := []func(context.Context) error{d.converse, d.follow, d.psql}
	if d.restore {
		acts = append(acts, d.restoreActs()...)
	}
	return acts
}

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
			if err := d.click(ctx, q, pickButton(q.content.Buttons, demoAnswers(d.restore))); err != nil {
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
func pickButton(bs []slackButton, want map[string]string) slackButton {
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

// follow shows the pull request and its plan, merges it as a reviewer and
// waits until the database is ready and its credentials came by DM.
func (d *demo) follow(ctx context.Context) error { return d.followRequest(ctx, demoName) }

// followRequest is follow for the request of the database name (in
// demoEnv, of demoTeam).
func (d *demo) followRequest(ctx context.Context, name string) error {
	var db dbView
	d.step = "waiting for the pull request"
	err := d.waitFor(ctx, "pull request", demoPRTimeout, func() (bool, error) {
		var err error
		db, err = d.database(ctx, name)
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
		db, err = d.database(ctx, name)
		return db.State == "planned" && db.PlanSummary != "", err
	})
	if err != nil {
		return err
	}
	d.printPlan(n, pr.GetHead().GetSHA())

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
		db, err = d.database(ctx, name)
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
	card := d.cards[demoEnv+"/"+demoTeam+"/"+name]
	if m, ok := d.slack.Message(demoChannel, card); ok && card != "" {
		if c, err := parseBlocks(m.Blocks); err == nil && len(c.Sections) > 0 {
			fmt.Fprintf(d.out, "#%s  the status card now reads: %s\n", demoChannelName, plainSlack(c.Sections[0], d.names))
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
	if err == nil {
		// A Cluster with the Barman Cloud plugin (prod requires backups)
		// gets its own server from the stand-in: its app Secret says where.
		uri, _, err = d.routedToSecret(ctx, d.uri, demoName)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n# No cluster DNS here: hostaddr and port send %s to the local PostgreSQL\n", host)
	if d.restore {
		fmt.Fprintf(d.out, "# the stand-in runs for this Cluster (it archives its WAL), as `kubectl port-forward` would.\n")
	} else {
		fmt.Fprintf(d.out, "# the stand-in provisioned, as `kubectl port-forward` would.\n")
	}
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
	d.actOne = since(d.asked)
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
