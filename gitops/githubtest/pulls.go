package githubtest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// The Pulls API, except merging (merge.go).

// newPull is what POST /pulls asks for.
type newPull struct {
	title, head, base, body string
	draft, canModify        bool
}

func (s *Server) handleCreatePull() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
	type request struct {
		Title               string `json:"title"`
		Head                string `json:"head"`
		Base                string `json:"base"`
		Body                string `json:"body"`
		Issue               *int   `json:"issue"`
		Draft               bool   `json:"draft"`
		MaintainerCanModify *bool  `json:"maintainer_can_modify"`
	}
	return handle(doc, http.StatusCreated, func(r *http.Request) (*github.PullRequest, error) {
		req, err := decode[request](r)
		switch {
		case err != nil:
			return nil, err
		case req.Issue != nil:
			return nil, invalid(FieldError{Resource: "PullRequest", Field: "issue", Code: "invalid",
				Message: "githubtest: converting an issue is not emulated"})
		}
		in := newPull{title: req.Title, head: req.Head, base: req.Base, body: req.Body, draft: req.Draft, canModify: true}
		if req.MaintainerCanModify != nil {
			in.canModify = *req.MaintainerCanModify
		}
		return s.createPull(actorFrom(r.Context()), in)
	})
}

// createPull opens a pull request and sends pull_request "opened".
func (s *Server) createPull(who actor, in newPull) (*github.PullRequest, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()

	var problems []FieldError
	for _, f := range []struct{ name, value string }{{"title", in.title}, {"head", in.head}, {"base", in.base}} {
		if strings.TrimSpace(f.value) == "" {
			problems = append(problems, FieldError{Resource: "PullRequest", Field: f.name, Code: "missing_field"})
		}
	}
	if len(problems) > 0 {
		return nil, invalid(problems...)
	}
	head := in.head
	if owner, branch, ok := strings.Cut(in.head, ":"); ok {
		if !strings.EqualFold(owner, s.opts.Owner) {
			return nil, invalid(FieldError{Resource: "PullRequest", Field: "head", Code: "invalid",
				Message: "githubtest: pull requests from forks are not emulated"})
		}
		head = branch
	}
	headSHA, err := s.git.refSHA("refs/heads/" + head)
	if err != nil {
		return nil, err
	}
	baseSHA, err := s.git.refSHA("refs/heads/" + in.base)
	if err != nil {
		return nil, err
	}
	if baseSHA == "" {
		problems = append(problems, FieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
	}
	if headSHA == "" {
		problems = append(problems, FieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
	}
	if len(problems) > 0 {
		return nil, invalid(problems...)
	}
	for _, p := range s.sortedPulls() {
		if p.state == "open" && p.head == head && p.base == in.base {
			return nil, invalid(FieldError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for %s:%s.", s.opts.Owner, head)})
		}
	}
	common, err := s.git.mergeBase(baseSHA, headSHA)
	if err != nil {
		return nil, err
	}
	if common == "" {
		return nil, invalid(FieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("The %s branch has no history in common with %s", in.base, head)})
	}
	merged, err := s.git.isAncestor(headSHA, baseSHA)
	if err != nil {
		return nil, err
	}
	if merged {
		return nil, invalid(FieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("No commits between %s and %s", in.base, head)})
	}
	now := s.now()
	p := &pull{
		number:              s.nextNumber,
		title:               in.title,
		body:                in.body,
		state:               "open",
		draft:               in.draft,
		user:                who.login,
		head:                head,
		base:                in.base,
		headSHA:             headSHA,
		baseSHA:             baseSHA,
		maintainerCanModify: in.canModify,
		created:             now,
		updated:             now,
	}
	s.nextNumber++
	s.pulls[p.number] = p
	if err := s.emitPull(&out, "opened", p, who.login, nil); err != nil {
		return nil, err
	}
	return s.pullJSON(p)
}

// pathNumber reads the {number} path value; anything but a positive
// integer is GitHub's 404.
func pathNumber(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n <= 0 {
		return 0, notFound()
	}
	return n, nil
}

// pull returns pull request n, or GitHub's 404. Callers hold s.mu.
func (s *Server) pull(n int) (*pull, error) {
	p, ok := s.pulls[n]
	if !ok {
		return nil, notFound()
	}
	return p, nil
}

// withPull runs f on pull request n (GitHub's 404 if there is none), holding
// s.mu.
func withPull[T any](s *Server, n int, f func(p *pull) (T, error)) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.pull(n)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(p)
}

// changePull is withPull for a change that sends webhooks: f emits them into
// out, and they are delivered once s.mu is released.
func changePull[T any](s *Server, n int, f func(out *outbox, p *pull) (T, error)) (T, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after withPull unlocked
	return withPull(s, n, func(p *pull) (T, error) { return f(&out, p) })
}

