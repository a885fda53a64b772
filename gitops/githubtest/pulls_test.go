package githubtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestCreatePullErrors checks the validation GitHub applies to new pull
// requests.
func TestCreatePullErrors(t *testing.T) {
	ctx := context.Background()
	gh, c := newWithPull(t, githubtest.Options{})
	main, _ := gh.Resolve("main")
	if _, _, err := c.Git.CreateRef(ctx, gh.Owner(), gh.Repo(), &github.Reference{Ref: github.String("refs/heads/same"), Object: &github.GitObject{SHA: github.String(main)}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		pull        github.NewPullRequest
		wantMessage string
	}{
		{"already exists", github.NewPullRequest{Title: github.String("t"), Head: github.String("clustropg:feature"), Base: github.String("main")}, "A pull request already exists for clustropg:feature."},
		{"no commits", github.NewPullRequest{Title: github.String("t"), Head: github.String("same"), Base: github.String("main")}, "No commits between main and same"},
		{"unknown base", github.NewPullRequest{Title: github.String("t"), Head: github.String("feature"), Base: github.String("nope")}, ""},
		{"unknown head", github.NewPullRequest{Title: github.String("t"), Head: github.String("nope"), Base: github.String("main")}, ""},
		{"no title", github.NewPullRequest{Head: github.String("feature"), Base: github.String("main")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.PullRequests.Create(ctx, gh.Owner(), gh.Repo(), &tt.pull)
			if apiStatus(err) != http.StatusUnprocessableEntity {
				t.Fatalf("err = %v, want 422", err)
			}
			if msg := apiMessage(err); !strings.HasPrefix(msg, "Validation Failed") || !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message = %q, want Validation Failed with %q", msg, tt.wantMessage)
			}
		})
	}
}

// TestMergeErrors checks when GitHub refuses to merge.
func TestMergeErrors(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{Files: map[string][]byte{"conf.tf": []byte("size = 1\n")}})
	c := gh.Client()
	head := commitBranch(t, c, gh, "main", "conflicting", map[string]*string{"conf.tf": github.String("size = 2\n")})
	openPull(t, c, gh, "conflicting")
	commitBranch(t, c, gh, "main", "draft", map[string]*string{"d.txt": github.String("d\n")})
	if _, _, err := c.PullRequests.Create(ctx, gh.Owner(), gh.Repo(), &github.NewPullRequest{
		Title: github.String("WIP"), Head: github.String("draft"), Base: github.String("main"), Draft: github.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	commitBranch(t, c, gh, "main", "closed", map[string]*string{"e.txt": github.String("e\n")})
	openPull(t, c, gh, "closed")
	if err := gh.ClosePull(3, "alice"); err != nil {
		t.Fatal(err)
	}
	// #4 changes conf.tf and changes it back: merged whole it is clean, but
	// its first commit does not apply on the moved main.
	commitBranch(t, c, gh, "main", "flipflop", map[string]*string{"conf.tf": github.String("size = 2\n")})
	pushCommit(t, gh, "flipflop", map[string][]byte{"conf.tf": []byte("size = 1\n")}, "Back to 1")
	openPull(t, c, gh, "flipflop")
	// main moves so that #1 conflicts.
	pushCommit(t, gh, "main", map[string][]byte{"conf.tf": []byte("size = 3\n")}, "Resize")

	tests := []struct {
		name        string
		number      int
		opts        *github.PullRequestOptions
		wantStatus  int
		wantMessage string
	}{
		{"head moved since review", 1, &github.PullRequestOptions{SHA: strings.Repeat("0", 40)}, http.StatusConflict, "Head branch was modified. Review and try the merge again."},
		{"conflict", 1, &github.PullRequestOptions{SHA: head}, http.StatusMethodNotAllowed, "Pull Request is not mergeable"},
		{"draft", 2, nil, http.StatusMethodNotAllowed, "Pull Request is still a draft"},
		{"closed", 3, nil, http.StatusMethodNotAllowed, "Pull Request is not mergeable"},
		{"unknown method", 2, &github.PullRequestOptions{MergeMethod: "fast-forward"}, http.StatusUnprocessableEntity,
			"Invalid request.\n\nFor 'properties/merge_method', \"fast-forward\" is not a member of [\"merge\", \"squash\", \"rebase\"]."},
		{"rebase that conflicts", 4, &github.PullRequestOptions{MergeMethod: "rebase"}, http.StatusMethodNotAllowed, "This branch can't be rebased"},
		{"unknown", 9, nil, http.StatusNotFound, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.PullRequests.Merge(ctx, gh.Owner(), gh.Repo(), tt.number, "", tt.opts)
			if apiStatus(err) != tt.wantStatus || apiMessage(err) != tt.wantMessage {
				t.Errorf("merge #%d = %d %q, want %d %q", tt.number, apiStatus(err), apiMessage(err), tt.wantStatus, tt.wantMessage)
			}
		})
	}
	pr, err := gh.PullRequest(1)
	if err != nil || pr.GetMergeable() || pr.GetMergeableState() != "dirty" {
		t.Errorf("conflicting pull request: mergeable %v state %q, %v", pr.GetMergeable(), pr.GetMergeableState(), err)
	}
	// What does not rebase still merges.
	if pr, _ := gh.PullRequest(4); pr.GetMerged() {
		t.Fatal("#4 was merged by the failed rebase")
	}
	if _, err := gh.MergeWith(4, "alice", "merge"); err != nil {
		t.Errorf("merge #4: %v", err)
	}
}

