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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decodeBody(r, &req); err != nil {
			writeError(w, r, err, doc)
			return
		}
		if req.Issue != nil {
			writeError(w, r, invalid(FieldError{Resource: "PullRequest", Field: "issue", Code: "invalid",
				Message: "githubtest: converting an issue is not emulated"}), doc)
			return
		}
		in := newPull{title: req.Title, head: req.Head, base: req.Base, body: req.Body, draft: req.Draft, canModify: true}
		if req.MaintainerCanModify != nil {
			in.canModify = *req.MaintainerCanModify
		}
		pr, err := s.createPull(actorFrom(r.Context()), in)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusCreated, pr)
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

func (s *Server) handleGetPull() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		pr, err := s.getPull(n)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, pr)
	})
}

func (s *Server) getPull(n int) (*github.PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.pull(n)
	if err != nil {
		return nil, err
	}
	return s.pullJSON(p)
}

func (s *Server) handleListPulls() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		state := q.Get("state")
		switch state {
		case "":
			state = "open"
		case "open", "closed", "all":
		default:
			writeError(w, r, invalid(FieldError{Resource: "PullRequest", Field: "state", Code: "invalid"}), doc)
			return
		}
		prs, err := s.listPulls(state, q.Get("head"), q.Get("base"), q.Get("direction") == "asc")
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, paginate(w, r, s.baseURL, prs))
	})
}

// listPulls filters as GitHub does (a head without its "owner:" prefix is
// silently ignored, as on GitHub) and lists the short form GitHub lists.
func (s *Server) listPulls(state, head, base string, ascending bool) ([]*github.PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	headOwner, headBranch, byHead := strings.Cut(head, ":")
	var out []*github.PullRequest
	for _, p := range s.sortedPulls() {
		switch {
		case state != "all" && p.state != state:
			continue
		case byHead && (!strings.EqualFold(headOwner, s.opts.Owner) || p.head != headBranch):
			continue
		case base != "" && p.base != base:
			continue
		}
		pr, err := s.simplePullJSON(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	if !ascending {
		sort.SliceStable(out, func(i, j int) bool { return out[i].GetNumber() > out[j].GetNumber() })
	}
	if out == nil {
		out = []*github.PullRequest{}
	}
	return out, nil
}

func (s *Server) handleListPullFiles() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		files, err := s.listPullFiles(n)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, paginate(w, r, s.baseURL, files))
	})
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
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.pull(n)
	if err != nil {
		return nil, err
	}
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		var req request
		if err := decodeBody(r, &req); err != nil {
			writeError(w, r, err, doc)
			return
		}
		in := pullUpdate{title: req.Title, body: req.Body, state: req.State, base: req.Base, canModify: req.MaintainerCanModify}
		pr, err := s.updatePull(actorFrom(r.Context()), n, in)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, pr)
	})
}

// pullUpdate is what PATCH /pulls/{n} asks to change (nil: unchanged).
type pullUpdate struct {
	title, body, state, base *string
	canModify                *bool
}

// updatePull edits, closes or reopens a pull request, sending "edited",
// "closed" or "reopened" as GitHub does.
func (s *Server) updatePull(who actor, n int, in pullUpdate) (*github.PullRequest, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.pull(n)
	if err != nil {
		return nil, err
	}
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
		err := s.emitPull(&out, "edited", p, who.login, func(e *github.PullRequestEvent) { e.Changes = changes })
		if err != nil {
			return nil, err
		}
	}
	if in.state != nil && *in.state != p.state {
		if *in.state == "closed" {
			err = s.closePull(&out, p, who.login)
		} else {
			err = s.reopenPull(&out, p, who.login)
		}
		if err != nil {
			return nil, err
		}
	}
	return s.pullJSON(p)
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
