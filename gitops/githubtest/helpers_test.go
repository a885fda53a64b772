package githubtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

const hookSecret = "webhook-s3cret"

// received is one webhook as a receiver written like ClustroPG's sees it.
type received struct {
	id     string
	event  string
	header http.Header
	body   []byte
	parsed any
}

// receiver is a webhook endpoint that does what a careful bot does: verify
// the HMAC with github.ValidatePayload (401 if it fails), then parse with
// github.ParseWebHook.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	errs []error
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	rcv := &receiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := github.ValidatePayload(r, []byte(secret))
		if err != nil {
			rcv.fail(err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		parsed, err := github.ParseWebHook(github.WebHookType(r), body)
		if err != nil {
			rcv.fail(err)
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		rcv.got = append(rcv.got, received{
			id: github.DeliveryID(r), event: github.WebHookType(r), header: r.Header.Clone(), body: body, parsed: parsed,
		})
		io.WriteString(w, "ok")
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

func (rcv *receiver) fail(err error) {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rcv.errs = append(rcv.errs, err)
}

func (rcv *receiver) received() []received {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]received(nil), rcv.got...)
}

func (rcv *receiver) rejected() []error {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]error(nil), rcv.errs...)
}

// pullEvents returns the pull_request events received, in order.
func (rcv *receiver) pullEvents() []*github.PullRequestEvent {
	var out []*github.PullRequestEvent
	for _, r := range rcv.received() {
		if e, ok := r.parsed.(*github.PullRequestEvent); ok {
			out = append(out, e)
		}
	}
	return out
}

// commentEvents returns the issue_comment events received, in order.
func (rcv *receiver) commentEvents() []*github.IssueCommentEvent {
	var out []*github.IssueCommentEvent
	for _, r := range rcv.received() {
		if e, ok := r.parsed.(*github.IssueCommentEvent); ok {
			out = append(out, e)
		}
	}
	return out
}

func actions(events []*github.PullRequestEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.GetAction()
	}
	return out
}

// commitBranch makes a commit on a new branch off base through the Git Data
// API, as ClustroPG's gitops package does: GetRef, CreateTree, CreateCommit,
// CreateRef. A nil content deletes the path.
func commitBranch(t *testing.T, c *github.Client, gh *githubtest.Server, base, branch string, files map[string]*string) string {
	t.Helper()
	ctx := context.Background()
	ref, _, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/"+base)
	if err != nil {
		t.Fatalf("GetRef: %v", err)
	}
	parent := ref.GetObject().GetSHA()
	var entries []*github.TreeEntry
	for path, content := range files {
		entries = append(entries, &github.TreeEntry{Path: github.String(path), Mode: github.String("100644"), Type: github.String("blob"), Content: content})
	}
	tree, _, err := c.Git.CreateTree(ctx, gh.Owner(), gh.Repo(), parent, entries)
	if err != nil {
		t.Fatalf("CreateTree: %v", err)
	}
	commit, _, err := c.Git.CreateCommit(ctx, gh.Owner(), gh.Repo(), &github.Commit{
		Message: github.String("Add " + branch),
		Tree:    &github.Tree{SHA: tree.SHA},
		Parents: []*github.Commit{{SHA: github.String(parent)}},
	}, nil)
	if err != nil {
		t.Fatalf("CreateCommit: %v", err)
	}
	if _, _, err := c.Git.CreateRef(ctx, gh.Owner(), gh.Repo(), &github.Reference{
		Ref:    github.String("refs/heads/" + branch),
		Object: &github.GitObject{SHA: commit.SHA},
	}); err != nil {
		t.Fatalf("CreateRef: %v", err)
	}
	return commit.GetSHA()
}

// openPull opens a pull request from branch into main.
func openPull(t *testing.T, c *github.Client, gh *githubtest.Server, branch string) *github.PullRequest {
	t.Helper()
	pr, _, err := c.PullRequests.Create(context.Background(), gh.Owner(), gh.Repo(), &github.NewPullRequest{
		Title: github.String("Provision " + branch),
		Head:  github.String(branch),
		Base:  github.String("main"),
		Body:  github.String("Requested in Slack."),
	})
	if err != nil {
		t.Fatalf("create pull request: %v", err)
	}
	return pr
}

// newWithPull starts an emulator with opts and opens pull request #1 from
// the branch feature, which adds a.txt.
func newWithPull(t *testing.T, opts githubtest.Options) (*githubtest.Server, *github.Client) {
	t.Helper()
	gh := githubtest.NewT(t, opts)
	c := gh.Client()
	commitBranch(t, c, gh, "main", "feature", map[string]*string{"a.txt": github.String("a\n")})
	openPull(t, c, gh, "feature")
	return gh, c
}

// pushCommit commits files on branch as the reviewer (Server.PushCommit)
// and returns the commit.
func pushCommit(t *testing.T, gh *githubtest.Server, branch string, files map[string][]byte, message string) string {
	t.Helper()
	sha, err := gh.PushCommit(branch, files, nil, message)
	if err != nil {
		t.Fatalf("PushCommit: %v", err)
	}
	return sha
}

// apiStatus returns the HTTP status of a go-github error (0 if none).
func apiStatus(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

// apiMessage returns GitHub's message of a go-github error.
func apiMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		msg := er.Message
		for _, e := range er.Errors {
			msg += "; " + e.Message
		}
		return msg
	}
	return ""
}
