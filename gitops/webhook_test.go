package gitops

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	testSecret = "webhook-secret-for-tests"
	testRepo   = "Codertocat/Hello-World"
)

// payload loads a real GitHub payload (testdata/github-webhooks, from
// octokit/webhooks) and applies edits to its decoded JSON.
func payload(t *testing.T, name string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "github-webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func sign256(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func sign1(secret string, body []byte) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return "sha1=" + hex.EncodeToString(mac.Sum(nil))
}

func sign512(secret string, body []byte) string {
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write(body)
	return "sha512=" + hex.EncodeToString(mac.Sum(nil))
}

func deliver(h http.Handler, event, delivery string, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", delivery)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// inbox is a Receiver that keeps events in memory, once per delivery and
// action, as the pipeline's Receive keeps them in the store (the pipeline's
// tests cover that).
type inbox struct {
	mu   sync.Mutex
	evs  []Event
	seen map[string]string
	fail error
}

func (in *inbox) receive(_ context.Context, ev Event) (string, bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return "", false, in.fail
	}
	key := ev.Delivery + "/" + ev.Action
	if id, ok := in.seen[key]; ok {
		return id, true, nil
	}
	if in.seen == nil {
		in.seen = map[string]string{}
	}
	id := fmt.Sprint(len(in.evs) + 1)
	in.seen[key] = id
	in.evs = append(in.evs, ev)
	return id, false, nil
}

func (in *inbox) events() []Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.evs)
}

// TestWebhookRefusesUnsigned: nothing is queued for a delivery that is not
// signed with the secret, whatever else it carries.
func TestWebhookRefusesUnsigned(t *testing.T) {
	in := &inbox{}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	body := payload(t, "pull_request.opened.json", nil)
	altered := bytes.Replace(body, []byte(`"opened"`), []byte(`"closed"`), 1)
	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
	}{
		{"no signature", body, nil},
		{"wrong secret", body, map[string]string{"X-Hub-Signature-256": sign256("guess", body)}},
		{"sha1 only", body, map[string]string{"X-Hub-Signature": sign1(testSecret, body)}},
		// go-github picks the hash from the prefix: a right sha1 HMAC in the
		// sha256 header would pass its check.
		{"sha1 HMAC in X-Hub-Signature-256", body, map[string]string{"X-Hub-Signature-256": sign1(testSecret, body)}},
		{"sha512 HMAC in X-Hub-Signature-256", body, map[string]string{"X-Hub-Signature-256": sign512(testSecret, body)}},
		{"no prefix", body, map[string]string{"X-Hub-Signature-256": sign256(testSecret, body)[len("sha256="):]}},
		{"sha1 right, sha256 wrong", body, map[string]string{"X-Hub-Signature": sign1(testSecret, body), "X-Hub-Signature-256": sign256("guess", body)}},
		{"body altered after signing", altered, map[string]string{"X-Hub-Signature-256": sign256(testSecret, body)}},
		{"malformed signature", body, map[string]string{"X-Hub-Signature-256": "sha256=zz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := deliver(h, "pull_request", "d-"+tc.name, tc.body, tc.headers)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", w.Code)
			}
		})
	}
	if n := len(in.events()); n != 0 {
		t.Errorf("%d jobs queued from refused deliveries", n)
	}
	// No secret configured: everything is refused.
	if w := deliver(WebhookHandler(nil, testRepo, in.receive), "pull_request", "x", body, map[string]string{"X-Hub-Signature-256": sign256("", body)}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no secret: status %d, want 503", w.Code)
	}
}

