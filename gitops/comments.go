package gitops

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v62/github"
)

// MaxCommentBytes is GitHub's limit on a comment body.
const MaxCommentBytes = 65536

// marker tags a comment so that it can be found and edited in place.
func marker(key string) string { return "<!-- clustro:" + key + " -->" }

// UpsertComment keeps one comment per key on a pull request: it edits the
// comment tagged with key, or creates it. Only a comment written by
// ClustroPG's own account (the author of its pull requests) is edited: a
// tagged comment someone else posted must not become the plan reviewers
// read. The body is fitted to GitHub's limit with FitComment.
func (c *Client) UpsertComment(ctx context.Context, number int, key, body string) error {
	m := marker(key)
	body = FitComment(m+"\n"+body, MaxCommentBytes)
	pr, err := c.GetPR(ctx, number)
	if err != nil {
		return err
	}
	self := pr.GetUser().GetLogin()
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		comments, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.repo, number, opts)
		if err != nil {
			return wrap(fmt.Sprintf("list comments of PR #%d", number), err)
		}
		for _, cm := range comments {
			if strings.HasPrefix(cm.GetBody(), m) && cm.GetUser().GetLogin() == self {
				if _, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.repo, cm.GetID(), &github.IssueComment{Body: github.String(body)}); err != nil {
					return wrap(fmt.Sprintf("edit comment on PR #%d", number), err)
				}
				return nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if _, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		return wrap(fmt.Sprintf("comment on PR #%d", number), err)
	}
	return nil
}

// Comment adds a comment to a pull request.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	body = FitComment(body, MaxCommentBytes)
	if _, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		return wrap(fmt.Sprintf("comment on PR #%d", number), err)
	}
	return nil
}

// truncationNote replaces what FitComment cuts.
const truncationNote = "\n... (%d bytes cut to fit GitHub's comment limit; the end, with the summary and any errors, is kept)\n"

// FitComment returns body unchanged when it fits in limit bytes; otherwise
// it keeps the first line (the marker or title) and the END of the body,
// where Terraform prints its summary and errors, and cuts the middle at a
// line boundary. Code fences stay balanced: a fence cut open is reopened,
// and a <details> block stays closed.
func FitComment(body string, limit int) string {
	if len(body) <= limit {
		return body
	}
	head, rest, _ := strings.Cut(body, "\n")
	head += "\n"
	budget := limit - len(head) - len(fmt.Sprintf(truncationNote, len(body))) - len("<details><summary>Plan (its start was cut)</summary>\n\n```\n")
	if budget <= 0 {
		return head[:min(len(head), limit)]
	}
	tail := rest[len(rest)-budget:]
	if i := strings.IndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:] // start on a whole line
	}
	cut := len(rest) - len(tail)
	note := fmt.Sprintf(truncationNote, cut)
	// The tail may start inside a <details> block or a code fence that
	// opened in the part cut: reopen them.
	if strings.Count(rest[:cut], "<details>") > strings.Count(rest[:cut], "</details>") {
		note += "<details><summary>Plan (its start was cut)</summary>\n\n"
	}
	if strings.Count(rest[:cut], "```")%2 == 1 {
		note += "```\n"
	}
	return head + note + tail
}
