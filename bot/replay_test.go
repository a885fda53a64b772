package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// sent is a signed request as Slack sent it, kept to be sent again.
type sent struct {
	req  *http.Request
	body []byte
}

func (h *harness) keep(r *http.Request, err error) sent {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return sent{req: r, body: body}
}

// replay is the request again byte for byte, its signature still fresh:
// what anyone who saw it can send.
func (s sent) replay() (*http.Request, error) {
	r := s.req.Clone(context.Background())
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(s.body)), int64(len(s.body))
	return r, nil
}

// retry is the request as Slack sends it again: the same body, signed
// anew, numbered by X-Slack-Retry-Num.
func (s sent) retry(n int) (*http.Request, error) {
	r, _ := s.replay()
	slacktest.Sign(r.Header, testSecret, time.Now(), s.body)
	r.Header.Set("X-Slack-Retry-Num", strconv.Itoa(n))
	r.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	return r, nil
}

// effects counts what acting on a payload changes: calls to Slack (cards,
// updates, notes, forms, answers on response_urls), what the pipeline was
// asked, the stored requests.
type effects struct {
	SlackCalls, Submits, Changes, Retries, Requests int
}

func (h *harness) effects() effects {
	h.t.Helper()
	requests := len(h.pipe.requests(h.t))
	h.pipe.mu.Lock()
	defer h.pipe.mu.Unlock()
	return effects{len(h.slack.Calls()), len(h.pipe.submits), len(h.pipe.changes), len(h.pipe.retries), requests}
}

func mustEmptyAck(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("%s answered %d %q; want an empty 200", what, w.Code, w.Body)
	}
}