func TestWebhookQueuesOnceAndIgnoresTheRest(t *testing.T) {
	in := &inbox{}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	signed := func(b []byte) map[string]string {
		return map[string]string{"X-Hub-Signature-256": sign256(testSecret, b)}
	}

	opened := payload(t, "pull_request.opened.json", nil)
	if w := deliver(h, "pull_request", "delivery-1", opened, signed(opened)); w.Code != http.StatusAccepted {
		t.Fatalf("opened: %d %s", w.Code, w.Body)
	}
	// GitHub's redelivery keeps the delivery id: a no-op.
	if w := deliver(h, "pull_request", "delivery-1", opened, signed(opened)); w.Code != http.StatusAccepted || !bytes.Contains(w.Body.Bytes(), []byte("duplicate")) {
		t.Fatalf("redelivery: %d %s", w.Code, w.Body)
	}
	merged := payload(t, "pull_request.closed.json", func(m map[string]any) {
		pr := m["pull_request"].(map[string]any)
		pr["merged"] = true
		pr["merge_commit_sha"] = "0123456789abcdef0123456789abcdef01234567"
		pr["merged_by"] = map[string]any{"login": "reviewer"}
	})
	if w := deliver(h, "pull_request", "delivery-2", merged, signed(merged)); w.Code != http.StatusAccepted {
		t.Fatalf("merged: %d %s", w.Code, w.Body)
	}
	comment := payload(t, "issue_comment.created.json", func(m map[string]any) {
		m["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
		m["comment"].(map[string]any)["body"] = "/clustro apply"
	})
	if w := deliver(h, "issue_comment", "delivery-3", comment, signed(comment)); w.Code != http.StatusAccepted {
		t.Fatalf("comment: %d %s", w.Code, w.Body)
	}

	ignored := []struct {
		name, event string
		body        []byte
	}{
		{"ping", "ping", payload(t, "ping.json", nil)},
		{"another repository", "pull_request", payload(t, "pull_request.opened.json", func(m map[string]any) {
			m["repository"].(map[string]any)["full_name"] = "someone/else"
		})},
		{"a chat comment", "issue_comment", payload(t, "issue_comment.created.json", func(m map[string]any) {
			m["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "x"}
		})},
		{"a command on an issue", "issue_comment", payload(t, "issue_comment.created.json", func(m map[string]any) {
			m["comment"].(map[string]any)["body"] = "/clustro plan"
		})},
		{"an unknown event", "star", []byte(`{"action":"created"}`)},
	}
	for _, tc := range ignored {
		if w := deliver(h, tc.event, "ignored-"+tc.name, tc.body, signed(tc.body)); w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte("ignored")) {
			t.Errorf("%s: %d %s, want 200 ignored", tc.name, w.Code, w.Body)
		}
	}

	evs := in.events()
	if len(evs) != 3 {
		t.Fatalf("%d events received, want 3 (opened, merged, comment)", len(evs))
	}
	if e := evs[0]; e.Action != "opened" || e.PR != 2 || e.HeadSHA == "" || e.HeadRef != "changes" || e.BaseRef != "master" || e.Sender != "Codertocat" {
		t.Errorf("opened event: %+v", e)
	}
	if e := evs[1]; e.Action != "closed" || !e.Merged || e.MergeSHA != "0123456789abcdef0123456789abcdef01234567" || e.Sender != "reviewer" {
		t.Errorf("merged event: %+v", e)
	}
	if e := evs[2]; e.Action != "comment" || e.PR != 1 || e.Comment != "/clustro apply" || e.Sender != "Codertocat" {
		t.Errorf("comment event: %+v", e)
	}
}

// unreadBody is a body the handler must not read.
type unreadBody struct{ read bool }

func (b *unreadBody) Read([]byte) (int, error) {
	b.read = true
	return 0, errors.New("read a body that should have been refused unread")
}

// TestWebhookRefusesBeforeReading: whatever the headers already refuse is
// answered without reading a byte of the body, so an unauthenticated
// client cannot make the server hold what it sends.
func TestWebhookRefusesBeforeReading(t *testing.T) {
	in := &inbox{}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	signed := sign256(testSecret, []byte("{}"))
	tests := []struct {
		name        string
		length      int64
		signature   string
		contentType string
		want        int
	}{
		{"no signature", 2, "", "application/json", http.StatusUnauthorized},
		{"sha1 prefix in X-Hub-Signature-256", 2, "sha1=" + strings.Repeat("0", 40), "application/json", http.StatusUnauthorized},
		{"over GitHub's 25 MB cap", 25<<20 + 1, signed, "application/json", http.StatusRequestEntityTooLarge},
		{"24 MiB of text/plain", 24 << 20, signed, "text/plain", http.StatusUnsupportedMediaType},
		{"no Content-Type", 2, signed, "", http.StatusUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := &unreadBody{}
			r := httptest.NewRequest(http.MethodPost, "/webhooks/github", body)
			r.ContentLength = tc.length
			r.Header.Set("X-GitHub-Event", "pull_request")
			r.Header.Set("X-GitHub-Delivery", "unread-"+tc.name)
			if tc.signature != "" {
				r.Header.Set("X-Hub-Signature-256", tc.signature)
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want || body.read {
				t.Errorf("status %d (body read: %v), want %d without reading", w.Code, body.read, tc.want)
			}
		})
	}
	if n := len(in.events()); n != 0 {
		t.Errorf("%d jobs queued from refused deliveries", n)
	}
}

// TestWebhookBodies: a body longer than GitHub's cap is cut at the cap
// (413) even without a Content-Length; one that ends before its
// Content-Length is a 400, not a signature failure.
func TestWebhookBodies(t *testing.T) {
	in := &inbox{}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	tests := []struct {
		name   string
		body   io.Reader
		length int64
		want   int
	}{
		{"25 MB and one byte, chunked", io.LimitReader(zeros{}, 25<<20+1), -1, http.StatusRequestEntityTooLarge},
		{"shorter than its Content-Length", strings.NewReader("{}"), 100, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/github", tc.body)
			r.ContentLength = tc.length
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-GitHub-Event", "ping")
			r.Header.Set("X-Hub-Signature-256", sign256(testSecret, nil))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestWebhookSignedMalformedPayloads: a delivery signed with the secret
// whose payload is not what GitHub sends (a field missing, null, the wrong
// type) is ignored with a 200 and queues nothing; it never panics.
func TestWebhookSignedMalformedPayloads(t *testing.T) {
	in := &inbox{}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	tests := []struct {
		name, event string
		body        []byte
	}{
		{"issue_comment without issue", "issue_comment", payload(t, "issue_comment.created.json", func(m map[string]any) {
			delete(m, "issue")
		})},
		{"a /clustro command without issue", "issue_comment", payload(t, "issue_comment.created.json", func(m map[string]any) {
			delete(m, "issue")
			m["comment"].(map[string]any)["body"] = "/clustro apply"
		})},
		{"a /clustro command on a pull request without comment", "issue_comment", payload(t, "issue_comment.created.json", func(m map[string]any) {
			m["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "x"}
			delete(m, "comment")
		})},
		{"pull_request without pull_request", "pull_request", payload(t, "pull_request.opened.json", func(m map[string]any) {
			delete(m, "pull_request")
		})},
		{"pull_request without repository", "pull_request", payload(t, "pull_request.opened.json", func(m map[string]any) {
			delete(m, "repository")
		})},
		{"null", "pull_request", []byte("null")},
		{"an array", "issue_comment", []byte("[]")},
		{"not JSON", "ping", []byte("not json")},
		{"wrong types", "pull_request", []byte(`{"action":1,"pull_request":"x"}`)},
		{"empty", "issue_comment", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := deliver(h, tc.event, "malformed-"+tc.name, tc.body, map[string]string{"X-Hub-Signature-256": sign256(testSecret, tc.body)})
			if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte("ignored")) {
				t.Errorf("status %d %s, want 200 ignored", w.Code, w.Body)
			}
		})
	}
	if n := len(in.events()); n != 0 {
		t.Errorf("%d jobs queued from malformed payloads", n)
	}
}

// TestWebhookFormEncoded: a webhook set to GitHub's form content type is
// checked on the raw form body and queued from its payload field.
func TestWebhookFormEncoded(t *testing.T) {
	in := &inbox{}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	form := []byte(url.Values{"payload": {string(payload(t, "pull_request.opened.json", nil))}}.Encode())
	w := deliver(h, "pull_request", "form-1", form, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "X-Hub-Signature-256": sign256(testSecret, form)})
	if w.Code != http.StatusAccepted || len(in.events()) != 1 {
		t.Errorf("status %d %s, want 202 and one job", w.Code, w.Body)
	}
}

func TestFitComment(t *testing.T) {
	var plan bytes.Buffer
	for plan.Len() < 200<<10 {
		plan.WriteString("  + resource \"kubectl_manifest\" \"x\" { yaml_body = (sensitive value) }\n")
	}
	body := "<!-- clustro:ws -->\n**Plan: 4 to add, 0 to change, 0 to destroy.**\n<details><summary>Show plan</summary>\n\n```diff\n" +
		plan.String() + "Plan: 4 to add, 0 to change, 0 to destroy.\n```\n</details>\n"
	got := FitComment(body, MaxCommentBytes)
	if len(got) > MaxCommentBytes {
		t.Fatalf("fitted comment is %d bytes", len(got))
	}
	if !bytes.HasPrefix([]byte(got), []byte("<!-- clustro:ws -->\n")) {
		t.Error("the marker line was lost: the comment could not be edited in place")
	}
	if !bytes.HasSuffix([]byte(got), []byte("Plan: 4 to add, 0 to change, 0 to destroy.\n```\n</details>\n")) {
		t.Error("the end of the plan was not kept")
	}
	if n := bytes.Count([]byte(got), []byte("```")); n%2 != 0 {
		t.Errorf("%d code fences: unbalanced", n)
	}
	if bytes.Count([]byte(got), []byte("<details>")) != bytes.Count([]byte(got), []byte("</details>")) {
		t.Error("details blocks unbalanced")
	}
	if !bytes.Contains([]byte(got), []byte("bytes cut to fit GitHub's comment limit")) {
		t.Error("no note says the plan was cut")
	}
	if small := "<!-- m -->\nshort"; FitComment(small, MaxCommentBytes) != small {
		t.Error("a short comment was changed")
	}
}

// TestWebhookReceiveFails: a delivery that could not be kept is a 500, so
// that GitHub (or Sync) delivers it again; the error stays in the log.
func TestWebhookReceiveFails(t *testing.T) {
	in := &inbox{fail: errors.New("store down: dsn postgres://u:hunter2@db")}
	h := WebhookHandler([]byte(testSecret), testRepo, in.receive)
	body := payload(t, "pull_request.opened.json", nil)
	w := deliver(h, "pull_request", "d-fail", body, map[string]string{"X-Hub-Signature-256": sign256(testSecret, body)})
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "hunter2") {
		t.Errorf("status %d %q, want 500 without the error's text", w.Code, w.Body)
	}
}
