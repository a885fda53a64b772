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
	return handleWriteComment(doc, http.StatusCreated, pathNumber, s.createComment)
}

// handleWriteComment makes the two endpoints that write a comment, which
// take the same body, {"body": "..."}, and answer the comment: path reads
// the pull request's number (create) or the comment's ID (update) for write.
func handleWriteComment[ID any](doc string, status int, path func(*http.Request) (ID, error), write func(user string, id ID, body *string) (*github.IssueComment, error)) http.Handler {
	type request struct {
		Body *string `json:"body"`
	}
	return handle(doc, status, withPathAndBody(path, func(r *http.Request, id ID, req request) (*github.IssueComment, error) {
		return write(actorFrom(r.Context()).login, id, req.Body)
	}))
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
	return changePull(s, n, func(out *outbox, p *pull) (*github.IssueComment, error) {
		if err := checkCommentBody(body); err != nil {
			return nil, err
		}
		now := s.now()
		c := &comment{id: s.newID(commentBase), number: n, user: user, body: *body, created: now, updated: now}
		s.comments = append(s.comments, c)
		p.updated = now
		if err := s.emitComment(out, "created", c, p, user, nil); err != nil {
			return nil, err
		}
		return s.commentJSON(c), nil
	})
}

func (s *Server) handleListComments() http.Handler {
	const doc = "https://docs.github.com/rest/issues/comments#list-issue-comments"
	return handleList(doc, s.baseURL, func(r *http.Request) ([]*github.IssueComment, error) {
		n, err := pathNumber(r)
		if err != nil {
			return nil, err
		}
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			if since, err = time.Parse(time.RFC3339, v); err != nil {
				return nil, invalid(FieldError{Resource: "IssueComment", Field: "since", Code: "invalid"})
			}
		}
		return s.listComments(n, since)
	})
}

// listComments lists pull request n's comments, oldest first, updated at or
// after since.
func (s *Server) listComments(n int, since time.Time) ([]*github.IssueComment, error) {
	return withPull(s, n, func(*pull) ([]*github.IssueComment, error) {
		out := []*github.IssueComment{}
		for _, c := range s.comments {
			if c.number == n && !c.updated.Before(since) {
				out = append(out, s.commentJSON(c))
			}
		}
		return out, nil
	})
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
	return handle(doc, http.StatusOK, withPath(pathCommentID, s.getComment))
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
	return handleWriteComment(doc, http.StatusOK, pathCommentID, s.updateComment)
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
	return handle(doc, http.StatusOK, withPathAndBody(pathNumber, func(r *http.Request, n int, raw json.RawMessage) ([]*github.Label, error) {
		names, ok := labelNames(raw)
		if !ok {
			return nil, invalid(FieldError{Resource: "Label", Field: "labels", Code: "invalid"})
		}
		return s.addLabels(actorFrom(r.Context()).login, n, names)
	}))
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
	return changePull(s, n, func(out *outbox, p *pull) ([]*github.Label, error) {
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
			err := s.emitPull(out, "labeled", p, user, func(e *github.PullRequestEvent) { e.Label = s.labelJSON(l) })
			if err != nil {
				return nil, err
			}
		}
		return s.pullLabels(p), nil
	})
}

func hasLabel(p *pull, name string) bool {
	for _, l := range p.labels {
		if strings.EqualFold(l, name) {
			return true
		}
	}
	return false
}
