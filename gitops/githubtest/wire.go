package githubtest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// This file renders the emulator's state in GitHub's JSON shapes, as the
// go-github types that decode them. Callers hold s.mu.

func ptr[T any](v T) *T { return &v }

// timestamp is GitHub's time (null when zero).
func timestamp(t time.Time) *github.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &github.Timestamp{Time: t.UTC()}
}

// nodeID mimics GitHub's legacy global node IDs: base64("0<len>:<Type><id>").
func nodeID(typ string, id any) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%v", len(typ), typ, id))
}

// apiURL is the REST URL of a path under the repository ("/pulls/1").
func (s *Server) apiURL(path string) string {
	return s.baseURL + "/repos/" + s.opts.Owner + "/" + s.opts.Repo + path
}

// webURL is the web (html_url) URL of a path under the repository.
func (s *Server) webURL(path string) string {
	return s.baseURL + "/" + s.opts.Owner + "/" + s.opts.Repo + path
}

// appLogin is the GitHub App's bot user.
func (s *Server) appLogin() string {
	if s.opts.App == nil {
		return ""
	}
	return s.opts.App.Slug + "[bot]"
}

// userID gives every login a stable ID.
func (s *Server) userID(login string) int64 {
	id, ok := s.users[login]
	if !ok {
		id = userIDBase + int64(len(s.users)) + 1
		s.users[login] = id
	}
	return id
}

func (s *Server) userJSON(login string) *github.User {
	id := s.userID(login)
	typ, html := "User", s.baseURL+"/"+login
	if slug, ok := strings.CutSuffix(login, "[bot]"); ok {
		typ, html = "Bot", s.baseURL+"/apps/"+slug
	}
	return &github.User{
		Login:      ptr(login),
		ID:         ptr(id),
		NodeID:     ptr(nodeID(typ, id)),
		AvatarURL:  ptr(fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id)),
		GravatarID: ptr(""),
		URL:        ptr(s.baseURL + "/users/" + login),
		HTMLURL:    ptr(html),
		Type:       ptr(typ),
		SiteAdmin:  ptr(false),
	}
}

// signatureOf is the git identity GitHub gives a user's web commits.
func (s *Server) signatureOf(login string) signature {
	return signature{
		Name:  login,
		Email: fmt.Sprintf("%d+%s@users.noreply.github.com", s.userID(login), login),
		When:  s.now(),
	}
}

// githubSignature is the committer of merges GitHub makes.
func (s *Server) githubSignature() signature {
	return signature{Name: "GitHub", Email: "noreply@github.com", When: s.now()}
}

func (s *Server) association(login string) string {
	if a, ok := s.opts.Associations[login]; ok {
		return a
	}
	if strings.EqualFold(login, s.opts.Owner) {
		return "OWNER"
	}
	return "NONE"
}

func (s *Server) repoJSON() *github.Repository {
	full := s.opts.Owner + "/" + s.opts.Repo
	open := 0
	for _, p := range s.pulls {
		if p.state == "open" {
			open++
		}
	}
	api := s.apiURL("")
	return &github.Repository{
		ID:                       ptr(int64(repoID)),
		NodeID:                   ptr(nodeID("Repository", repoID)),
		Name:                     ptr(s.opts.Repo),
		FullName:                 ptr(full),
		Private:                  ptr(true),
		Owner:                    s.userJSON(s.opts.Owner),
		HTMLURL:                  ptr(s.webURL("")),
		Fork:                     ptr(false),
		URL:                      ptr(api),
		ArchiveURL:               ptr(api + "/{archive_format}{/ref}"),
		BlobsURL:                 ptr(api + "/git/blobs{/sha}"),
		BranchesURL:              ptr(api + "/branches{/branch}"),
		CommitsURL:               ptr(api + "/commits{/sha}"),
		ContentsURL:              ptr(api + "/contents/{+path}"),
		GitCommitsURL:            ptr(api + "/git/commits{/sha}"),
		GitRefsURL:               ptr(api + "/git/refs{/sha}"),
		IssueCommentURL:          ptr(api + "/issues/comments{/number}"),
		IssuesURL:                ptr(api + "/issues{/number}"),
		LabelsURL:                ptr(api + "/labels{/name}"),
		PullsURL:                 ptr(api + "/pulls{/number}"),
		StatusesURL:              ptr(api + "/statuses/{sha}"),
		TreesURL:                 ptr(api + "/git/trees{/sha}"),
		CreatedAt:                timestamp(s.created),
		UpdatedAt:                timestamp(s.created),
		PushedAt:                 timestamp(s.created),
		GitURL:                   ptr("git://" + strings.TrimPrefix(s.baseURL, "http://") + "/" + full + ".git"),
		SSHURL:                   ptr("git@" + strings.TrimPrefix(s.baseURL, "http://") + ":" + full + ".git"),
		CloneURL:                 ptr(s.webURL(".git")),
		SVNURL:                   ptr(s.webURL("")),
		DefaultBranch:            ptr(s.opts.DefaultBranch),
		Visibility:               ptr("private"),
		Archived:                 ptr(false),
		Disabled:                 ptr(false),
		HasIssues:                ptr(true),
		OpenIssuesCount:          ptr(open),
		OpenIssues:               ptr(open),
		Topics:                   []string{},
		IsTemplate:               ptr(false),
		WebCommitSignoffRequired: ptr(false),
	}
}

