package githubtest

import (
	"fmt"
	"sort"
	"strings"
)

// The people around the bot. These methods change the same state as the API
// and send the same webhooks, as if a person had clicked in GitHub's web UI.

// Merge merges pull request n as user with a merge commit (two parents),
// GitHub's default, as MergeWith(n, user, "merge") does.
func (s *Server) Merge(n int, user string) (string, error) {
	return s.MergeWith(n, user, "merge")
}

// MergeWith merges pull request n as user with method: "merge", "squash"
// or "rebase", the choices of GitHub's merge button. It sends
// pull_request "closed" with merged true and returns the pull request's
// merge_commit_sha: the merge commit, the squashed commit, or the last of
// the rebased commits. It fails as the API would: 422 for another method,
// 405 if closed, conflicting or a draft.
func (s *Server) MergeWith(n int, user, method string) (string, error) {
	res, err := s.mergePull(actor{login: user}, n, mergeInput{method: method})
	if err != nil {
		return "", fmt.Errorf("githubtest: %s #%d: %w", method, n, err)
	}
	return res.GetSHA(), nil
}

// ClosePull closes pull request n unmerged as user and sends pull_request
// "closed" with merged false. (Close stops the Server.)
func (s *Server) ClosePull(n int, user string) error {
	if _, err := s.updatePull(actor{login: user}, n, pullUpdate{state: ptr("closed")}); err != nil {
		return fmt.Errorf("githubtest: close #%d: %w", n, err)
	}
	return nil
}

// ReopenPull reopens a closed, unmerged pull request n as user and sends
// pull_request "reopened".
func (s *Server) ReopenPull(n int, user string) error {
	if _, err := s.updatePull(actor{login: user}, n, pullUpdate{state: ptr("open")}); err != nil {
		return fmt.Errorf("githubtest: reopen #%d: %w", n, err)
	}
	return nil
}

// Comment posts body on pull request n as user and sends issue_comment
// "created". It returns the comment's ID.
func (s *Server) Comment(n int, user, body string) (int64, error) {
	c, err := s.createComment(user, n, &body)
	if err != nil {
		return 0, fmt.Errorf("githubtest: comment on #%d: %w", n, err)
	}
	return c.GetID(), nil
}

// PushCommit commits files (written) and deletions (removed) on top of
// branch as Options.Reviewer, as a reviewer's edit would, and moves the
// branch: every open pull request from it gets a synchronize webhook. It
// returns the new commit.
func (s *Server) PushCommit(branch string, files map[string][]byte, deletions []string, message string) (string, error) {
	sha, err := s.pushCommit(branch, files, deletions, message)
	if err != nil {
		return "", fmt.Errorf("githubtest: push to %s: %w", branch, err)
	}
	return sha, nil
}

func (s *Server) pushCommit(branch string, files map[string][]byte, deletions []string, message string) (string, error) {
	var out outbox
	defer s.deliver(&out) // deferred calls run last-in first-out: after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := "refs/heads/" + branch
	tip, err := s.git.refSHA(ref)
	if err != nil {
		return "", err
	}
	if tip == "" {
		return "", fmt.Errorf("no branch %q", branch)
	}
	parent, err := s.git.readCommit(tip)
	if err != nil {
		return "", err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var edits []treeEdit
	for _, p := range paths {
		if !validPath(p) {
			return "", fmt.Errorf("invalid path %q", p)
		}
		sha, err := s.git.writeBlob(files[p])
		if err != nil {
			return "", err
		}
		edits = append(edits, treeEdit{Path: p, Mode: "100644", Type: "blob", SHA: sha})
	}
	for _, p := range deletions {
		if !validPath(p) {
			return "", fmt.Errorf("invalid path %q", p)
		}
		edits = append(edits, treeEdit{Path: p, Delete: true})
	}
	tree, err := s.git.editTree(parent.Tree, edits)
	if err != nil {
		return "", err
	}
	who := s.signatureOf(s.opts.Reviewer)
	sha, err := s.git.writeCommit(commitObject{Tree: tree, Parents: []string{tip}, Author: who, Committer: who, Message: strings.TrimRight(message, "\n") + "\n"})
	if err != nil {
		return "", err
	}
	if err := s.moveRef(&out, s.opts.Reviewer, ref, sha, tip); err != nil {
		return "", err
	}
	return sha, nil
}
