package bot

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
)

// unreadBody is a body verifySlack must not read.
type unreadBody struct{ read bool }

func (b *unreadBody) Read([]byte) (int, error) {
	b.read = true
	return 0, errors.New("read a body that should have been refused unread")
}

// TestSignatureHeadersCheckedBeforeTheBody: a request without Slack's
// headers, or signed more than 5 minutes ago, is refused without reading a
// byte of its body.
func TestSignatureHeadersCheckedBeforeTheBody(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		sign func(http.Header)
	}{
		{"no signature", func(http.Header) {}},
		{"timestamp but no signature", func(hd http.Header) { hd.Set("X-Slack-Request-Timestamp", "1700000000") }},
		{"stale timestamp", func(hd http.Header) { slacktest.Sign(hd, testSecret, time.Now().Add(-6*time.Minute), nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := &unreadBody{}
			r, err := http.NewRequest(http.MethodPost, PathEvents, body)
			if err != nil {
				t.Fatal(err)
			}
			r.ContentLength = 24 << 20
			tc.sign(r.Header)
			if w := h.serve(r, nil); w.Code != http.StatusUnauthorized || body.read {
				t.Errorf("status %d (body read: %v), want 401 unread", w.Code, body.read)
			}
		})
	}
}

// TestSlackBodies: a signed body over 1 MiB is a 413, one that stops short
// of its Content-Length a 400; neither reaches the bot.
func TestSlackBodies(t *testing.T) {
	h := newHarness(t)
	big := []byte(`{"type":"event_callback","event":{"type":"message","text":"` + strings.Repeat("x", 1<<20) + `"}}`)
	tests := []struct {
		name   string
		body   []byte
		length int64
		want   int
	}{
		{"a signed event over 1 MiB", big, int64(len(big)), http.StatusRequestEntityTooLarge},
		{"a signed event over 1 MiB, chunked", big, -1, http.StatusRequestEntityTooLarge},
		{"shorter than its Content-Length", []byte(`{"type":"url_verification"}`), 100, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, PathEvents, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			r.ContentLength = tc.length
			r.Header.Set("Content-Type", "application/json")
			slacktest.Sign(r.Header, testSecret, time.Now(), tc.body)
			if w := h.serve(r, nil); w.Code != tc.want {
				t.Errorf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
	if calls := h.slack.Calls(); len(calls) != 0 {
		t.Errorf("refused requests called Slack: %+v", calls)
	}
}