func (s *Server) handleGetPull() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
	return handle(doc, http.StatusOK, withPath(pathNumber, s.getPull))
}

func (s *Server) getPull(n int) (*github.PullRequest, error) {
	return withPull(s, n, s.pullJSON)
}

func (s *Server) handleListPulls() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
	return handleList(doc, s.baseURL, func(r *http.Request) ([]*github.PullRequest, error) {
		q := r.URL.Query()
		for name := range q {
			switch name {
			case "state", "head", "base", "sort", "direction", "per_page", "page":
			default:
				markUnexpected(r, fmt.Sprintf("query parameter %q of GET /pulls is not emulated", name))
			}
		}
		state := q.Get("state")
		switch state {
		case "":
			state = "open"
		case "open", "closed", "all":
		default:
			return nil, invalid(FieldError{Resource: "PullRequest", Field: "state", Code: "invalid"})
		}
		sortBy := q.Get("sort")
		switch sortBy {
		case "", "created", "updated":
		case "popularity", "long-running":
			markUnexpected(r, "sort="+sortBy+" is not emulated")
		default:
			return nil, invalid(FieldError{Resource: "PullRequest", Field: "sort", Code: "invalid"})
		}
		// GitHub's default direction is desc for created (or no sort), asc
		// otherwise.
		ascending := sortBy == "updated"
		switch q.Get("direction") {
		case "":
		case "asc":
			ascending = true
		case "desc":
			ascending = false
		default:
			return nil, invalid(FieldError{Resource: "PullRequest", Field: "direction", Code: "invalid"})
		}
		return s.listPulls(state, q.Get("head"), q.Get("base"), sortBy == "updated", ascending)
	})
}

