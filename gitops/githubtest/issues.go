package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v62/github"
)

// The Issues API on pull requests: comments and labels.

// maxCommentLength is GitHub's limit on a comment body, in characters.
const maxCommentLength = 65536

func (s *Server) handleCreateComment() http.Handler {
	const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	type request struct {
		Body *string `json:"body"`
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
		c, err := s.createComment(actorFrom(r.Context()).login, n, req.Body)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusCreated, c)
	})
}

// checkCommentBody applies GitHub's rules: present, not blank, at most
// 65,536 characters.
func checkCommentBody(body *string) error {
	if body == nil || strings.TrimSpace(*body) == "" {
		return invalid(FieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
	}
	if utf8.RuneCountInString(*body) > maxCommentLength {
		return invalid(FieldError{Resource: "IssueComment", Field: "body", Code: "custom",
			Message: fmt.Sprintf("Body is too long (maximum is %d characters)", maxCommentLength)})
	}
	return nil
}

// createComment adds a comment by user to pull request n and sends
// issue_comment "created".
func (s *Server) createComment(user string, n int, body *string) (*github.IssueComment, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.pull(n)
	if err != nil {
		return nil, err
	}
	if err := checkCommentBody(body); err != nil {
		return nil, err
	}
	now := s.now()
	c := &comment{id: s.newID(commentBase), number: n, user: user, body: *body, created: now, updated: now}
	s.comments = append(s.comments, c)
	p.updated = now
	if err := s.emitComment(&out, "created", c, p, user, nil); err != nil {
		return nil, err
	}
	return s.commentJSON(c), nil
}

func (s *Server) handleListComments() http.Handler {
	const doc = "https://docs.github.com/rest/issues/comments#list-issue-comments"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			if since, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, r, invalid(FieldError{Resource: "IssueComment", Field: "since", Code: "invalid"}), doc)
				return
			}
		}
		comments, err := s.listComments(n, since)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, paginate(w, r, s.baseURL, comments))
	})
}

// listComments lists pull request n's comments, oldest first, updated at or
// after since.
func (s *Server) listComments(n int, since time.Time) ([]*github.IssueComment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.pull(n); err != nil {
		return nil, err
	}
	out := []*github.IssueComment{}
	for _, c := range s.comments {
		if c.number == n && !c.updated.Before(since) {
			out = append(out, s.commentJSON(c))
		}
	}
	return out, nil
}

// pathCommentID reads the {comment_id} path value.
func pathCommentID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("comment_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound()
	}
	return id, nil
}

// findComment returns comment id, or GitHub's 404. Callers hold s.mu.
func (s *Server) findComment(id int64) (*comment, error) {
	for _, c := range s.comments {
		if c.id == id {
			return c, nil
		}
	}
	return nil, notFound()
}

func (s *Server) handleGetComment() http.Handler {
	const doc = "https://docs.github.com/rest/issues/comments#get-an-issue-comment"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathCommentID(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		c, err := s.getComment(id)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}

func (s *Server) getComment(id int64) (*github.IssueComment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findComment(id)
	if err != nil {
		return nil, err
	}
	return s.commentJSON(c), nil
}

func (s *Server) handleUpdateComment() http.Handler {
	const doc = "https://docs.github.com/rest/issues/comments#update-an-issue-comment"
	type request struct {
		Body *string `json:"body"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathCommentID(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		var req request
		if err := decodeBody(r, &req); err != nil {
			writeError(w, r, err, doc)
			return
		}
		c, err := s.updateComment(actorFrom(r.Context()).login, id, req.Body)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}

// updateComment replaces a comment's body and sends issue_comment "edited"
// (when the body changed).
func (s *Server) updateComment(user string, id int64, body *string) (*github.IssueComment, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findComment(id)
	if err != nil {
		return nil, err
	}
	if err := checkCommentBody(body); err != nil {
		return nil, err
	}
	if *body != c.body {
		from := c.body
		c.body, c.updated = *body, s.now()
		changes := &github.EditChange{Body: &github.EditBody{From: ptr(from)}}
		if err := s.emitComment(&out, "edited", c, s.pulls[c.number], user, changes); err != nil {
			return nil, err
		}
	}
	return s.commentJSON(c), nil
}

func (s *Server) handleAddLabels() http.Handler {
	const doc = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := pathNumber(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		var raw json.RawMessage
		if err := decodeBody(r, &raw); err != nil {
			writeError(w, r, err, doc)
			return
		}
		names, ok := labelNames(raw)
		if !ok {
			writeError(w, r, invalid(FieldError{Resource: "Label", Field: "labels", Code: "invalid"}), doc)
			return
		}
		labels, err := s.addLabels(actorFrom(r.Context()).login, n, names)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		writeJSON(w, http.StatusOK, labels)
	})
}

// labelNames reads any of the bodies GitHub accepts: ["a", "b"],
// {"labels": ["a", "b"]} or [{"name": "a"}].
func labelNames(raw json.RawMessage) ([]string, bool) {
	var names []string
	if json.Unmarshal(raw, &names) == nil {
		return names, true
	}
	var wrapped struct {
		Labels []string `json:"labels"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Labels != nil {
		return wrapped.Labels, true
	}
	var objects []struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &objects) == nil {
		for _, o := range objects {
			names = append(names, o.Name)
		}
		return names, true
	}
	return nil, false
}

// addLabels puts labels on pull request n (creating those the repository
// lacks), sends pull_request "labeled" for each new one, and returns all of
// the pull request's labels.
func (s *Server) addLabels(user string, n int, names []string) ([]*github.Label, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.pull(n)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if strings.TrimSpace(name) == "" {
			return nil, invalid(FieldError{Resource: "Label", Field: "name", Code: "missing_field"})
		}
	}
	for _, name := range names {
		l, ok := s.labels[strings.ToLower(name)]
		if !ok {
			l = &label{id: s.newID(labelBase), name: name, color: "ededed"}
			s.labels[strings.ToLower(name)] = l
		}
		if hasLabel(p, l.name) {
			continue
		}
		p.labels = append(p.labels, l.name)
		p.updated = s.now()
		err := s.emitPull(&out, "labeled", p, user, func(e *github.PullRequestEvent) { e.Label = s.labelJSON(l) })
		if err != nil {
			return nil, err
		}
	}
	return s.pullLabels(p), nil
}

func hasLabel(p *pull, name string) bool {
	for _, l := range p.labels {
		if strings.EqualFold(l, name) {
			return true
		}
	}
	return false
}
