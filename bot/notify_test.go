package bot

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

const (
	testPassword = "pw-9c1f0e7d3b2a"
	testURI      = "postgresql://app:" + testPassword + "@ledger-rw.billing-prod:5432/app"
)

func readyInfo() *request.ReadyInfo {
	return &request.ReadyInfo{
		Namespace: "billing-prod", Cluster: "ledger", RWHost: "ledger-rw.billing-prod.svc.cluster.local",
		ROHost: "ledger-ro.billing-prod.svc.cluster.local", Port: 5432, Database: "app", User: "app", Secret: "ledger-app",
		SecretHint: "kubectl -n billing-prod get secret ledger-app -o jsonpath='{.data.uri}' | base64 -d",
		Grafana:    "https://grafana.example.com/d/cloudnative-pg/cloudnativepg?var-namespace=billing-prod&var-cluster=ledger",
	}
}

// submitted stores a request as the pipeline would, from a given origin.
func (h *harness) submitted(origin request.Origin, who request.Requester) store.Record {
	h.t.Helper()
	r, err := h.policy.Resolve(request.DatabaseRequest{Spec: request.Spec{Name: "ledger", Team: "billing", Environment: "prod"}, Requester: who, Origin: origin})
	if err != nil {
		h.t.Fatal(err)
	}
	rec, _, err := h.store.CreateRequest(context.Background(), store.NewRequest{Request: r, Event: request.Event{Actor: who.ID}})
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// notify moves the request and tells the bot, as the pipeline's notify job
// does: with the record read afresh.
func (h *harness) notify(id string, to request.State, n request.Notice) error {
	h.t.Helper()
	ctx := context.Background()
	if to != "" {
		opts := []store.TransitionOption{}
		if to == request.Failed {
			opts = append(opts, store.WithFailure(request.Failure{Step: "applying", Reason: n.Text, Retryable: true}))
		}
		if _, err := h.store.Transition(ctx, id, to, request.Event{Actor: "test"}, opts...); err != nil {
			h.t.Fatal(err)
		}
	}
	rec, err := h.store.GetRequest(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.bot.Notify(ctx, rec, n)
}

// TestProgressInOneThread: one message per request, updated in place,
// with a reply per step in its thread; the credentials go to the
// requester by direct message only: in no channel message, no update, no
// log line.
func TestProgressInOneThread(t *testing.T) {
	h := newHarness(t)
	h.creds["prod/billing-prod/ledger"] = [2]string{testURI, testPassword} // read from prod's cluster
	origin := slackOrigin(slacktest.TeamID, general, "1700000000.000001")
	rec := h.submitted(origin, request.Requester{ID: alice.ID, Name: "alice"})

	steps := []struct {
		to     request.State
		notice request.Notice
		reply  []string
	}{
		{"", request.Notice{Kind: request.NoticeReceived, Text: "Request received: create prod/billing/ledger."}, []string{"Request received"}},
		{request.PROpen, request.Notice{Kind: request.NoticePROpened, PRURL: "https://github.com/acme/infra/pull/7", Text: "Pull request #7 opened."}, []string{"Pull request #7 opened", "<https://github.com/acme/infra/pull/7|Open the pull request>"}},
		{request.Planned, request.Notice{Kind: request.NoticePlanned, Plan: "Plan: 4 to add, 0 to change, 0 to destroy.", Text: "Planned."}, []string{"```Plan: 4 to add, 0 to change, 0 to destroy.```"}},
		{request.Merged, request.Notice{Kind: request.NoticeMerged, Actor: "octocat", Text: "octocat merged pull request #7: applying."}, []string{"octocat merged"}},
		{request.Applying, request.Notice{Kind: request.NoticeApplying, Text: "Applying prod/billing/ledger (terraform)."}, []string{"Applying"}},
		{request.Provisioning, request.Notice{Kind: request.NoticeProgress, Text: "Applied. Waiting for CloudNativePG."}, []string{"Waiting for CloudNativePG"}},
		{request.Ready, request.Notice{Kind: request.NoticeReady, Text: "prod/billing/ledger is ready.", Ready: readyInfo()}, []string{
			"Read-write: `ledger-rw.billing-prod.svc.cluster.local:5432`", "Read-only: `ledger-ro.billing-prod.svc.cluster.local:5432`",
			"Database `app`, user `app`", "<https://grafana.example.com/d/cloudnative-pg/cloudnativepg?var-namespace=billing-prod&var-cluster=ledger|Grafana dashboard>",
			"The credentials were sent to <@UALICE> by direct message."}},
	}
	for _, s := range steps {
		if err := h.notify(rec.ID(), s.to, s.notice); err != nil {
			t.Fatalf("%s: %v", s.notice.Kind, err)
		}
		reply := h.lastMessage(general)
		if reply.ThreadTS != origin.SlackThread {
			t.Errorf("%s: replied in thread %q, want the request's %q", s.notice.Kind, reply.ThreadTS, origin.SlackThread)
		}
		mustContain(t, s.notice.Kind+" reply", reply.Text, s.reply...)
	}

	stored, _ := h.store.GetRequest(context.Background(), rec.ID())
	if stored.Progress.Channel != general || stored.Progress.TS == "" {
		t.Fatalf("progress message not remembered: %+v", stored.Progress)
	}
	progress, _ := h.slack.Message(general, stored.Progress.TS)
	if progress.Updates != len(steps)-1 {
		t.Errorf("progress message updated %d times, want %d", progress.Updates, len(steps)-1)
	}
	mustContain(t, "the progress message", progress.Text, "prod/billing/ledger: ready")
	if n := len(h.slack.CallsTo("chat.postMessage")); n != 1+len(steps)+1 {
		t.Errorf("%d messages posted, want the progress message, %d replies and one DM", n, len(steps))
	}

	// The DM, and only the DM, has the password.
	dm := h.slack.Messages(slacktest.DMChannel(alice.ID))
	if len(dm) != 1 {
		t.Fatalf("%d direct messages", len(dm))
	}
	mustContain(t, "the direct message", dm[0].Text, testURI, testPassword)
	opens := h.slack.CallsTo("conversations.open")
	if len(opens) != 1 || opens[0].Args.Get("users") != alice.ID {
		t.Errorf("conversations.open calls: %+v", opens)
	}
	for _, c := range h.slack.Calls() {
		isDM := c.Method == "chat.postMessage" && c.Args.Get("channel") == slacktest.DMChannel(alice.ID)
		if !isDM && strings.Contains(string(c.Body), testPassword) {
			t.Errorf("the password went out in %s to %s", c.Method, c.Args.Get("channel"))
		}
	}
	if strings.Contains(h.logs.String(), testPassword) {
		t.Error("the password is in the log")
	}

	// A notice sent again (the job retried) does not send the DM twice.
	if err := h.notify(rec.ID(), "", steps[len(steps)-1].notice); err != nil {
		t.Fatal(err)
	}
	if n := len(h.slack.Messages(slacktest.DMChannel(alice.ID))); n != 1 {
		t.Errorf("%d direct messages after a retried ready notice", n)
	}
}

// TestProgressOfAPIRequests: a request from the API goes to its team's
// channel, with no direct message: the thread says how to read the
// secret, and the credentials are never read.
func TestProgressOfAPIRequests(t *testing.T) {
	h := newHarness(t)
	rec := h.submitted(request.Origin{Kind: request.OriginAPI, APIClient: "backstage"}, request.Requester{ID: "user:default/alice"})
	if err := h.notify(rec.ID(), "", request.Notice{Kind: request.NoticeReceived, Text: "Request received."}); err != nil {
		t.Fatal(err)
	}
	progress := h.channelMessages(billing)[0]
	if progress.ThreadTS != "" {
		t.Errorf("the progress message is in a thread")
	}
	for _, s := range []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning} {
		if _, err := h.store.Transition(context.Background(), rec.ID(), s, request.Event{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.notify(rec.ID(), request.Ready, request.Notice{Kind: request.NoticeReady, Text: "ready", Ready: readyInfo()}); err != nil {
		t.Fatal(err)
	}
	reply := h.lastMessage(billing)
	if reply.ThreadTS != progress.TS {
		t.Errorf("reply in thread %q, want the progress message's %q", reply.ThreadTS, progress.TS)
	}
	mustContain(t, "the ready reply", reply.Text, "Read the credentials with `kubectl -n billing-prod get secret ledger-app")
	if n := len(h.slack.CallsTo("conversations.open")); n != 0 {
		t.Errorf("opened %d direct messages for an API request", n)
	}

	// A team without a channel: nothing is posted, and that is not an error.
	other := h.submitted(request.Origin{Kind: request.OriginAPI}, request.Requester{ID: "x"})
	other.Request.Team = "nochannel"
	before := len(h.slack.Calls())
	if err := h.bot.Notify(context.Background(), other, request.Notice{Kind: request.NoticeReceived, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(h.slack.Calls()) != before {
		t.Error("posted for a team without a channel")
	}
}

// TestNotifyRateLimited: Slack answers 429 with Retry-After, then 200: the
// message is sent once, after waiting what Slack asked. 5xx answers are
// retried with backoff; when Slack stays down, Notify returns an error and
// the pipeline's notify job tries again later.
func TestNotifyRateLimited(t *testing.T) {
	tests := []struct {
		name     string
		fail     int
		status   int
		wantWait []time.Duration
		wantErr  bool
	}{
		{"429 then 200", 1, http.StatusTooManyRequests, []time.Duration{3 * time.Second}, false},
		{"503 twice then 200", 2, http.StatusServiceUnavailable, []time.Duration{time.Second, 2 * time.Second}, false},
		{"500 until giving up", 5, http.StatusInternalServerError, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.submitted(slackOrigin(slacktest.TeamID, general, ""), request.Requester{ID: alice.ID})
			h.slack.FailNext(tc.fail, tc.status, 3*time.Second)
			err := h.bot.Notify(context.Background(), rec, request.Notice{Kind: request.NoticeReceived, Text: "Request received."})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Notify: %v", err)
			}
			if got := h.sleeps; !equalDurations(got, tc.wantWait) {
				t.Errorf("waited %v, want %v", got, tc.wantWait)
			}
			posts := h.slack.CallsTo("chat.postMessage")
			if tc.wantErr {
				if len(posts) != 5 || len(h.channelMessages(general)) != 0 {
					t.Errorf("%d attempts, %d messages", len(posts), len(h.channelMessages(general)))
				}
				return
			}
			if len(posts) != tc.fail+2 || posts[0].Status != tc.status || !posts[tc.fail].OK() {
				t.Errorf("calls: %+v", posts)
			}
			if n := len(h.channelMessages(general)); n != 2 {
				t.Errorf("%d messages, want the progress message once and its reply", n)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProgressWhenRemovedFromChannel: the requester gets the progress by
// direct message, told how to invite the bot back.
func TestProgressWhenRemovedFromChannel(t *testing.T) {
	h := newHarness(t)
	h.slack.FailChannel(general, "not_in_channel")
	rec := h.submitted(slackOrigin(slacktest.TeamID, general, ""), request.Requester{ID: alice.ID})
	if err := h.notify(rec.ID(), "", request.Notice{Kind: request.NoticeReceived, Text: "Request received."}); err != nil {
		t.Fatal(err)
	}
	dm := h.slack.Messages(slacktest.DMChannel(alice.ID))
	if len(dm) != 2 {
		t.Fatalf("%d direct messages", len(dm))
	}
	mustContain(t, "the progress message", blocksText(dm[0]), "I could not post in <#CGENERAL> (not_in_channel)")
}
