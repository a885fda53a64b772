package gitops

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/gitops/githubtest"
)

// limitedClient is a client of gh that waits at most maxWait and records
// the remaining budget each answer reports.
func limitedClient(t *testing.T, gh *githubtest.Server, maxWait time.Duration) (*Client, func() []int) {
	t.Helper()
	var (
		mu        sync.Mutex
		remaining []int
	)
	c, err := NewClient(Options{APIURL: gh.URL() + "/", Repo: "acme/infra", Auth: Auth{Token: gh.Token()}, MaxWait: maxWait,
		OnRate: func(r Rate) { mu.Lock(); remaining = append(remaining, r.Remaining); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []int { mu.Lock(); defer mu.Unlock(); return slices.Clone(remaining) }
}

// statuses is what the emulator answered, in order.
func statuses(gh *githubtest.Server) []int {
	var out []int
	for _, r := range gh.Requests() {
		out = append(out, r.StatusCode)
	}
	return out
}

// TestSpentBudgetWaitsForReset: the call after the last of the budget
// waits for the reset instead of failing, and the observer sees each
// answer's remaining budget.
func TestSpentBudgetWaitsForReset(t *testing.T) {
	gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra", RateLimit: 2, RateLimitWindow: time.Second})
	c, seen := limitedClient(t, gh, 10*time.Second)
	ctx := context.Background()
	if _, err := c.branchHead(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	// The budget's last call fails (a 404 counts too).
	if _, err := c.GetPR(ctx, 99); err == nil {
		t.Fatal("read a pull request that does not exist")
	}
	if _, err := c.branchHead(ctx, "main"); err != nil {
		t.Fatalf("the call after the budget: %v", err)
	}
	if got := statuses(gh); !slices.Equal(got, []int{200, 404, 200}) {
		t.Errorf("the emulator answered %v, want 200, 404, 200: the third call waited for the reset", got)
	}
	if got := seen(); !slices.Equal(got, []int{1, 0, 1}) {
		t.Errorf("remaining budget observed %v, want [1 0 1]", got)
	}
}

// TestSpentBudgetBeyondMaxWait: when the reset is further than MaxWait,
// the call fails at once with *RateLimitError, without calling GitHub;
// a client that did not know (a 403 for the spent budget) gets the same.
func TestSpentBudgetBeyondMaxWait(t *testing.T) {
	gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra", RateLimit: 1})
	c, _ := limitedClient(t, gh, 50*time.Millisecond)
	ctx := context.Background()
	if _, err := c.branchHead(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.branchHead(ctx, "main")
	var rle *RateLimitError
	if !errors.As(err, &rle) || rle.Secondary || rle.Until.Before(time.Now().Add(30*time.Minute)) || time.Since(start) > time.Second {
		t.Fatalf("err = %v, want a RateLimitError until the reset, at once", err)
	}
	if n := len(gh.Requests()); n != 1 {
		t.Errorf("%d calls reached GitHub, want 1", n)
	}
	other, _ := limitedClient(t, gh, 50*time.Millisecond)
	if _, err := other.branchHead(ctx, "main"); !errors.As(err, &rle) {
		t.Errorf("a client that had not seen the budget spent: %v, want a RateLimitError", err)
	}
	if got := statuses(gh); !slices.Equal(got, []int{200, 403}) {
		t.Errorf("the emulator answered %v, want 200 then one 403", got)
	}
}

// TestSecondaryLimitHonoured: a 403 or 429 with Retry-After makes the
// client wait that long and retry, a POST with its body; a Retry-After
// longer than MaxWait fails the call with a secondary *RateLimitError.
func TestSecondaryLimitHonoured(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra"})
			c, _ := limitedClient(t, gh, 5*time.Second)
			ctx := context.Background()
			sha, err := c.branchHead(ctx, "main")
			if err != nil {
				t.Fatal(err)
			}
			gh.SecondaryRateLimit(status, time.Second, 1)
			start := time.Now()
			if err := c.SetStatus(ctx, sha, StatusPending, "planning", ""); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < time.Second {
				t.Errorf("retried after %s, before Retry-After", took)
			}
			if got := statuses(gh); !slices.Equal(got, []int{200, status, 201}) {
				t.Errorf("the emulator answered %v", got)
			}
			if st := gh.Statuses(sha); len(st) != 1 || st[0].GetDescription() != "planning" {
				t.Errorf("statuses %v: the retried POST should carry its body", st)
			}

			gh.SecondaryRateLimit(status, time.Minute, 1)
			err = c.SetStatus(ctx, sha, StatusPending, "again", "")
			var rle *RateLimitError
			if !errors.As(err, &rle) || !rle.Secondary {
				t.Errorf("Retry-After beyond MaxWait: %v, want a secondary RateLimitError", err)
			}
		})
	}
}

// TestRecentlyClosedConditional: the second read of an unchanged page is a
// 304, which costs no budget; a closed pull request changes the page.
func TestRecentlyClosedConditional(t *testing.T) {
	gh, c := emulator(t)
	ctx := context.Background()
	first, err := c.RecentlyClosed(ctx, 1, true)
	if err != nil || first.NotModified || first.ETag == "" || first.Previous != "" || len(first.Pulls) != 0 {
		t.Fatalf("first read: %+v, %v", first, err)
	}
	used := gh.RateLimit().Used
	again, err := c.RecentlyClosed(ctx, 1, true)
	if err != nil || !again.NotModified || again.ETag != first.ETag {
		t.Fatalf("second read: %+v, %v; want 304", again, err)
	}
	if gh.RateLimit().Used != used {
		t.Errorf("the 304 cost budget")
	}
	pr, err := c.OpenPR(ctx, Change{Branch: "clustro/r1", Title: "t", Message: "m", Files: map[string][]byte{"a.tf": []byte("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.ClosePull(pr.Number, "octocat"); err != nil {
		t.Fatal(err)
	}
	changed, err := c.RecentlyClosed(ctx, 1, true)
	if err != nil || changed.NotModified || changed.Previous != first.ETag || len(changed.Pulls) != 1 || changed.Pulls[0].GetNumber() != pr.Number {
		t.Errorf("after a close: %+v, %v", changed, err)
	}
	if r := gh.Requests(); r[len(r)-1].Query.Get("sort") != "updated" || r[len(r)-1].Query.Get("per_page") != "100" {
		t.Errorf("the list asked %s", r[len(r)-1])
	}
}

// TestLimitOfHostileHeaders: a Retry-After too large for a Duration waits
// a bounded time instead of overflowing into "now", and a spent budget of
// another resource (search) does not hold up the core calls.
func TestLimitOfHostileHeaders(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	l := &limiter{now: func() time.Time { return now }}
	resp := func(status int, h map[string]string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	until, secondary, limited := l.limitOf(resp(http.StatusTooManyRequests, map[string]string{"Retry-After": "99999999999999"}), Rate{})
	if !limited || !secondary || until.Before(now.Add(23*time.Hour)) || until.After(now.Add(25*time.Hour)) {
		t.Errorf("huge Retry-After: until %s, limited %v; want about a day from now", until, limited)
	}
	search := resp(http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Resource": "search"})
	if _, _, limited := l.limitOf(search, Rate{Resource: "search", Reset: now.Add(time.Hour)}); limited {
		t.Error("a spent search budget held up the client")
	}
}
