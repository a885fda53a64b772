package bot

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/store"
)

// TestSignatureRefused: a request that is not signed with the signing
// secret, or was signed more than 5 minutes ago, or changed after signing,
// is answered 401 on every endpoint, and nothing happens: no Slack call,
// no store write.
func TestSignatureRefused(t *testing.T) {
	h := newHarness(t)
	// Each of these would do something if it were accepted.
	form := h.signer.Form(slacktest.Command{User: alice, Channel: general, Text: "new ledger env=dev team=billing"})
	cmd := []byte(form.Encode())
	cb, err := h.slack.ClickButton(general, "0", "x", alice)
	if err == nil {
		t.Fatalf("clicked a button that does not exist: %+v", cb)
	}
	event := []byte(`{"type":"event_callback","team_id":"T0000000001","event_id":"Ev1","event":{"type":"app_mention","user":"UALICE","text":"<@U0000000BOT> I need a postgres for billing","ts":"1.1","channel":"CGENERAL"}}`)
	interaction := []byte(url.Values{"payload": {`{"type":"block_actions","user":{"id":"UALICE"},"actions":[{"action_id":"draft.cancel","value":"cv1"}]}`}}.Encode())
	bodies := map[string][]byte{PathCommands: cmd, PathEvents: event, PathInteractions: interaction}

	tests := []struct {
		name string
		sign func(r *http.Request, body []byte)
		body func(b []byte) []byte
	}{
		{"no signature", func(*http.Request, []byte) {}, nil},
		{"timestamp but no signature", func(r *http.Request, _ []byte) {
			r.Header.Set("X-Slack-Request-Timestamp", "1700000000")
		}, nil},
		{"stale timestamp", func(r *http.Request, b []byte) {
			slacktest.Sign(r.Header, testSecret, time.Now().Add(-6*time.Minute), b)
		}, nil},
		{"timestamp in the future", func(r *http.Request, b []byte) {
			slacktest.Sign(r.Header, testSecret, time.Now().Add(6*time.Minute), b)
		}, nil},
		{"wrong secret", func(r *http.Request, b []byte) {
			slacktest.Sign(r.Header, "not-the-secret", time.Now(), b)
		}, nil},
		{"body altered after signing", func(r *http.Request, b []byte) {
			slacktest.Sign(r.Header, testSecret, time.Now(), b)
		}, func(b []byte) []byte { return append(bytes.Clone(b), "&text=delete+everything"...) }},
		{"malformed signature", func(r *http.Request, b []byte) {
			slacktest.Sign(r.Header, testSecret, time.Now(), b)
			r.Header.Set("X-Slack-Signature", "v0=zz")
		}, nil},
		{"signature of another version", func(r *http.Request, b []byte) {
			slacktest.Sign(r.Header, testSecret, time.Now(), b)
			r.Header.Set("X-Slack-Signature", "v1="+r.Header.Get("X-Slack-Signature")[3:])
		}, nil},
	}
	for _, tc := range tests {
		for path, body := range bodies {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				sent := body
				if tc.body != nil {
					sent = tc.body(body)
				}
				r, err := http.NewRequest(http.MethodPost, path, bytes.NewReader(sent))
				if err != nil {
					t.Fatal(err)
				}
				r.Header.Set("Content-Type", map[string]string{PathEvents: "application/json"}[path])
				if path != PathEvents {
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				tc.sign(r, body)
				if w := h.serve(r, nil); w.Code != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", w.Code)
				}
			})
		}
	}
	if calls := h.slack.Calls(); len(calls) != 0 {
		t.Errorf("refused requests called Slack: %+v", calls)
	}
	if recs := h.pipe.requests(t); len(recs) != 0 {
		t.Errorf("refused requests stored %d requests", len(recs))
	}
	if _, err := h.store.FindConversation(context.Background(), general, "1.1", alice.ID); err == nil {
		t.Error("a refused event started a conversation")
	}
	if _, err := h.store.Recall(context.Background(), store.Idempotency{Scope: "slack-event", Key: "Ev1"}); err == nil {
		t.Error("a refused event was recorded")
	}

	// The same command, signed, is accepted: the refusals were the signature's.
	r, err := h.signer.Request(PathCommands, "application/x-www-form-urlencoded", cmd)
	if w := h.serve(r, err); w.Code != http.StatusOK {
		t.Fatalf("signed command: status %d: %s", w.Code, w.Body)
	}
	if len(h.slack.CallsTo("chat.postMessage")) != 1 {
		t.Errorf("the signed command did not post its card: %+v", h.slack.Calls())
	}
}

func TestURLVerification(t *testing.T) {
	h := newHarness(t)
	w := h.serve(h.signer.URLVerification(PathEvents, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if b, _ := io.ReadAll(w.Body); string(b) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("challenge answered %q", b)
	}
}

// TestRoutes: the Handler answers what Routes lists, and nothing else.
func TestRoutes(t *testing.T) {
	h := newHarness(t)
	for _, r := range Routes() {
		req, _ := http.NewRequest(r.Method, r.Path, http.NoBody)
		if w := h.serve(req, nil); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s unsigned: status %d, want 401", r.Method, r.Path, w.Code)
		}
	}
	for _, r := range []struct{ method, path string }{{"GET", PathCommands}, {"POST", "/slack/other"}} {
		req, _ := http.NewRequest(r.method, r.path, http.NoBody)
		if w := h.serve(req, nil); w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d", r.method, r.path, w.Code)
		}
	}
}