func (s *Server) installationJSON() *github.Installation {
	if s.opts.App == nil {
		return nil
	}
	id := s.opts.App.InstallationID
	return &github.Installation{ID: ptr(id), NodeID: ptr(nodeID("IntegrationInstallation", id))}
}

func (s *Server) refJSON(ref, sha string) *github.Reference {
	return &github.Reference{
		Ref:    ptr(ref),
		NodeID: ptr(nodeID("Ref", ref)),
		URL:    ptr(s.apiURL("/git/" + ref)),
		Object: &github.GitObject{
			Type: ptr("commit"),
			SHA:  ptr(sha),
			URL:  ptr(s.apiURL("/git/commits/" + sha)),
		},
	}
}

func (s *Server) commitJSON(c commitObject) *github.Commit {
	author := func(sig signature) *github.CommitAuthor {
		return &github.CommitAuthor{Name: ptr(sig.Name), Email: ptr(sig.Email), Date: timestamp(sig.When)}
	}
	parents := make([]*github.Commit, 0, len(c.Parents))
	for _, p := range c.Parents {
		parents = append(parents, &github.Commit{
			SHA:     ptr(p),
			URL:     ptr(s.apiURL("/git/commits/" + p)),
			HTMLURL: ptr(s.webURL("/commit/" + p)),
		})
	}
	verification := &github.SignatureVerification{Verified: ptr(false), Reason: ptr("unsigned")}
	if c.Signature != "" {
		verification.Reason = ptr("unknown_key")
		verification.Signature = ptr(c.Signature)
	}
	return &github.Commit{
		SHA:          ptr(c.SHA),
		NodeID:       ptr(nodeID("Commit", c.SHA)),
		URL:          ptr(s.apiURL("/git/commits/" + c.SHA)),
		HTMLURL:      ptr(s.webURL("/commit/" + c.SHA)),
		Author:       author(c.Author),
		Committer:    author(c.Committer),
		Tree:         &github.Tree{SHA: ptr(c.Tree)},
		Message:      ptr(c.Message),
		Parents:      parents,
		Verification: verification,
	}
}

func (s *Server) labelJSON(l *label) *github.Label {
	return &github.Label{
		ID:          ptr(l.id),
		NodeID:      ptr(nodeID("Label", l.id)),
		URL:         ptr(s.apiURL("/labels/" + l.name)),
		Name:        ptr(l.name),
		Color:       ptr(l.color),
		Description: optional(l.description),
		Default:     ptr(false),
	}
}

// optional is null for "", as GitHub renders an empty body or description.
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func (s *Server) pullLabels(p *pull) []*github.Label {
	out := make([]*github.Label, 0, len(p.labels))
	for _, name := range p.labels {
		if l, ok := s.labels[strings.ToLower(name)]; ok {
			out = append(out, s.labelJSON(l))
		}
	}
	return out
}

func (s *Server) commentCount(number int) int {
	n := 0
	for _, c := range s.comments {
		if c.number == number {
			n++
		}
	}
	return n
}

// refreshPull follows an open pull request's branches.
func (s *Server) refreshPull(p *pull) error {
	if p.state != "open" {
		return nil
	}
	for _, b := range []struct {
		branch string
		sha    *string
	}{{p.head, &p.headSHA}, {p.base, &p.baseSHA}} {
		sha, err := s.git.refSHA("refs/heads/" + b.branch)
		if err != nil {
			return err
		}
		if sha != "" {
			*b.sha = sha
		}
	}
	return nil
}

// pullStats are the figures GitHub computes for a pull request's diff.
type pullStats struct {
	commits, additions, deletions, changedFiles int
	files                                       []fileChange
	mergeBase                                   string
}

