package githubtest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestRateLimitHeaders: every API answer carries GitHub's X-RateLimit-*
// headers, the remaining budget going down a call at a time; a GET carries
// an ETag, and the same GET with If-None-Match answers 304 without costing
// anything.
func TestRateLimitHeaders(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{RateLimit: 10})
	c := gh.Client()
	_, first, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	if first.Rate.Limit != 10 || first.Rate.Remaining != 9 || second.Rate.Remaining != 8 || first.Rate.Reset.IsZero() {
		t.Errorf("rates %+v then %+v, want limit 10, remaining 9 then 8, a reset", first.Rate, second.Rate)
	}
	if got := second.Header.Get("X-RateLimit-Used"); got != "2" || second.Header.Get("X-RateLimit-Resource") != "core" {
		t.Errorf("used %q, resource %q", got, second.Header.Get("X-RateLimit-Resource"))
	}
	etag := second.Header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) || etag != first.Header.Get("ETag") {
		t.Fatalf("ETags %q and %q: want one weak ETag for the same content", first.Header.Get("ETag"), etag)
	}

	req, _ := c.NewRequest("GET", "repos/clustropg/infra/git/ref/heads/main", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := c.Do(ctx, req, nil)
	if resp == nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %v, want 304", err)
	}
	if resp.Rate.Remaining != 8 || gh.RateLimit().Used != 2 {
		t.Errorf("after a 304: remaining %d, used %d; want 8 and 2 (a 304 is free)", resp.Rate.Remaining, gh.RateLimit().Used)
	}
	if resp.Header.Get("ETag") != etag {
		t.Errorf("a 304 carries the ETag: %q", resp.Header.Get("ETag"))
	}
	// A change makes a new ETag.
	pushCommit(t, gh, "main", map[string][]byte{"b.txt": []byte("b\n")}, "change main")
	resp, err = c.Do(ctx, req, nil)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Errorf("after a change: %v, status %d, ETag %q", err, resp.StatusCode, resp.Header.Get("ETag"))
	}
}

// TestRateLimitExhausted: once the budget is spent, calls answer GitHub's
// 403 with X-RateLimit-Remaining 0 (go-github's *RateLimitError) and do
// nothing, until the window resets.
func TestRateLimitExhausted(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	gh := githubtest.NewT(t, githubtest.Options{RateLimit: 2, RateLimitWindow: time.Minute, Now: clock})
	c := gh.Client()
	for range 2 {
		if _, _, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main"); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh client, which has not seen Remaining 0, so that the call is made.
	_, _, err := gh.Client().Git.CreateRef(ctx, gh.Owner(), gh.Repo(), &github.Reference{
		Ref: github.String("refs/heads/x"), Object: &github.GitObject{SHA: github.String(strings.Repeat("a", 40))}})
	var rle *github.RateLimitError
	if !errors.As(err, &rle) || rle.Rate.Remaining != 0 || !rle.Rate.Reset.Time.Equal(now.Add(time.Minute)) {
		t.Fatalf("err = %v, want go-github's RateLimitError resetting at %s", err, now.Add(time.Minute))
	}
	if !strings.Contains(rle.Message, "API rate limit exceeded") {
		t.Errorf("message %q", rle.Message)
	}
	if rl := gh.RateLimit(); rl.Remaining != 0 || rl.Used != 2 {
		t.Errorf("RateLimit() = %+v", rl)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, resp, err := gh.Client().Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main"); err != nil || resp.Rate.Remaining != 1 {
		t.Errorf("after the reset: %v, remaining %d", err, resp.Rate.Remaining)
	}
}

// TestSecondaryRateLimit: a test can make the next calls answer GitHub's
// secondary rate limit, as a 403 (go-github's *AbuseRateLimitError) or a
// 429, with Retry-After.
func TestSecondaryRateLimit(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{})
	c := gh.Client()
	gh.SecondaryRateLimit(http.StatusForbidden, 1500*time.Millisecond, 1)
	gh.SecondaryRateLimit(http.StatusTooManyRequests, time.Second, 1)
	_, _, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main")
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil || *abuse.RetryAfter != 2*time.Second {
		t.Fatalf("err = %v, want go-github's AbuseRateLimitError retrying after 2s", err)
	}
	_, resp, err := gh.Client().Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main")
	if apiStatus(err) != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("err = %v, want a 429 with Retry-After 1", err)
	}
	if _, _, err := gh.Client().Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main"); err != nil {
		t.Fatal(err)
	}
	if used := gh.RateLimit().Used; used != 1 {
		t.Errorf("used %d, want 1: refused calls are not counted", used)
	}
}

