package gitops

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/google/go-github/v62/github"
)

// Change is one pull request's content: every file written or deleted, in
// one commit on Branch.
type Change struct {
	Branch  string
	Title   string
	Body    string
	Labels  []string
	Message string
	// Files to write, by repo-relative path; Delete lists paths to remove.
	Files  map[string][]byte
	Delete []string
}

// PR is an opened pull request.
type PR struct {
	Number  int
	URL     string
	HeadSHA string
	BaseSHA string
	Branch  string
}

// OpenPR commits the change on a new branch from the base branch and opens
// a pull request. It is idempotent: when the branch or the pull request
// already exist (a retried job), it returns the existing pull request.
func (c *Client) OpenPR(ctx context.Context, ch Change) (PR, error) {
	if existing, ok, err := c.openPRFor(ctx, ch.Branch); err != nil || ok {
		return existing, err
	}
	head, err := c.branchHead(ctx, ch.Branch)
	if err != nil {
		return PR{}, err
	}
	if head == "" {
		if _, err = c.commit(ctx, ch); err != nil {
			return PR{}, err
		}
	}
	pr, _, err := c.gh.PullRequests.Create(ctx, c.owner, c.repo, &github.NewPullRequest{
		Title: github.String(ch.Title),
		Head:  github.String(ch.Branch),
		Base:  github.String(c.base),
		Body:  github.String(ch.Body),
	})
	if err != nil {
		return PR{}, wrap(fmt.Sprintf("open PR for %s", ch.Branch), err)
	}
	if len(ch.Labels) > 0 {
		if _, _, err := c.gh.Issues.AddLabelsToIssue(ctx, c.owner, c.repo, pr.GetNumber(), ch.Labels); err != nil {
			return PR{}, wrap(fmt.Sprintf("label PR #%d", pr.GetNumber()), err)
		}
	}
	return toPR(pr), nil
}

// commit writes the change as one commit on a new branch and returns its sha.
func (c *Client) commit(ctx context.Context, ch Change) (string, error) {
	ref, _, err := c.gh.Git.GetRef(ctx, c.owner, c.repo, "heads/"+c.base)
	if err != nil {
		return "", wrap("read base branch "+c.base, err)
	}
	baseSHA := ref.GetObject().GetSHA()
	base, _, err := c.gh.Git.GetCommit(ctx, c.owner, c.repo, baseSHA)
	if err != nil {
		return "", wrap("read base commit", err)
	}
	paths := make([]string, 0, len(ch.Files))
	for p := range ch.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	entries := make([]*github.TreeEntry, 0, len(paths)+len(ch.Delete))
	for _, p := range paths {
		entries = append(entries, &github.TreeEntry{
			Path: github.String(p), Mode: github.String("100644"), Type: github.String("blob"),
			Content: github.String(string(ch.Files[p])),
		})
	}
	for _, p := range ch.Delete {
		// No sha and no content: go-github sends "sha": null, which deletes.
		entries = append(entries, &github.TreeEntry{Path: github.String(p), Mode: github.String("100644"), Type: github.String("blob")})
	}
	tree, _, err := c.gh.Git.CreateTree(ctx, c.owner, c.repo, base.GetTree().GetSHA(), entries)
	if err != nil {
		return "", wrap("create tree", err)
	}
	commit, _, err := c.gh.Git.CreateCommit(ctx, c.owner, c.repo, &github.Commit{
		Message: github.String(ch.Message),
		Tree:    &github.Tree{SHA: tree.SHA},
		Parents: []*github.Commit{{SHA: github.String(baseSHA)}},
	}, nil)
	if err != nil {
		return "", wrap("create commit", err)
	}
	_, _, err = c.gh.Git.CreateRef(ctx, c.owner, c.repo, &github.Reference{
		Ref:    github.String("refs/heads/" + ch.Branch),
		Object: &github.GitObject{SHA: commit.SHA},
	})
	if err != nil {
		return "", wrap("create branch "+ch.Branch, err)
	}
	return commit.GetSHA(), nil
}

