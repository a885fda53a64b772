package githubtest

import "github.com/google/go-github/v62/github"

// The webhooks the emulator sends on its own, built from the same renderings
// as the REST answers, so a payload's pull_request is what GET /pulls/{n}
// would say at that moment. Callers hold s.mu.

// emitPull sends a pull_request event; edit adds the action's own fields
// (before/after, changes, label).
func (s *Server) emitPull(out *outbox, action string, p *pull, sender string, edit func(*github.PullRequestEvent)) error {
	pr, err := s.pullJSON(p)
	if err != nil {
		return err
	}
	e := &github.PullRequestEvent{
		Action:       ptr(action),
		Number:       ptr(p.number),
		PullRequest:  pr,
		Repo:         s.repoJSON(),
		Sender:       s.userJSON(sender),
		Installation: s.installationJSON(),
	}
	if edit != nil {
		edit(e)
	}
	return s.emit(out, "pull_request", action, e)
}

// emitComment sends an issue_comment event about c, on pull request p.
func (s *Server) emitComment(out *outbox, action string, c *comment, p *pull, sender string, changes *github.EditChange) error {
	if err := s.refreshPull(p); err != nil {
		return err
	}
	e := &github.IssueCommentEvent{
		Action:       ptr(action),
		Issue:        s.issueJSON(p),
		Comment:      s.commentJSON(c),
		Changes:      changes,
		Repo:         s.repoJSON(),
		Sender:       s.userJSON(sender),
		Installation: s.installationJSON(),
	}
	return s.emit(out, "issue_comment", action, e)
}