// TestListPullsByUpdate: GET /pulls sorts by last update when asked
// (direction desc, or GitHub's default asc), pages with Link headers, and
// an unchanged page answers 304 to its ETag.
func TestListPullsByUpdate(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tick := func() { mu.Lock(); now = now.Add(time.Minute); mu.Unlock() }
	gh := githubtest.NewT(t, githubtest.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	c := gh.Client()
	for _, b := range []string{"one", "two", "three"} {
		commitBranch(t, c, gh, "main", b, map[string]*string{b + ".txt": github.String(b)})
		openPull(t, c, gh, b)
	}
	// Closed in the order 2, 3, 1: #1 is the most recently updated.
	for _, n := range []int{2, 3, 1} {
		tick()
		if err := gh.ClosePull(n, "octocat"); err != nil {
			t.Fatal(err)
		}
	}
	numbers := func(prs []*github.PullRequest) []int {
		var out []int
		for _, pr := range prs {
			out = append(out, pr.GetNumber())
		}
		return out
	}
	opts := &github.PullRequestListOptions{State: "closed", Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: 2}}
	prs, resp, err := c.PullRequests.List(ctx, gh.Owner(), gh.Repo(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := numbers(prs); len(got) != 2 || got[0] != 1 || got[1] != 3 || resp.NextPage != 2 {
		t.Errorf("page 1 = %v, next %d; want [1 3], next 2", got, resp.NextPage)
	}
	opts.Page = 2
	if prs, resp, err := c.PullRequests.List(ctx, gh.Owner(), gh.Repo(), opts); err != nil || len(prs) != 1 || prs[0].GetNumber() != 2 || resp.NextPage != 0 {
		t.Errorf("page 2 = %v, next %d, %v; want [2], last", numbers(prs), resp.NextPage, err)
	}
	asc := &github.PullRequestListOptions{State: "closed", Sort: "updated"}
	if prs, _, err := c.PullRequests.List(ctx, gh.Owner(), gh.Repo(), asc); err != nil || len(prs) != 3 || prs[0].GetNumber() != 2 {
		t.Errorf("sort=updated without direction = %v, %v; want GitHub's default, ascending", numbers(prs), err)
	}

	// Page 1 again, conditionally: unchanged, then changed by a comment.
	req, _ := c.NewRequest("GET", "repos/clustropg/infra/pulls?state=closed&sort=updated&direction=desc&per_page=2", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if r, _ := c.Do(ctx, req, nil); r == nil || r.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged page: want 304")
	}
	tick()
	if _, err := gh.Comment(2, "octocat", "late"); err != nil {
		t.Fatal(err)
	}
	var page []*github.PullRequest
	if r, err := c.Do(ctx, req, &page); err != nil || r.StatusCode != http.StatusOK || page[0].GetNumber() != 2 {
		t.Errorf("after a comment on #2: %v, %v; want 200 with #2 first", err, numbers(page))
	}
}

// TestListPullsStrict: a query parameter or a sort the emulator does not
// implement is an unexpected request, so that a test never passes on an
// answer GitHub would not give.
func TestListPullsStrict(t *testing.T) {
	tb := &fakeTB{dir: t.TempDir()}
	gh := githubtest.NewT(tb, githubtest.Options{})
	c := gh.Client()
	for _, u := range []string{"pulls?state=closed&since=2026-01-01", "pulls?sort=popularity"} {
		req, _ := c.NewRequest("GET", "repos/clustropg/infra/"+u, nil)
		_, _ = c.Do(context.Background(), req, nil)
	}
	req, _ := c.NewRequest("GET", "repos/clustropg/infra/pulls?direction=sideways", nil)
	if _, err := c.Do(context.Background(), req, nil); apiStatus(err) != http.StatusUnprocessableEntity {
		t.Errorf("direction=sideways: %v, want 422", err)
	}
	tb.finish()
	if len(tb.errors) != 1 || !strings.Contains(tb.errors[0], `"since"`) || !strings.Contains(tb.errors[0], "popularity") {
		t.Errorf("NewT reported %q, want the since parameter and the popularity sort", tb.errors)
	}
}