func (s *Server) stats(p *pull) (pullStats, error) {
	mb, err := s.git.mergeBase(p.baseSHA, p.headSHA)
	if err != nil {
		return pullStats{}, err
	}
	if mb == "" {
		mb = emptyTreeSHA
	}
	st := pullStats{mergeBase: mb}
	if mb != emptyTreeSHA {
		if st.commits, err = s.git.revCount(mb, p.headSHA); err != nil {
			return pullStats{}, err
		}
	}
	if st.files, err = s.git.diff(mb, p.headSHA); err != nil {
		return pullStats{}, err
	}
	for _, f := range st.files {
		st.additions += f.Additions
		st.deletions += f.Deletions
	}
	st.changedFiles = len(st.files)
	return st, nil
}

// mergeability is GitHub's mergeable and mergeable_state.
func (s *Server) mergeability(p *pull) (*bool, string, error) {
	if p.state != "open" {
		return nil, "unknown", nil
	}
	_, clean, err := s.git.mergeTree(p.baseSHA, p.headSHA)
	if err != nil {
		return nil, "", err
	}
	switch {
	case !clean:
		return ptr(false), "dirty", nil
	case p.draft:
		return ptr(true), "draft", nil
	}
	if state := s.combinedState(p.headSHA); state == "failure" || (state == "pending" && len(s.statuses[p.headSHA]) > 0) {
		return ptr(true), "unstable", nil
	}
	return ptr(true), "clean", nil
}

func (s *Server) branchJSON(branch, sha string) *github.PullRequestBranch {
	return &github.PullRequestBranch{
		Label: ptr(s.opts.Owner + ":" + branch),
		Ref:   ptr(branch),
		SHA:   ptr(sha),
		User:  s.userJSON(s.opts.Owner),
		Repo:  s.repoJSON(),
	}
}

// pullJSON is a pull request as GET /pulls/{n} and webhooks show it.
func (s *Server) pullJSON(p *pull) (*github.PullRequest, error) {
	pr, err := s.simplePullJSON(p)
	if err != nil {
		return nil, err
	}
	st, err := s.stats(p)
	if err != nil {
		return nil, err
	}
	mergeable, mergeableState, err := s.mergeability(p)
	if err != nil {
		return nil, err
	}
	pr.Merged = ptr(!p.merged.IsZero())
	pr.Mergeable = mergeable
	pr.Rebaseable = mergeable
	pr.MergeableState = ptr(mergeableState)
	if p.mergedBy != "" {
		pr.MergedBy = s.userJSON(p.mergedBy)
	}
	pr.Comments = ptr(s.commentCount(p.number))
	pr.ReviewComments = ptr(0)
	pr.MaintainerCanModify = ptr(p.maintainerCanModify)
	pr.Commits = ptr(st.commits)
	pr.Additions = ptr(st.additions)
	pr.Deletions = ptr(st.deletions)
	pr.ChangedFiles = ptr(st.changedFiles)
	return pr, nil
}

// simplePullJSON is a pull request as GET /pulls lists it: without merged,
// mergeable, merged_by and the counts, exactly as GitHub leaves them out
// (code that reads "merged" from a listing is wrong on GitHub too; merged_at
// is there).
func (s *Server) simplePullJSON(p *pull) (*github.PullRequest, error) {
	if err := s.refreshPull(p); err != nil {
		return nil, err
	}
	n := fmt.Sprint(p.number)
	link := func(u string) *github.PRLink { return &github.PRLink{HRef: ptr(u)} }
	return &github.PullRequest{
		URL:                ptr(s.apiURL("/pulls/" + n)),
		ID:                 ptr(int64(pullIDBase + p.number)),
		NodeID:             ptr(nodeID("PullRequest", pullIDBase+p.number)),
		HTMLURL:            ptr(s.webURL("/pull/" + n)),
		DiffURL:            ptr(s.webURL("/pull/" + n + ".diff")),
		PatchURL:           ptr(s.webURL("/pull/" + n + ".patch")),
		IssueURL:           ptr(s.apiURL("/issues/" + n)),
		Number:             ptr(p.number),
		State:              ptr(p.state),
		Locked:             ptr(false),
		Title:              ptr(p.title),
		User:               s.userJSON(p.user),
		Body:               optional(p.body),
		CreatedAt:          timestamp(p.created),
		UpdatedAt:          timestamp(p.updated),
		ClosedAt:           timestamp(p.closed),
		MergedAt:           timestamp(p.merged),
		MergeCommitSHA:     optional(p.mergeCommitSHA),
		Assignees:          []*github.User{},
		RequestedReviewers: []*github.User{},
		Labels:             s.pullLabels(p),
		CommitsURL:         ptr(s.apiURL("/pulls/" + n + "/commits")),
		ReviewCommentsURL:  ptr(s.apiURL("/pulls/" + n + "/comments")),
		ReviewCommentURL:   ptr(s.apiURL("/pulls/comments{/number}")),
		CommentsURL:        ptr(s.apiURL("/issues/" + n + "/comments")),
		StatusesURL:        ptr(s.apiURL("/statuses/" + p.headSHA)),
		Head:               s.branchJSON(p.head, p.headSHA),
		Base:               s.branchJSON(p.base, p.baseSHA),
		AuthorAssociation:  ptr(s.association(p.user)),
		Draft:              ptr(p.draft),
		Links: &github.PRLinks{
			Self:           link(s.apiURL("/pulls/" + n)),
			HTML:           link(s.webURL("/pull/" + n)),
			Issue:          link(s.apiURL("/issues/" + n)),
			Comments:       link(s.apiURL("/issues/" + n + "/comments")),
			ReviewComments: link(s.apiURL("/pulls/" + n + "/comments")),
			ReviewComment:  link(s.apiURL("/pulls/comments{/number}")),
			Commits:        link(s.apiURL("/pulls/" + n + "/commits")),
			Statuses:       link(s.apiURL("/statuses/" + p.headSHA)),
		},
	}, nil
}

