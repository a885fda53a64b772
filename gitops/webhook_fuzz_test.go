package gitops

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzWebhook signs arbitrary bodies with the secret and delivers them as
// any event: a signed payload, however malformed, must never panic and is
// answered 200 (ignored) or 202 (queued, or a duplicate). The corpus starts
// from GitHub's real payloads (testdata/github-webhooks), each under its
// own event type and under the others.
//
//	go test -run '^$' -fuzz FuzzWebhook -fuzztime 60s ./gitops
func FuzzWebhook(f *testing.F) {
	events := []string{"pull_request", "issue_comment", "ping", "push", "pull_request_review", "installation", ""}
	files, err := filepath.Glob(filepath.Join("testdata", "github-webhooks", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed payloads in testdata/github-webhooks: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		own, _, _ := strings.Cut(filepath.Base(file), ".")
		f.Add(own, b)
		for _, ev := range events {
			if ev != own {
				f.Add(ev, b)
			}
		}
	}
	for _, b := range []string{`null`, `[]`, `{}`, `{"action":"created","issue":null}`, `{"pull_request":{}}`, `{"repository":{"full_name":"Codertocat/Hello-World"}}`} {
		f.Add("issue_comment", []byte(b))
		f.Add("pull_request", []byte(b))
	}
	h := WebhookHandler([]byte(testSecret), testRepo, (&inbox{}).receive)
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		w := deliver(h, event, "fuzz-delivery", body, map[string]string{"X-Hub-Signature-256": sign256(testSecret, body)})
		if w.Code != http.StatusOK && w.Code != http.StatusAccepted {
			t.Errorf("event %q: status %d %s, want 200 or 202", event, w.Code, w.Body)
		}
	})
}