// branchHead returns the sha a branch points at, or "" if there is none.
func (c *Client) branchHead(ctx context.Context, branch string) (string, error) {
	ref, _, err := c.gh.Git.GetRef(ctx, c.owner, c.repo, "heads/"+branch)
	if isStatus(err, http.StatusNotFound) {
		return "", nil
	}
	if err != nil {
		return "", wrap("read branch "+branch, err)
	}
	return ref.GetObject().GetSHA(), nil
}

// openPRFor finds the pull request (open or not) whose head is branch.
func (c *Client) openPRFor(ctx context.Context, branch string) (PR, bool, error) {
	prs, _, err := c.gh.PullRequests.List(ctx, c.owner, c.repo, &github.PullRequestListOptions{
		State: "all", Head: c.owner + ":" + branch, Base: c.base,
	})
	if err != nil {
		return PR{}, false, wrap("look for a PR from "+branch, err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch {
			return toPR(pr), true, nil
		}
	}
	return PR{}, false, nil
}

// GetPR reads a pull request.
func (c *Client) GetPR(ctx context.Context, number int) (*github.PullRequest, error) {
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if err != nil {
		return nil, wrap(fmt.Sprintf("read PR #%d", number), err)
	}
	return pr, nil
}

// File is a file a pull request changed.
type File struct {
	Path, PreviousPath string
	// Status is added, modified, removed or renamed.
	Status string
}

// ChangedFiles lists every file a pull request changes.
func (c *Client) ChangedFiles(ctx context.Context, number int) ([]File, error) {
	var out []File
	opts := &github.ListOptions{PerPage: 100}
	for {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, c.owner, c.repo, number, opts)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list files of PR #%d", number), err)
		}
		for _, f := range files {
			out = append(out, File{Path: f.GetFilename(), PreviousPath: f.GetPreviousFilename(), Status: f.GetStatus()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func toPR(pr *github.PullRequest) PR {
	return PR{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), HeadSHA: pr.GetHead().GetSHA(), BaseSHA: pr.GetBase().GetSHA(), Branch: pr.GetHead().GetRef()}
}

// PullsPage is one page of a list of pull requests.
type PullsPage struct {
	// Pulls are in GitHub's short form (no merged or merged_by); nil when
	// NotModified.
	Pulls []*github.PullRequest
	// ETag identifies the page's content, as GitHub answered it.
	ETag string
	// Previous is the ETag of the client's previous read of the same page
	// (sent as If-None-Match when conditional), or "".
	Previous string
	// NotModified: GitHub answered 304, the page is as the previous read
	// left it (ETag == Previous). A 304 does not count against the rate
	// limit.
	NotModified bool
	// NextPage is the page after this one, 0 on the last.
	NextPage int
}

// RecentlyClosed reads a page (1 is the first) of the closed pull
// requests, most recently updated first, Options.PageSize (100) a page: a
// pull request merged or closed since a time is on the pages before the
// first one updated before it. With conditional, the client sends the ETag of its
// previous read of that page as If-None-Match, and an unchanged page costs
// a 304.
func (c *Client) RecentlyClosed(ctx context.Context, page int, conditional bool) (PullsPage, error) {
	u := fmt.Sprintf("repos/%s/%s/pulls?state=closed&sort=updated&direction=desc&per_page=%d", c.owner, c.repo, c.pageSize)
	if page > 1 {
		u += fmt.Sprintf("&page=%d", page)
	}
	what := fmt.Sprintf("list closed pull requests (page %d)", page)
	req, err := c.gh.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return PullsPage{}, wrap(what, err)
	}
	c.etagMu.Lock()
	prev := c.etags[u]
	c.etagMu.Unlock()
	if conditional && prev != "" {
		req.Header.Set("If-None-Match", prev)
	}
	var pulls []*github.PullRequest
	resp, err := c.gh.Do(ctx, req, &pulls)
	if conditional && prev != "" && isStatus(err, http.StatusNotModified) {
		return PullsPage{ETag: prev, Previous: prev, NotModified: true}, nil
	}
	if err != nil {
		return PullsPage{}, wrap(what, err)
	}
	etag := resp.Header.Get("ETag")
	c.etagMu.Lock()
	c.etags[u] = etag
	c.etagMu.Unlock()
	return PullsPage{Pulls: pulls, ETag: etag, Previous: prev, NextPage: resp.NextPage}, nil
}