// issueJSON is the issue side of a pull request, as issue_comment webhooks
// carry it.
func (s *Server) issueJSON(p *pull) *github.Issue {
	n := fmt.Sprint(p.number)
	return &github.Issue{
		URL:               ptr(s.apiURL("/issues/" + n)),
		RepositoryURL:     ptr(s.apiURL("")),
		LabelsURL:         ptr(s.apiURL("/issues/" + n + "/labels{/name}")),
		CommentsURL:       ptr(s.apiURL("/issues/" + n + "/comments")),
		EventsURL:         ptr(s.apiURL("/issues/" + n + "/events")),
		HTMLURL:           ptr(s.webURL("/pull/" + n)),
		ID:                ptr(int64(issueIDBase + p.number)),
		NodeID:            ptr(nodeID("Issue", issueIDBase+p.number)),
		Number:            ptr(p.number),
		Title:             ptr(p.title),
		User:              s.userJSON(p.user),
		Labels:            s.pullLabels(p),
		State:             ptr(p.state),
		Locked:            ptr(false),
		Assignees:         []*github.User{},
		Comments:          ptr(s.commentCount(p.number)),
		CreatedAt:         timestamp(p.created),
		UpdatedAt:         timestamp(p.updated),
		ClosedAt:          timestamp(p.closed),
		AuthorAssociation: ptr(s.association(p.user)),
		Body:              optional(p.body),
		Draft:             ptr(p.draft),
		PullRequestLinks: &github.PullRequestLinks{
			URL:      ptr(s.apiURL("/pulls/" + n)),
			HTMLURL:  ptr(s.webURL("/pull/" + n)),
			DiffURL:  ptr(s.webURL("/pull/" + n + ".diff")),
			PatchURL: ptr(s.webURL("/pull/" + n + ".patch")),
			MergedAt: timestamp(p.merged),
		},
	}
}

func (s *Server) commentJSON(c *comment) *github.IssueComment {
	n := fmt.Sprint(c.number)
	return &github.IssueComment{
		ID:                ptr(c.id),
		NodeID:            ptr(nodeID("IssueComment", c.id)),
		URL:               ptr(s.apiURL(fmt.Sprintf("/issues/comments/%d", c.id))),
		HTMLURL:           ptr(s.webURL(fmt.Sprintf("/pull/%s#issuecomment-%d", n, c.id))),
		IssueURL:          ptr(s.apiURL("/issues/" + n)),
		Body:              ptr(c.body),
		User:              s.userJSON(c.user),
		CreatedAt:         timestamp(c.created),
		UpdatedAt:         timestamp(c.updated),
		AuthorAssociation: ptr(s.association(c.user)),
	}
}

func (s *Server) statusJSON(st *status) *github.RepoStatus {
	creator := s.userJSON(st.creator)
	return &github.RepoStatus{
		ID:          ptr(st.id),
		NodeID:      ptr(nodeID("StatusContext", st.id)),
		URL:         ptr(s.apiURL("/statuses/" + st.sha)),
		AvatarURL:   creator.AvatarURL,
		State:       ptr(st.state),
		Description: optional(st.description),
		TargetURL:   optional(st.targetURL),
		Context:     ptr(st.context),
		CreatedAt:   timestamp(st.created),
		UpdatedAt:   timestamp(st.created),
		Creator:     creator,
	}
}
