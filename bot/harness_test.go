package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/internal/syncbuf"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

var (
	alice = slacktest.User{ID: "UALICE", Name: "alice"}
	bob   = slacktest.User{ID: "UBOB", Name: "bob"}
)

const (
	general  = "CGENERAL"
	platform = "CPLATFORM"
	billing  = "CBILLING"
)

// harness is a bot on a real SQLite store, talking to the fake Slack, with
// a small pipeline that stores what it is given.
type harness struct {
	t     *testing.T
	slack *slacktest.Server
	store store.Store
	dsn   string
	clock *clock
	pipe  *recorder
	// clusters stand in for the environments' Kubernetes clusters.
	clusters *fakeClusters
	cfg      config.Slack
	policy   *request.Policy
	logs     *syncbuf.Buffer
	bot      *Bot
	h        http.Handler
	signer   slacktest.Signer
	creds    map[string][2]string

	// workers and queue size the bot's pool (zero: the defaults).
	workers, queue int

	sleepMu sync.Mutex
	sleeps  []time.Duration
}

// clock is the time both the store and the bot read; it ticks a
// millisecond per reading, so records are ordered as they were made.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newHarness(t *testing.T, edit ...func(*config.Slack)) *harness {
	t.Helper()
	full, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	fake := slacktest.New(t)
	h := &harness{
		t:      t,
		slack:  fake,
		dsn:    filepath.Join(t.TempDir(), "clustro.db"),
		clock:  &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		policy: &full.Policy,
		logs:   &syncbuf.Buffer{},
		signer: fake.Signer(testSecret),
		creds:  map[string][2]string{},
	}
	h.cfg = full.Slack
	h.cfg.BotToken = config.Secret(fake.BotToken)
	h.cfg.SigningSecret = testSecret
	h.cfg.APIURL = fake.APIURL()
	h.cfg.TeamChannels = map[string]string{"billing": billing}
	for _, e := range edit {
		e(&h.cfg)
	}
	h.store, err = store.Open(context.Background(), h.dsn, store.WithClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.store.Close() })
	h.clusters = newFakeClusters()
	h.pipe = newRecorder(t, full, h.store, h.clusters)
	h.restart()
	return h
}

// restart makes a new bot on the same store, as a new process would.
func (h *harness) restart() {
	h.t.Helper()
	if h.bot != nil {
		h.bot.settle()
	}
	b, err := New(Deps{
		Store: h.store, Pipeline: h.pipe, Policy: h.policy, Config: h.cfg,
		Credentials: func(_ context.Context, env, ns, cluster string) (string, string, error) {
			c, ok := h.creds[env+"/"+ns+"/"+cluster]
			if !ok {
				return "", "", fmt.Errorf("no secret %s-app in %s", cluster, ns)
			}
			return c[0], c[1], nil
		},
		Log:     zerolog.New(h.logs).Level(zerolog.DebugLevel),
		Workers: h.workers, Queue: h.queue,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	b.now = h.clock.Now
	b.sleep = func(ctx context.Context, d time.Duration) error {
		h.sleepMu.Lock()
		defer h.sleepMu.Unlock()
		h.sleeps = append(h.sleeps, d)
		return ctx.Err()
	}
	h.bot, h.h = b, b.Handler()
}

// serve sends a request to the bot and waits for the work it started.
func (h *harness) serve(r *http.Request, err error) *httptest.ResponseRecorder {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	h.bot.settle()
	return w
}

func (h *harness) command(u slacktest.User, channel, text string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.serve(h.signer.Command(PathCommands, slacktest.Command{User: u, Channel: channel, Text: text}))
}

func (h *harness) click(channel, ts, actionID string, u slacktest.User) *httptest.ResponseRecorder {
	h.t.Helper()
	cb, err := h.slack.ClickButton(channel, ts, actionID, u)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.serve(h.signer.Interaction(PathInteractions, cb))
}

// clickLabel clicks the button with that label on a message.
func (h *harness) clickLabel(channel, ts, label string, u slacktest.User) *httptest.ResponseRecorder {
	h.t.Helper()
	id, ok := h.slack.ButtonByLabel(channel, ts, label)
	if !ok {
		h.t.Fatalf("message %s has no button %q (buttons: %v)", ts, label, h.slack.Buttons(channel, ts))
	}
	return h.click(channel, ts, id, u)
}

// submitView submits a form as u, with values by field: each goes to the
// input of that field (block_id <field>, or <field>@<env>; see envFields).
func (h *harness) submitView(viewID string, u slacktest.User, values map[string]string) *httptest.ResponseRecorder {
	h.t.Helper()
	cb, err := h.slack.SubmitView(viewID, u, h.formValues(viewID, values))
	if err != nil {
		h.t.Fatal(err)
	}
	return h.serve(h.signer.Interaction(PathInteractions, cb))
}

// formValues maps values by field to the block_ids of a form's inputs.
func (h *harness) formValues(viewID string, values map[string]string) map[string]string {
	h.t.Helper()
	var raw json.RawMessage
	for _, v := range h.slack.Views() {
		if v.ID == viewID {
			raw = v.JSON
		}
	}
	var view struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
		} `json:"blocks"`
	}
	json.Unmarshal(raw, &view)
	out := map[string]string{}
	for field, v := range values {
		out[field] = v
		for _, b := range view.Blocks {
			if f, _, _ := strings.Cut(b.BlockID, "@"); f == field {
				delete(out, field)
				out[b.BlockID] = v
			}
		}
	}
	return out
}