// TestSquashMerge merges with merge_method squash: one parent, the pull
// request's title as the subject.
func TestSquashMerge(t *testing.T) {
	ctx := context.Background()
	gh, c := newWithPull(t, githubtest.Options{})
	main, _ := gh.Resolve("main")
	res, _, err := c.PullRequests.Merge(ctx, gh.Owner(), gh.Repo(), 1, "", &github.PullRequestOptions{MergeMethod: "squash"})
	if err != nil {
		t.Fatal(err)
	}
	log, err := gh.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	if log[0].SHA != res.GetSHA() || !reflect.DeepEqual(log[0].Parents, []string{main}) || !strings.HasPrefix(log[0].Message, "Provision feature (#1)") {
		t.Errorf("squash commit = %+v", log[0])
	}
	if data, err := gh.ReadFile("main", "a.txt"); err != nil || string(data) != "a\n" {
		t.Errorf("a.txt on main = %q, %v", data, err)
	}
}

// TestMergeMethods merges a two-commit pull request, after main moved on,
// with each of GitHub's merge methods, and checks the history each writes
// and the merge_commit_sha the pull request then carries.
func TestMergeMethods(t *testing.T) {
	tests := []struct {
		method string
		// check gets main's log, newest first, main before the merge, and
		// the pull request's two commits.
		check func(t *testing.T, log []githubtest.Commit, before string, commits [2]githubtest.Commit)
	}{
		{"merge", func(t *testing.T, log []githubtest.Commit, before string, commits [2]githubtest.Commit) {
			if !reflect.DeepEqual(log[0].Parents, []string{before, commits[1].SHA}) || !strings.HasPrefix(log[0].Message, "Merge pull request #1 from clustropg/feature") {
				t.Errorf("merge commit = %+v", log[0])
			}
		}},
		{"squash", func(t *testing.T, log []githubtest.Commit, before string, commits [2]githubtest.Commit) {
			if !reflect.DeepEqual(log[0].Parents, []string{before}) || log[0].Message != "Provision feature (#1)\n\n* Add feature\n\n* Add b" {
				t.Errorf("squash commit = %+v", log[0])
			}
		}},
		{"rebase", func(t *testing.T, log []githubtest.Commit, before string, commits [2]githubtest.Commit) {
			// One new commit per pull request commit, on top of main, with
			// its author and message; GitHub commits them.
			for i, c := range []githubtest.Commit{log[1], log[0]} {
				orig := commits[i]
				if c.SHA == orig.SHA || c.Message != orig.Message || c.Author != orig.Author || c.Committer != "GitHub" {
					t.Errorf("rebased commit %d = %+v, from %+v", i+1, c, orig)
				}
			}
			if !reflect.DeepEqual(log[1].Parents, []string{before}) || !reflect.DeepEqual(log[0].Parents, []string{log[1].SHA}) {
				t.Errorf("rebased parents: %v, %v; main was %s", log[1].Parents, log[0].Parents, before)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			ctx := context.Background()
			gh := githubtest.NewT(t, githubtest.Options{Files: map[string][]byte{"other.tf": []byte("x\n")}})
			c := gh.Client()
			commitBranch(t, c, gh, "main", "feature", map[string]*string{"a.txt": github.String("a\n")})
			pushCommit(t, gh, "feature", map[string][]byte{"b.txt": []byte("b\n")}, "Add b")
			openPull(t, c, gh, "feature")
			pushCommit(t, gh, "main", map[string][]byte{"other.tf": []byte("y\n")}, "Another change")
			before, _ := gh.Resolve("main")
			branch, _ := gh.Log("feature")
			commits := [2]githubtest.Commit{branch[1], branch[0]}

			res, _, err := c.PullRequests.Merge(ctx, gh.Owner(), gh.Repo(), 1, "", &github.PullRequestOptions{MergeMethod: tt.method})
			if err != nil {
				t.Fatal(err)
			}
			log, err := gh.Log("main")
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, log, before, commits)
			pr, _ := gh.PullRequest(1)
			if !pr.GetMerged() || pr.GetMergeCommitSHA() != res.GetSHA() || log[0].SHA != res.GetSHA() {
				t.Errorf("merged %v, merge_commit_sha %s, merge answered %s, main at %s", pr.GetMerged(), pr.GetMergeCommitSHA(), res.GetSHA(), log[0].SHA)
			}
			for file, want := range map[string]string{"a.txt": "a\n", "b.txt": "b\n", "other.tf": "y\n"} {
				if data, err := gh.ReadFile("main", file); err != nil || string(data) != want {
					t.Errorf("%s on main = %q, %v; want %q", file, data, err, want)
				}
			}
			// The files GitHub lists for the merged pull request are still
			// its own, whatever the method.
			files, _, err := c.PullRequests.ListFiles(ctx, gh.Owner(), gh.Repo(), 1, nil)
			var names []string
			for _, f := range files {
				names = append(names, f.GetFilename())
			}
			if err != nil || !reflect.DeepEqual(names, []string{"a.txt", "b.txt"}) || pr.GetChangedFiles() != 2 {
				t.Errorf("files of the merged pull request = %v (changed_files %d), %v", names, pr.GetChangedFiles(), err)
			}
		})
	}
}

