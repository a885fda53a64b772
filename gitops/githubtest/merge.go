package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-github/v62/github"
)

// mergeInput is what PUT /pulls/{n}/merge asks for.
type mergeInput struct {
	title   *string // commit_title
	message *string // commit_message
	sha     string  // the head the caller reviewed, if given
	method  string  // "merge" (default), "squash" or "rebase"
}

// mergeMethods are the merge_method values GitHub accepts.
var mergeMethods = []string{"merge", "squash", "rebase"}

func (s *Server) handleMergePull() http.Handler {
	const doc = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
	type request struct {
		CommitTitle   *string `json:"commit_title"`
		CommitMessage *string `json:"commit_message"`
		SHA           string  `json:"sha"`
		MergeMethod   string  `json:"merge_method"`
	}
	return handle(doc, http.StatusOK, func(r *http.Request) (*github.PullRequestMergeResult, error) {
		n, err := pathNumber(r)
		if err != nil {
			return nil, err
		}
		var req request
		if r.ContentLength != 0 {
			if req, err = decode[request](r); err != nil {
				return nil, err
			}
		}
		in := mergeInput{title: req.CommitTitle, message: req.CommitMessage, sha: req.SHA, method: req.MergeMethod}
		return s.mergePull(actorFrom(r.Context()), n, in)
	})
}

// mergePull merges pull request n into its base as GitHub does, over the
// real repository: "merge" writes a commit with the base and the head as
// parents; "squash" one commit with the merged tree and the base as its
// only parent; "rebase" replays each of the pull request's commits (merge
// commits dropped) on top of the base, keeping their authors and messages,
// and the last one is the pull request's merge_commit_sha. It moves the
// base branch and sends pull_request "closed" with merged true.
func (s *Server) mergePull(who actor, n int, in mergeInput) (*github.PullRequestMergeResult, error) {
	if in.method == "" {
		in.method = "merge"
	}
	if !slices.Contains(mergeMethods, in.method) {
		// The endpoint's JSON schema refuses it before anything else is looked at.
		return nil, newError(http.StatusUnprocessableEntity, fmt.Sprintf("Invalid request.\n\nFor 'properties/merge_method', %q is not a member of [\"merge\", \"squash\", \"rebase\"].", in.method))
	}
	return changePull(s, n, func(out *outbox, p *pull) (*github.PullRequestMergeResult, error) {
		if p.state != "open" {
			return nil, newError(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		}
		if err := s.refreshPull(p); err != nil {
			return nil, err
		}
		if in.sha != "" && in.sha != p.headSHA {
			return nil, newError(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
		}
		if p.draft {
			return nil, newError(http.StatusMethodNotAllowed, "Pull Request is still a draft")
		}
		tree, clean, err := s.git.mergeTree(p.baseSHA, p.headSHA)
		if err != nil {
			return nil, err
		}
		if !clean {
			return nil, newError(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		}
		var sha string
		if in.method == "rebase" {
			sha, err = s.rebase(p)
		} else {
			sha, err = s.mergeCommit(p, who, tree, in)
		}
		if err != nil {
			return nil, err
		}
		if err := s.moveRef(out, who.login, "refs/heads/"+p.base, sha, p.baseSHA); err != nil {
			return nil, err
		}
		now := s.now()
		p.state, p.closed, p.merged, p.updated = "closed", now, now, now
		p.mergedBy, p.mergeCommitSHA = who.login, sha
		if err := s.emitPull(out, "closed", p, who.login, nil); err != nil {
			return nil, err
		}
		return &github.PullRequestMergeResult{
			SHA:     ptr(sha),
			Merged:  ptr(true),
			Message: ptr("Pull Request successfully merged"),
		}, nil
	})
}

// mergeCommit writes the commit of a "merge" (base and head as parents)
// or a "squash" (the base only), with GitHub's default title and message
// unless the caller gave its own.
func (s *Server) mergeCommit(p *pull, who actor, tree string, in mergeInput) (string, error) {
	title, message := fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, s.opts.Owner, p.head), p.title
	parents := []string{p.baseSHA, p.headSHA}
	if in.method == "squash" {
		parents = parents[:1]
		title = fmt.Sprintf("%s (#%d)", p.title, p.number)
		var err error
		if message, err = s.squashMessage(p); err != nil {
			return "", err
		}
	}
	if in.title != nil && *in.title != "" {
		title = *in.title
	}
	if in.message != nil {
		message = *in.message
	}
	full := title + "\n"
	if message != "" {
		full += "\n" + strings.TrimRight(message, "\n") + "\n"
	}
	return s.git.writeCommit(commitObject{
		Tree:      tree,
		Parents:   parents,
		Author:    s.signatureOf(who.login),
		Committer: s.githubSignature(),
		Message:   full,
	})
}

// rebase replays the pull request's commits on top of its base, one new
// commit each with its author and message and GitHub as the committer
// (GitHub ignores commit_title and commit_message here), and returns the
// last. A commit that does not apply cleanly fails the merge.
func (s *Server) rebase(p *pull) (string, error) {
	mb, err := s.git.mergeBase(p.baseSHA, p.headSHA)
	if err != nil {
		return "", err
	}
	shas, err := s.git.rebaseCommits(mb, p.headSHA)
	if err != nil {
		return "", err
	}
	if len(shas) == 0 {
		return "", newError(http.StatusMethodNotAllowed, "This branch can't be rebased")
	}
	tip := p.baseSHA
	for _, sha := range shas {
		c, err := s.git.readCommit(sha)
		if err != nil {
			return "", err
		}
		tree, clean, err := s.git.cherryPick(c, tip)
		if err != nil {
			return "", err
		}
		if !clean {
			return "", newError(http.StatusMethodNotAllowed, "This branch can't be rebased")
		}
		if tip, err = s.git.writeCommit(commitObject{
			Tree:      tree,
			Parents:   []string{tip},
			Author:    c.Author,
			Committer: s.githubSignature(),
			Message:   c.Message,
		}); err != nil {
			return "", err
		}
	}
	return tip, nil
}

// squashMessage is GitHub's default squash body: the pull request's commit
// messages as a list.
func (s *Server) squashMessage(p *pull) (string, error) {
	mb, err := s.git.mergeBase(p.baseSHA, p.headSHA)
	if err != nil {
		return "", err
	}
	shas, err := s.git.revList(mb, p.headSHA)
	if err != nil {
		return "", err
	}
	lines := make([]string, 0, len(shas))
	for _, sha := range shas {
		c, err := s.git.readCommit(sha)
		if err != nil {
			return "", err
		}
		lines = append(lines, "* "+strings.TrimRight(c.Message, "\n"))
	}
	return strings.Join(lines, "\n\n"), nil
}