// listPulls filters as GitHub does (a head without its "owner:" prefix is
// silently ignored, as on GitHub) and lists the short form GitHub lists,
// by creation (number) or by last update, ties broken by number.
func (s *Server) listPulls(state, head, base string, byUpdate, ascending bool) ([]*github.PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	headOwner, headBranch, byHead := strings.Cut(head, ":")
	var pulls []*pull
	for _, p := range s.sortedPulls() {
		switch {
		case state != "all" && p.state != state:
			continue
		case byHead && (!strings.EqualFold(headOwner, s.opts.Owner) || p.head != headBranch):
			continue
		case base != "" && p.base != base:
			continue
		}
		pulls = append(pulls, p)
	}
	sort.SliceStable(pulls, func(i, j int) bool {
		a, b := pulls[i], pulls[j]
		if !ascending {
			a, b = b, a
		}
		if byUpdate && !a.updated.Equal(b.updated) {
			return a.updated.Before(b.updated)
		}
		return a.number < b.number
	})
	out := []*github.PullRequest{}
	for _, p := range pulls {
		pr, err := s.simplePullJSON(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

func (s *Server) handleListPullFiles() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files"
	return handleList(doc, s.baseURL, withPath(pathNumber, s.listPullFiles))
}

// fileStatus is GitHub's name for a git diff status letter.
func fileStatus(letter byte) string {
	switch letter {
	case 'A':
		return "added"
	case 'D':
		return "removed"
	case 'T':
		return "changed"
	}
	return "modified"
}

// listPullFiles lists the files the pull request changes: the diff from the
// merge base to its head, as GitHub shows it, cut at Options.PullFilesLimit.
func (s *Server) listPullFiles(n int) ([]*github.CommitFile, error) {
	return withPull(s, n, func(p *pull) ([]*github.CommitFile, error) {
		if err := s.refreshPull(p); err != nil {
			return nil, err
		}
		st, err := s.stats(p)
		if err != nil {
			return nil, err
		}
		changed := st.files[:min(len(st.files), s.opts.PullFilesLimit)]
		files := make([]*github.CommitFile, 0, len(changed))
		for _, f := range changed {
			sha := f.NewSHA
			if f.Status == 'D' {
				sha = f.OldSHA
			}
			cf := &github.CommitFile{
				SHA:         ptr(sha),
				Filename:    ptr(f.Path),
				Status:      ptr(fileStatus(f.Status)),
				Additions:   ptr(f.Additions),
				Deletions:   ptr(f.Deletions),
				Changes:     ptr(f.Additions + f.Deletions),
				BlobURL:     ptr(s.webURL("/blob/" + p.headSHA + "/" + f.Path)),
				RawURL:      ptr(s.webURL("/raw/" + p.headSHA + "/" + f.Path)),
				ContentsURL: ptr(s.apiURL("/contents/" + f.Path + "?ref=" + p.headSHA)),
			}
			if !f.Binary {
				patch, err := s.git.patch(st.mergeBase, p.headSHA, f.Path)
				if err != nil {
					return nil, err
				}
				cf.Patch = optional(patch)
			}
			files = append(files, cf)
		}
		return files, nil
	})
}

func (s *Server) handleUpdatePull() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"
	type request struct {
		Title               *string `json:"title"`
		Body                *string `json:"body"`
		State               *string `json:"state"`
		Base                *string `json:"base"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
	}
	return handle(doc, http.StatusOK, withPathAndBody(pathNumber, func(r *http.Request, n int, req request) (*github.PullRequest, error) {
		in := pullUpdate{title: req.Title, body: req.Body, state: req.State, base: req.Base, canModify: req.MaintainerCanModify}
		return s.updatePull(actorFrom(r.Context()), n, in)
	}))
}

// pullUpdate is what PATCH /pulls/{n} asks to change (nil: unchanged).
type pullUpdate struct {
	title, body, state, base *string
	canModify                *bool
}

// updatePull edits, closes or reopens a pull request, sending "edited",
// "closed" or "reopened" as GitHub does.
func (s *Server) updatePull(who actor, n int, in pullUpdate) (*github.PullRequest, error) {
	return changePull(s, n, func(out *outbox, p *pull) (*github.PullRequest, error) {
		if err := s.refreshPull(p); err != nil {
			return nil, err
		}
		if in.state != nil && *in.state != "open" && *in.state != "closed" {
			return nil, invalid(FieldError{Resource: "PullRequest", Field: "state", Code: "invalid"})
		}
		changes := &github.EditChange{}
		edited := false
		if in.title != nil && *in.title != p.title {
			if strings.TrimSpace(*in.title) == "" {
				return nil, invalid(FieldError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
			}
			changes.Title = &github.EditTitle{From: ptr(p.title)}
			p.title, edited = *in.title, true
		}
		if in.body != nil && *in.body != p.body {
			changes.Body = &github.EditBody{From: ptr(p.body)}
			p.body, edited = *in.body, true
		}
		if in.base != nil && *in.base != p.base {
			if p.state != "open" {
				return nil, invalid(FieldError{Resource: "PullRequest", Field: "base", Code: "invalid",
					Message: "Cannot change the base branch of a closed pull request."})
			}
			sha, err := s.git.refSHA("refs/heads/" + *in.base)
			if err != nil {
				return nil, err
			}
			if sha == "" {
				return nil, invalid(FieldError{Resource: "PullRequest", Field: "base", Code: "invalid",
					Message: fmt.Sprintf("Proposed base branch '%s' was not found", *in.base)})
			}
			changes.Base = &github.EditBase{Ref: &github.EditRef{From: ptr(p.base)}, SHA: &github.EditSHA{From: ptr(p.baseSHA)}}
			p.base, p.baseSHA, edited = *in.base, sha, true
		}
		if in.canModify != nil {
			p.maintainerCanModify = *in.canModify
		}
		if edited {
			p.updated = s.now()
			err := s.emitPull(out, "edited", p, who.login, func(e *github.PullRequestEvent) { e.Changes = changes })
			if err != nil {
				return nil, err
			}
		}
		if in.state != nil && *in.state != p.state {
			var err error
			if *in.state == "closed" {
				err = s.closePull(out, p, who.login)
			} else {
				err = s.reopenPull(out, p, who.login)
			}
			if err != nil {
				return nil, err
			}
		}
		return s.pullJSON(p)
	})
}

// closePull closes p unmerged and sends "closed". Callers hold s.mu.
func (s *Server) closePull(out *outbox, p *pull, sender string) error {
	if err := s.refreshPull(p); err != nil {
		return err
	}
	now := s.now()
	p.state, p.closed, p.updated = "closed", now, now
	return s.emitPull(out, "closed", p, sender, nil)
}

// reopenPull reopens a closed, unmerged p whose branches still exist and
// sends "reopened". Callers hold s.mu.
func (s *Server) reopenPull(out *outbox, p *pull, sender string) error {
	if !p.merged.IsZero() {
		return invalid(FieldError{Resource: "PullRequest", Field: "state", Code: "custom",
			Message: "state cannot be changed. The pull request cannot be reopened because it has been merged."})
	}
	for _, b := range []string{p.head, p.base} {
		sha, err := s.git.refSHA("refs/heads/" + b)
		if err != nil {
			return err
		}
		if sha == "" {
			return invalid(FieldError{Resource: "PullRequest", Field: "state", Code: "custom",
				Message: fmt.Sprintf("state cannot be changed. The %s branch has been deleted.", b)})
		}
	}
	for _, other := range s.sortedPulls() {
		if other.state == "open" && other.head == p.head && other.base == p.base {
			return invalid(FieldError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for %s:%s.", s.opts.Owner, p.head)})
		}
	}
	p.state, p.closed, p.updated = "open", time.Time{}, s.now()
	if err := s.refreshPull(p); err != nil {
		return err
	}
	return s.emitPull(out, "reopened", p, sender, nil)
}