// TestReplayedPayloadsActOnce: a signed command, click, form submission or
// event sent again (replayed byte for byte within the signature's five
// minutes, resent by Slack with X-Slack-Retry-Num, or landing on another
// replica) is answered with an empty 200 and changes nothing: no second
// card, form, answer, change or request.
func TestReplayedPayloadsActOnce(t *testing.T) {
	tests := []struct {
		name string
		// first makes the payload, after whatever it needs.
		first func(h *harness) (*http.Request, error)
		// acted checks what its first delivery did.
		acted func(t *testing.T, h *harness)
	}{
		{
			name: "/pg new with settings",
			first: func(h *harness) (*http.Request, error) {
				return h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: general, Text: "new ledger env=dev team=billing"})
			},
			acted: func(t *testing.T, h *harness) {
				if n := len(h.channelMessages(general)); n != 1 {
					t.Errorf("%d draft cards, want 1", n)
				}
			},
		},
		{
			name: "/pg new (the form)",
			first: func(h *harness) (*http.Request, error) {
				return h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: billing, Text: "new"})
			},
			acted: func(t *testing.T, h *harness) {
				if n := len(h.slack.Views()); n != 1 {
					t.Errorf("%d forms opened, want 1", n)
				}
			},
		},
		{
			name: "/pg resize",
			first: func(h *harness) (*http.Request, error) {
				h.readyDatabase("dev", "billing", "ledger", alice, request.Ready)
				return h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: general, Text: "resize ledger size=M"})
			},
			acted: func(t *testing.T, h *harness) {
				mustContain(t, "the answer", h.lastResponse(), "Asked: resize (size S → M)")
				if n := len(h.pipe.changes); n != 1 {
					t.Errorf("%d changes asked, want 1", n)
				}
			},
		},
		{
			name: "/pg list",
			first: func(h *harness) (*http.Request, error) {
				return h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: general, Text: "list"})
			},
			acted: func(t *testing.T, h *harness) {
				if n := len(h.responses()); n != 1 {
					t.Errorf("%d answers, want 1", n)
				}
			},
		},
		{
			name: "Confirm (block_actions)",
			first: func(h *harness) (*http.Request, error) {
				h.command(alice, general, "new ledger env=dev team=billing")
				cb, err := h.slack.ClickButton(general, h.lastMessage(general).TS, actionConfirm, alice)
				if err != nil {
					return nil, err
				}
				return h.signer.Interaction(PathInteractions, cb)
			},
			acted: func(t *testing.T, h *harness) {
				if n := len(h.pipe.requests(t)); n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
			},
		},
		{
			name: "Cancel (block_actions)",
			first: func(h *harness) (*http.Request, error) {
				h.command(alice, general, "new ledger env=dev team=billing")
				cb, err := h.slack.ClickButton(general, h.lastMessage(general).TS, actionCancel, alice)
				if err != nil {
					return nil, err
				}
				return h.signer.Interaction(PathInteractions, cb)
			},
			acted: func(t *testing.T, h *harness) {
				mustContain(t, "the card", h.lastMessage(general).Text, "Cancelled by <@UALICE>")
			},
		},
		{
			name: "the request form (view_submission)",
			first: func(h *harness) (*http.Request, error) {
				h.command(alice, billing, "new")
				cb, err := h.slack.SubmitView(h.lastView().ID, alice, map[string]string{"name": "ledger", "environment": "dev"})
				if err != nil {
					return nil, err
				}
				return h.signer.Interaction(PathInteractions, cb)
			},
			acted: func(t *testing.T, h *harness) {
				if recs := h.pipe.requests(t); len(recs) != 1 || recs[0].Request.Key() != "dev/billing/ledger" {
					t.Errorf("requests = %+v, want dev/billing/ledger", recs)
				}
			},
		},
		{
			name: "the delete form (view_submission)",
			first: func(h *harness) (*http.Request, error) {
				h.readyDatabase("dev", "billing", "ledger", alice, request.Ready)
				h.command(alice, general, "delete ledger")
				cb, err := h.slack.SubmitView(h.lastView().ID, alice, map[string]string{"confirm": "ledger"})
				if err != nil {
					return nil, err
				}
				return h.signer.Interaction(PathInteractions, cb)
			},
			acted: func(t *testing.T, h *harness) {
				if len(h.pipe.changes) != 1 || h.pipe.changes[0].Kind != request.Destroy {
					t.Errorf("changes = %+v, want one deletion", h.pipe.changes)
				}
			},
		},
		{
			name: "a mention (event_callback)",
			first: func(h *harness) (*http.Request, error) {
				return h.signer.Event(PathEvents, "EvMENTION", slacktest.AppMention(alice.ID, general, h.slack.NextTS(), "", "postgres for billing"))
			},
			acted: func(t *testing.T, h *harness) {
				if n := len(h.channelMessages(general)); n != 1 {
					t.Errorf("%d answers, want 1", n)
				}
			},
		},
		{
			name: "a thread reply (event_callback)",
			first: func(h *harness) (*http.Request, error) {
				th := h.mention(alice, general, "postgres for billing")
				return h.signer.Event(PathEvents, "EvREPLY", slacktest.ThreadReply(alice.ID, general, "channel", h.slack.NextTS(), th.ts, "ledger"))
			},
			acted: func(t *testing.T, h *harness) {
				if n := len(h.channelMessages(general)); n != 2 {
					t.Errorf("%d messages, want the first answer and its follow-up", n)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.keep(tc.first(h))
			if w := h.serve(s.replay()); w.Code != http.StatusOK {
				t.Fatalf("first delivery answered %d %s", w.Code, w.Body)
			}
			tc.acted(t, h)
			want := h.effects()
			again := []struct {
				how  string
				send func() (*http.Request, error)
			}{
				{"replayed byte for byte", s.replay},
				{"resent by Slack", func() (*http.Request, error) { return s.retry(1) }},
				{"replayed to another replica", func() (*http.Request, error) { h.restart(); return s.replay() }},
			}
			for _, a := range again {
				mustEmptyAck(t, a.how, h.serve(a.send()))
				if got := h.effects(); got != want {
					t.Errorf("%s: acted again: %+v, want %+v", a.how, got, want)
				}
			}
			tc.acted(t, h)
		})
	}
}

