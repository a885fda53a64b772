package githubtest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// fakeTB records what NewT reports instead of failing the real test.
type fakeTB struct {
	dir      string
	mu       sync.Mutex
	errors   []string
	fatals   []string
	cleanups []func()
}

func (f *fakeTB) Helper()         {}
func (f *fakeTB) TempDir() string { return f.dir }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// finish runs the cleanups, last first, as the testing package does.
func (f *fakeTB) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// TestStrict checks that whatever the emulator does not implement answers
// GitHub's 404, is recorded, and fails a NewT test at cleanup.
func TestStrict(t *testing.T) {
	ctx := context.Background()
	tb := &fakeTB{dir: t.TempDir()}
	gh := githubtest.NewT(tb, githubtest.Options{})
	c := gh.Client()

	tests := []struct {
		name string
		call func() error
		path string
	}{
		{"the repository", func() error { _, _, err := c.Repositories.Get(ctx, "clustropg", "infra"); return err },
			"GET /repos/clustropg/infra"},
		{"a review", func() error {
			_, _, err := c.PullRequests.CreateReview(ctx, "clustropg", "infra", 1, &github.PullRequestReviewRequest{})
			return err
		}, "POST /repos/clustropg/infra/pulls/1/reviews"},
		{"deleting a comment", func() error { _, err := c.Issues.DeleteComment(ctx, "clustropg", "infra", 1); return err },
			"DELETE /repos/clustropg/infra/issues/comments/1"},
		{"the authenticated user", func() error { _, _, err := c.Users.Get(ctx, ""); return err },
			"GET /user"},
		{"matching refs", func() error {
			_, _, err := c.Git.ListMatchingRefs(ctx, "clustropg", "infra", &github.ReferenceListOptions{Ref: "heads/"})
			return err
		}, "GET /repos/clustropg/infra/git/matching-refs/heads"},
		{"another repository", func() error { _, _, err := c.PullRequests.Get(ctx, "clustropg", "secrets", 1); return err },
			"GET /repos/clustropg/secrets/pulls/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if apiStatus(err) != http.StatusNotFound || apiMessage(err) != "Not Found" {
				t.Errorf("err = %v, want GitHub's 404", err)
			}
		})
	}

	// A 404 the API really answers is not a surprise.
	if _, _, err := c.PullRequests.Get(ctx, "clustropg", "infra", 7); apiStatus(err) != http.StatusNotFound {
		t.Errorf("missing pull request: %v, want 404", err)
	}

	unexpected := gh.Unexpected()
	if len(unexpected) != len(tests) {
		t.Errorf("Unexpected() = %v, want %d requests", unexpected, len(tests))
	}
	for i, r := range unexpected {
		if i < len(tests) && !strings.HasPrefix(r.String(), tests[i].path) {
			t.Errorf("unexpected[%d] = %s, want %s", i, r, tests[i].path)
		}
		if r.StatusCode != http.StatusNotFound || r.Reason == "" {
			t.Errorf("unexpected[%d] = %d, reason %q", i, r.StatusCode, r.Reason)
		}
	}

	tb.finish()
	if len(tb.errors) != 1 {
		t.Fatalf("NewT reported %d errors at cleanup, want 1: %q", len(tb.errors), tb.errors)
	}
	for _, tt := range tests {
		if !strings.Contains(tb.errors[0], tt.path) {
			t.Errorf("cleanup error does not list %s:\n%s", tt.path, tb.errors[0])
		}
	}
}

// TestStrictQuiet checks a test that only does expected things passes.
func TestStrictQuiet(t *testing.T) {
	tb := &fakeTB{dir: t.TempDir()}
	gh := githubtest.NewT(tb, githubtest.Options{})
	if _, _, err := gh.Client().Git.GetRef(context.Background(), gh.Owner(), gh.Repo(), "heads/main"); err != nil {
		t.Fatal(err)
	}
	tb.finish()
	if len(tb.errors)+len(tb.fatals) != 0 {
		t.Errorf("NewT reported %q %q", tb.errors, tb.fatals)
	}
	if got := gh.Requests(); len(got) != 1 || got[0].String() != "GET /repos/clustropg/infra/git/ref/heads/main" || got[0].StatusCode != http.StatusOK {
		t.Errorf("Requests() = %v", got)
	}
}

// TestNewOptionsErrors checks New lists every problem with its options.
func TestNewOptionsErrors(t *testing.T) {
	_, err := githubtest.New(githubtest.Options{
		Owner: "bad owner",
		Files: map[string][]byte{"../escape": nil, "/abs": nil},
		App:   &githubtest.AppOptions{},
	})
	if err == nil {
		t.Fatal("New accepted bad options")
	}
	for _, want := range []string{"bad owner", "../escape", "/abs", "ID is required", "InstallationID is required", "PrivateKeyPEM is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
