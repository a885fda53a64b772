package githubtest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// What the bot did, in plain Go, for assertions and for the demo.

// PullRequest returns pull request n as GET /pulls/{n} would.
func (s *Server) PullRequest(n int) (*github.PullRequest, error) {
	pr, err := s.getPull(n)
	if err != nil {
		return nil, fmt.Errorf("githubtest: pull request #%d: %w", n, err)
	}
	return pr, nil
}

// PullRequests returns every pull request, open or closed, by number, in
// full (as PullRequest does).
func (s *Server) PullRequests() ([]*github.PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*github.PullRequest
	for _, p := range s.sortedPulls() {
		pr, err := s.pullJSON(p)
		if err != nil {
			return nil, fmt.Errorf("githubtest: pull requests: %w", err)
		}
		out = append(out, pr)
	}
	return out, nil
}

// Comments returns pull request n's comments, oldest first (none if there
// is no such pull request).
func (s *Server) Comments(n int) []*github.IssueComment {
	comments, err := s.listComments(n, time.Time{})
	if err != nil {
		return nil
	}
	return comments
}

// Labels returns the names of pull request n's labels, in the order added.
func (s *Server) Labels(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pulls[n]
	if !ok {
		return nil
	}
	return append([]string(nil), p.labels...)
}

// Statuses returns every status created on the commit sha, newest first.
func (s *Server) Statuses(sha string) []*github.RepoStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.statuses[sha]
	out := make([]*github.RepoStatus, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		out = append(out, s.statusJSON(all[i]))
	}
	return out
}

// Requests returns every HTTP request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Unexpected returns the requests the emulator could not serve: methods and
// paths it does not implement, other repositories, internal errors.
func (s *Server) Unexpected() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Unexpected {
			out = append(out, r)
		}
	}
	return out
}

// Commit is a commit of the repository, as Log lists it.
type Commit struct {
	SHA         string
	Tree        string
	Parents     []string
	Author      string // name
	AuthorEmail string
	Committer   string // name
	Time        time.Time
	Message     string
}

// Resolve returns the commit ref names: a branch, a tag or an object name.
func (s *Server) Resolve(ref string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, err := s.git.resolve(ref)
	if errors.Is(err, errNoObject) {
		return "", fmt.Errorf("githubtest: no commit %q", ref)
	}
	if err != nil {
		return "", fmt.Errorf("githubtest: resolve %s: %w", ref, err)
	}
	return sha, nil
}

// ReadFile returns the content of the file at path in the tree of ref.
func (s *Server) ReadFile(ref, path string) ([]byte, error) {
	sha, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.git.lsTree(sha, false, path)
	if err != nil {
		return nil, fmt.Errorf("githubtest: read %s at %s: %w", path, ref, err)
	}
	if len(entries) != 1 || entries[0].Path != path || entries[0].Type != "blob" {
		return nil, fmt.Errorf("githubtest: read %s at %s: no such file", path, ref)
	}
	data, err := s.git.readBlob(entries[0].SHA)
	if err != nil {
		return nil, fmt.Errorf("githubtest: read %s at %s: %w", path, ref, err)
	}
	return data, nil
}

// ListTree returns the paths of every file in the tree of ref, sorted.
func (s *Server) ListTree(ref string) ([]string, error) {
	sha, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.git.lsTree(sha, true)
	if err != nil {
		return nil, fmt.Errorf("githubtest: list %s: %w", ref, err)
	}
	var paths []string
	for _, e := range entries {
		if e.Type != "tree" {
			paths = append(paths, e.Path)
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// Log returns the commits reachable from ref, newest first.
func (s *Server) Log(ref string) ([]Commit, error) {
	sha, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	commits, err := s.git.log(sha)
	if err != nil {
		return nil, fmt.Errorf("githubtest: log %s: %w", ref, err)
	}
	out := make([]Commit, len(commits))
	for i, c := range commits {
		out[i] = Commit{
			SHA:         c.SHA,
			Tree:        c.Tree,
			Parents:     c.Parents,
			Author:      c.Author.Name,
			AuthorEmail: c.Author.Email,
			Committer:   c.Committer.Name,
			Time:        c.Author.When,
			Message:     strings.TrimRight(c.Message, "\n"),
		}
	}
	return out, nil
}