// TestDistinctPayloadsAct: the same command typed twice is two commands
// (two trigger_ids), and both act; so do two events with the same text.
func TestDistinctPayloadsAct(t *testing.T) {
	h := newHarness(t)
	for range 2 {
		if got := ackText(t, h.command(alice, general, "new ledger env=dev team=billing")); got != "" {
			t.Fatalf("acknowledged with %q", got)
		}
	}
	if n := len(h.channelMessages(general)); n != 2 {
		t.Errorf("%d draft cards for two commands, want 2", n)
	}
	for range 2 {
		h.event(slacktest.AppMention(bob.ID, platform, h.slack.NextTS(), "", "postgres for search"))
	}
	if n := len(h.channelMessages(platform)); n != 2 {
		t.Errorf("%d answers to two mentions, want 2", n)
	}
}

// TestConcurrentReplays: copies of one command arriving together (the
// first still being handled) make one card.
func TestConcurrentReplays(t *testing.T) {
	h := newHarness(t)
	s := h.keep(h.signer.Command(PathCommands, slacktest.Command{User: alice, Channel: general, Text: "new ledger env=dev team=billing"}))
	var wg sync.WaitGroup
	for range 8 {
		r, _ := s.replay()
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || w.Body.Len() != 0 {
				t.Errorf("answered %d %q", w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	h.bot.settle()
	if n := len(h.channelMessages(general)); n != 1 {
		t.Errorf("%d draft cards for one command sent 8 times, want 1", n)
	}
}

// flakyStore is a store that cannot record idempotency keys while down is
// set, as when its database does not answer.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (s *flakyStore) Remember(ctx context.Context, key store.Idempotency, result []byte) ([]byte, bool, error) {
	if s.down.Load() {
		return nil, false, errors.New("store: remember: database is locked")
	}
	return s.Store.Remember(ctx, key, result)
}

func (h *harness) flaky() *flakyStore {
	f := &flakyStore{Store: h.store}
	h.store = f
	h.restart()
	return f
}

// TestUnclaimedPayloadsAreNotActedOn: when the store cannot record a
// payload's id, the bot cannot make sure it acts once, so it does not act:
// the user is told to try again, and an event waits for Slack to send it
// again. Help, which changes nothing, is still answered.
func TestUnclaimedPayloadsAreNotActedOn(t *testing.T) {
	h := newHarness(t)
	f := h.flaky()
	h.command(alice, general, "new ledger env=dev team=billing")
	card := h.lastMessage(general)
	h.command(alice, billing, "new")
	form := h.lastView()
	f.down.Store(true)

	mustContain(t, "the help", ackText(t, h.command(alice, general, "help")), "Usage")

	before := h.effects()
	got := ackText(t, h.command(alice, general, "new search env=dev team=billing"))
	mustContain(t, "the answer", got, "could not record this command, so I did not act on it", "Try again")
	if after := h.effects(); after != before {
		t.Errorf("an unrecorded command acted: %+v, was %+v", after, before)
	}

	h.click(general, card.TS, actionConfirm, alice)
	if n := len(h.pipe.requests(t)); n != 0 {
		t.Errorf("an unrecorded click submitted %d request(s)", n)
	}
	notes := h.slack.Messages(general)
	mustContain(t, "the note", notes[len(notes)-1].Text, "could not record this click, so I did not act on it")

	errs := viewErrorsOf(t, h.submitView(form.ID, alice, map[string]string{"name": "ledger", "environment": "dev"}).Body.Bytes())
	mustContain(t, "the form's error", errs["name"], "could not record this submission, so I did not act on it")
	if n := len(h.pipe.submits); n != 0 {
		t.Errorf("an unrecorded submission asked the pipeline %d time(s)", n)
	}

	answers := len(h.channelMessages(platform))
	ev := h.keep(h.signer.Event(PathEvents, "EvDOWN", slacktest.AppMention(bob.ID, platform, h.slack.NextTS(), "", "postgres for search")))
	if w := h.serve(ev.replay()); w.Code != http.StatusServiceUnavailable {
		t.Errorf("an unrecorded event answered %d, want 503 so that Slack sends it again", w.Code)
	}
	if n := len(h.channelMessages(platform)); n != answers {
		t.Errorf("an unrecorded event was answered")
	}
	mustContain(t, "the log", h.logs.String(), "slack event not claimed: not handled")

	// The store is back: Slack's retry of the event is handled, once.
	f.down.Store(false)
	for n := 1; n <= 2; n++ {
		mustEmptyAck(t, "the retry", h.serve(ev.retry(n)))
	}
	if n := len(h.channelMessages(platform)); n != answers+1 {
		t.Errorf("%d answers after the retries, want 1", n-answers)
	}
}

// TestPayloadsWithoutIDAreRefused: Slack sends a trigger_id with every
// command and an event_id with every event; one without cannot be claimed,
// so it is not acted on.
func TestPayloadsWithoutIDAreRefused(t *testing.T) {
	h := newHarness(t)
	form := h.signer.Form(slacktest.Command{User: alice, Channel: general, Text: "new ledger env=dev team=billing"})
	form.Del("trigger_id")
	w := h.serve(h.signer.Request(PathCommands, "application/x-www-form-urlencoded", []byte(form.Encode())))
	mustContain(t, "the answer", ackText(t, w), "did not act on it")

	h.serve(h.signer.Event(PathEvents, "", slacktest.AppMention(alice.ID, general, h.slack.NextTS(), "", "postgres for billing")))
	if n := len(h.channelMessages(general)); n != 0 {
		t.Errorf("%d messages for payloads without ids", n)
	}
}

// TestSocketModeReplays: Socket Mode goes through the same claims: a
// payload Slack redelivers in a new envelope changes nothing, and an event
// that could not be recorded is left unacknowledged, for Slack to send
// again.
func TestSocketModeReplays(t *testing.T) {
	h := newHarness(t, func(c *config.Slack) {
		c.SigningSecret = ""
		c.AppToken = slacktest.DefaultAppToken
	})
	f := h.flaky()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	send := func(typ string, payload any, wait time.Duration) (json.RawMessage, error) {
		sctx, scancel := context.WithTimeout(ctx, wait)
		defer scancel()
		return h.slack.SocketSend(sctx, typ, payload)
	}

	cmd := map[string]string{}
	form := h.signer.Form(slacktest.Command{User: alice, Channel: general, Text: "new ledger env=dev team=billing"})
	for k := range form {
		cmd[k] = form.Get(k)
	}
	for range 2 {
		ack, err := send("slash_commands", cmd, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(ack); s != "" && s != "null" {
			t.Errorf("acknowledged with %s", ack)
		}
		h.bot.settle()
	}
	if n := len(h.channelMessages(general)); n != 1 {
		t.Errorf("%d draft cards for one command delivered twice, want 1", n)
	}

	ev := slacktest.EventCallback("EvSOCKET", slacktest.AppMention(bob.ID, platform, h.slack.NextTS(), "", "postgres for search"))
	f.down.Store(true)
	if _, err := send("events_api", ev, 500*time.Millisecond); err == nil {
		t.Error("an event that could not be recorded was acknowledged")
	}
	f.down.Store(false)
	for range 2 {
		if _, err := send("events_api", ev, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		h.bot.settle()
	}
	if n := len(h.channelMessages(platform)); n != 1 {
		t.Errorf("%d answers to one event delivered three times, want 1", n)
	}
}

// TestOldClaimsAreForgotten: once the bot runs, claims older than an hour
// (past Slack's signature window and its event retries) are deleted; a
// recent one still refuses its replay.
func TestOldClaimsAreForgotten(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	old := store.Idempotency{Scope: scopeCommand, Key: "old-trigger"}
	if _, _, err := h.store.Remember(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Hour)
	recent := store.Idempotency{Scope: scopeEvent, Key: "Ev-recent"}
	if _, _, err := h.store.Remember(ctx, recent, nil); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.bot.Run(runCtx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := h.store.Recall(ctx, old); errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the two-hour-old claim is still there")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := h.store.Recall(ctx, recent); err != nil {
		t.Errorf("the recent claim was forgotten: %v", err)
	}
}
