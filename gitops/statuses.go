package gitops

import (
	"context"

	"github.com/google/go-github/v62/github"
)

// StatusContext is the commit status ClustroPG sets; branch protection can
// require it.
const StatusContext = "clustro/plan"

// Commit status states.
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusFailure = "failure"
	StatusError   = "error"
)

// SetStatus sets the clustro/plan status of a commit. GitHub caps the
// description at 140 characters.
func (c *Client) SetStatus(ctx context.Context, sha, state, description, targetURL string) error {
	if len(description) > 140 {
		description = description[:137] + "..."
	}
	st := &github.RepoStatus{State: github.String(state), Context: github.String(StatusContext), Description: github.String(description)}
	if targetURL != "" {
		st.TargetURL = github.String(targetURL)
	}
	if _, _, err := c.gh.Repositories.CreateStatus(ctx, c.owner, c.repo, sha, st); err != nil {
		return wrap("set status of "+sha, err)
	}
	return nil
}