// TestCloseReopenAndEdit follows a pull request closed, reopened and edited
// through the API and by people, and closed by deleting its branch.
func TestCloseReopenAndEdit(t *testing.T) {
	ctx := context.Background()
	rcv := newReceiver(t, hookSecret)
	gh, c := newWithPull(t, githubtest.Options{WebhookURL: rcv.URL, WebhookSecret: hookSecret, SyncWebhooks: true})

	steps := []struct {
		name string
		do   func() error
	}{
		{"API close", func() error {
			_, _, err := c.PullRequests.Edit(ctx, gh.Owner(), gh.Repo(), 1, &github.PullRequest{State: github.String("closed")})
			return err
		}},
		{"person reopens", func() error { return gh.ReopenPull(1, "alice") }},
		{"API retitles", func() error {
			_, _, err := c.PullRequests.Edit(ctx, gh.Owner(), gh.Repo(), 1, &github.PullRequest{Title: github.String("Provision orders")})
			return err
		}},
		{"person closes", func() error { return gh.ClosePull(1, "alice") }},
		{"API reopens", func() error {
			_, _, err := c.PullRequests.Edit(ctx, gh.Owner(), gh.Repo(), 1, &github.PullRequest{State: github.String("open")})
			return err
		}},
		{"branch deleted", func() error { _, err := c.Git.DeleteRef(ctx, gh.Owner(), gh.Repo(), "heads/feature"); return err }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	events := rcv.pullEvents()
	want := []string{"opened", "closed", "reopened", "edited", "closed", "reopened", "closed"}
	if got := actions(events); !reflect.DeepEqual(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	var senders []string
	for _, e := range events {
		senders = append(senders, e.GetSender().GetLogin())
		if e.GetPullRequest().GetMerged() {
			t.Errorf("%s: merged = true", e.GetAction())
		}
	}
	if want := []string{"clustro-bot", "clustro-bot", "alice", "clustro-bot", "alice", "clustro-bot", "clustro-bot"}; !reflect.DeepEqual(senders, want) {
		t.Errorf("senders = %v, want %v", senders, want)
	}
	if from := events[3].GetChanges().GetTitle().GetFrom(); from != "Provision feature" {
		t.Errorf("edited changes.title.from = %q", from)
	}
	// Its branch is gone: it cannot be reopened.
	var ghErr *githubtest.Error
	if err := gh.ReopenPull(1, "alice"); !errors.As(err, &ghErr) || ghErr.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("reopen without a branch = %v, want a 422", err)
	}
}

// TestListPulls filters by state, head and base, as GitHub does, including
// ignoring a head without its owner.
func TestListPulls(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{})
	c := gh.Client()
	for _, b := range []string{"one", "two", "three"} {
		commitBranch(t, c, gh, "main", b, map[string]*string{b + ".txt": github.String(b)})
		openPull(t, c, gh, b)
	}
	if err := gh.ClosePull(2, "alice"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opts github.PullRequestListOptions
		want []int
	}{
		{github.PullRequestListOptions{}, []int{3, 1}},
		{github.PullRequestListOptions{State: "closed"}, []int{2}},
		{github.PullRequestListOptions{State: "all", Direction: "asc"}, []int{1, 2, 3}},
		{github.PullRequestListOptions{Head: "clustropg:three"}, []int{3}},
		{github.PullRequestListOptions{Head: "three"}, []int{3, 1}}, // no owner: GitHub ignores the filter
		{github.PullRequestListOptions{Head: "someone:three"}, nil},
		{github.PullRequestListOptions{Base: "main", State: "all"}, []int{3, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.opts), func(t *testing.T) {
			prs, _, err := c.PullRequests.List(ctx, gh.Owner(), gh.Repo(), &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, pr := range prs {
				got = append(got, pr.GetNumber())
				if pr.Merged != nil || pr.Mergeable != nil || pr.Commits != nil {
					t.Errorf("#%d: listed with merged/mergeable/commits, which GitHub's listing leaves out", pr.GetNumber())
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("numbers = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestComments checks comment pagination (with GitHub's Link header) and
// GitHub's 65,536-character limit.
func TestComments(t *testing.T) {
	ctx := context.Background()
	gh, c := newWithPull(t, githubtest.Options{})
	for i := range 5 {
		if _, err := gh.Comment(1, "alice", fmt.Sprintf("comment %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 2}}
	pages := 0
	for {
		comments, resp, err := c.Issues.ListComments(ctx, gh.Owner(), gh.Repo(), 1, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, cm := range comments {
			bodies = append(bodies, cm.GetBody())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || len(bodies) != 5 || bodies[0] != "comment 0" || bodies[4] != "comment 4" {
		t.Errorf("%d pages: %v", pages, bodies)
	}

	tests := []struct {
		name       string
		body       string
		wantStatus int
	}{
		{"at the limit", strings.Repeat("é", 65536), http.StatusCreated},
		{"over the limit", strings.Repeat("x", 65537), http.StatusUnprocessableEntity},
		{"blank", "  ", http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := c.Issues.CreateComment(ctx, gh.Owner(), gh.Repo(), 1, &github.IssueComment{Body: github.String(tt.body)})
			if resp == nil || resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %v (%v), want %d", resp, err, tt.wantStatus)
			}
		})
	}
	if _, _, err := c.Issues.CreateComment(ctx, gh.Owner(), gh.Repo(), 42, &github.IssueComment{Body: github.String("x")}); apiStatus(err) != http.StatusNotFound {
		t.Errorf("comment on a missing pull request: %v, want 404", err)
	}
}