var eventSeq int

func (h *harness) event(inner map[string]any) *httptest.ResponseRecorder {
	h.t.Helper()
	eventSeq++
	return h.serve(h.signer.Event(PathEvents, fmt.Sprintf("Ev%08d", eventSeq), inner))
}

// lastView is the last modal opened.
func (h *harness) lastView() slacktest.View {
	h.t.Helper()
	vs := h.slack.Views()
	if len(vs) == 0 {
		h.t.Fatal("no modal was opened")
	}
	return vs[len(vs)-1]
}

// responses are the texts posted on response_urls.
func (h *harness) responses() []string {
	var out []string
	for _, c := range h.slack.CallsTo("response_url") {
		out = append(out, c.Args.Get("text"))
	}
	return out
}

func (h *harness) lastResponse() string {
	h.t.Helper()
	rs := h.responses()
	if len(rs) == 0 {
		h.t.Fatal("nothing was posted on a response_url")
	}
	return rs[len(rs)-1]
}

// channelMessages are the non-ephemeral messages of a channel.
func (h *harness) channelMessages(channel string) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range h.slack.Messages(channel) {
		if !m.Ephemeral {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) lastMessage(channel string) slacktest.Message {
	h.t.Helper()
	ms := h.channelMessages(channel)
	if len(ms) == 0 {
		h.t.Fatalf("no message in %s", channel)
	}
	return ms[len(ms)-1]
}

// ackText is the text of an ephemeral acknowledgement.
func ackText(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Body.Len() == 0 {
		return ""
	}
	var r struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("ack is not JSON: %s", w.Body)
	}
	if r.ResponseType != "ephemeral" {
		t.Errorf("response_type %q, want ephemeral", r.ResponseType)
	}
	return r.Text
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

// readyDatabase stores a database that went through its whole lifecycle.
func (h *harness) readyDatabase(env, team, name string, who slacktest.User, final request.State) store.Record {
	h.t.Helper()
	r, err := h.policy.Resolve(request.DatabaseRequest{Spec: request.Spec{Name: name, Team: team, Environment: env},
		Requester: request.Requester{ID: who.ID, Name: who.Name}, Origin: slackOrigin(slacktest.TeamID, general, "")})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	rec, _, err := h.store.CreateRequest(ctx, store.NewRequest{Request: r, Event: request.Event{Actor: who.ID, Origin: "slack"}})
	if err != nil {
		h.t.Fatal(err)
	}
	path := []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Ready}
	if final == request.Failed {
		path = path[:5]
	}
	for _, s := range path {
		if rec, err = h.store.Transition(ctx, rec.ID(), s, request.Event{Actor: "test"}); err != nil {
			h.t.Fatal(err)
		}
	}
	if final == request.Failed {
		rec, err = h.store.Transition(ctx, rec.ID(), request.Failed, request.Event{Actor: "test"},
			store.WithFailure(request.Failure{Step: string(request.Provisioning), Reason: "readiness: timeout", Retryable: true}))
		if err != nil {
			h.t.Fatal(err)
		}
	}
	return rec
}

// recorder is the real pipeline without GitHub (requests are validated
// and stored with their jobs, no worker runs), on fake clusters (see
// fakeClusters), recording what the bot asked of it.
type recorder struct {
	*pipeline.Pipeline
	store store.Store

	mu      sync.Mutex
	submits []request.DatabaseRequest
	changes []request.DatabaseRequest
	retries []string
}

func newRecorder(t *testing.T, cfg *config.Config, st store.Store, clusters pipeline.Clusters) *recorder {
	t.Helper()
	r, err := templates.New(cfg.Templates())
	if err != nil {
		t.Fatal(err)
	}
	return &recorder{Pipeline: pipeline.New(pipeline.Deps{Store: st, Renderer: r, Clusters: clusters, Log: zerolog.Nop()}, pipeline.Config{}), store: st}
}

func (p *recorder) Submit(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (store.Record, bool, error) {
	p.mu.Lock()
	p.submits = append(p.submits, r)
	p.mu.Unlock()
	return p.Pipeline.Submit(ctx, r, key)
}

func (p *recorder) Change(ctx context.Context, c request.Change, key store.Idempotency) (store.Record, bool, error) {
	rec, created, err := p.Pipeline.Change(ctx, c, key)
	if err == nil {
		p.mu.Lock()
		p.changes = append(p.changes, rec.Request)
		p.mu.Unlock()
	}
	return rec, created, err
}

func (p *recorder) Retry(ctx context.Context, id string, who request.Requester, origin string) (store.Record, error) {
	rec, err := p.Pipeline.Retry(ctx, id, who, origin)
	if err == nil {
		p.mu.Lock()
		p.retries = append(p.retries, id)
		p.mu.Unlock()
	}
	return rec, err
}

func (p *recorder) requests(t *testing.T) []store.Record {
	t.Helper()
	recs, err := p.store.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// blocksText is a message's blocks as JSON, with <, > and & unescaped.
func blocksText(m slacktest.Message) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(m.Blocks))
}
