package githubtest_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestPullRequestLifecycle walks the path a database request takes, driven by
// go-github v62 exactly as ClustroPG drives GitHub: a multi-file commit on a
// branch, a pull request, comments, a label, a status, a reviewer's edit, a
// merge, then reading the merged tree back as contents and as a tarball.
func TestPullRequestLifecycle(t *testing.T) {
	ctx := context.Background()
	rcv := newReceiver(t, hookSecret)
	gh := githubtest.NewT(t, githubtest.Options{
		Owner: "acme",
		Repo:  "infra",
		Files: map[string][]byte{
			"README.md":                      []byte("# infra\n"),
			"modules/cnpg-database/main.tf":  []byte("# module\n"),
			"databases/dev/payments/old.txt": []byte("obsolete\n"),
		},
		WebhookURL:    rcv.URL,
		WebhookSecret: hookSecret,
	})
	c := gh.Client()
	const branch = "clustro/dev-payments-orders"

	// A multi-file commit: two files added, one modified, one deleted.
	files := map[string]*string{
		"databases/dev/payments/orders/main.tf":           github.String("module \"orders\" {\n  instances = 2\n}\n"),
		"databases/dev/payments/orders/catalog-info.yaml": github.String("kind: Resource\n"),
		"README.md":                      github.String("# infra\n\nDatabases.\n"),
		"databases/dev/payments/old.txt": nil,
	}
	head := commitBranch(t, c, gh, "main", branch, files)

	pr := openPull(t, c, gh, branch)
	if got, want := pr.GetNumber(), 1; got != want {
		t.Errorf("number = %d, want %d", got, want)
	}
	if got, want := pr.GetHTMLURL(), gh.URL()+"/acme/infra/pull/1"; got != want {
		t.Errorf("html_url = %q, want %q", got, want)
	}
	if pr.GetState() != "open" || pr.GetHead().GetRef() != branch || pr.GetHead().GetSHA() != head || pr.GetBase().GetRef() != "main" {
		t.Errorf("pull request = state %q head %q@%s base %q", pr.GetState(), pr.GetHead().GetRef(), pr.GetHead().GetSHA(), pr.GetBase().GetRef())
	}
	if pr.GetUser().GetLogin() != "clustro-bot" || pr.GetChangedFiles() != 4 || pr.GetCommits() != 1 || !pr.GetMergeable() {
		t.Errorf("pull request = user %q, %d files, %d commits, mergeable %v", pr.GetUser().GetLogin(), pr.GetChangedFiles(), pr.GetCommits(), pr.GetMergeable())
	}

	// The files, as a reviewer sees them.
	prFiles, _, err := c.PullRequests.ListFiles(ctx, "acme", "infra", 1, nil)
	if err != nil {
		t.Fatalf("ListFiles: %v", err)
	}
	statuses := map[string]string{}
	for _, f := range prFiles {
		statuses[f.GetFilename()] = f.GetStatus()
	}
	wantStatuses := map[string]string{
		"README.md":                      "modified",
		"databases/dev/payments/old.txt": "removed",
		"databases/dev/payments/orders/catalog-info.yaml": "added",
		"databases/dev/payments/orders/main.tf":           "added",
	}
	if !reflect.DeepEqual(statuses, wantStatuses) {
		t.Errorf("file statuses = %v, want %v", statuses, wantStatuses)
	}
	for _, f := range prFiles {
		if f.GetFilename() == "README.md" && f.GetPatch() != "@@ -1 +1,3 @@\n # infra\n+\n+Databases." {
			t.Errorf("README.md patch = %q", f.GetPatch())
		}
	}

	// The bot's plan comment, edited when the plan is done.
	comment, _, err := c.Issues.CreateComment(ctx, "acme", "infra", 1, &github.IssueComment{Body: github.String("Planning…")})
	if err != nil {
		t.Fatalf("CreateComment: %v", err)
	}
	if _, _, err := c.Issues.EditComment(ctx, "acme", "infra", comment.GetID(), &github.IssueComment{Body: github.String("<details>Plan: 3 to add</details>")}); err != nil {
		t.Fatalf("EditComment: %v", err)
	}
	got, _, err := c.Issues.GetComment(ctx, "acme", "infra", comment.GetID())
	if err != nil || got.GetBody() != "<details>Plan: 3 to add</details>" {
		t.Errorf("GetComment = %q, %v", got.GetBody(), err)
	}
	if _, _, err := c.Issues.AddLabelsToIssue(ctx, "acme", "infra", 1, []string{"clustro", "env:dev"}); err != nil {
		t.Fatalf("AddLabelsToIssue: %v", err)
	}
	if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "infra", head, &github.RepoStatus{
		State: github.String("success"), Context: github.String("clustro/plan"), Description: github.String("3 to add"),
	}); err != nil {
		t.Fatalf("CreateStatus: %v", err)
	}
	combined, _, err := c.Repositories.GetCombinedStatus(ctx, "acme", "infra", branch, nil)
	if err != nil || combined.GetState() != "success" || combined.GetTotalCount() != 1 {
		t.Errorf("combined status = %q (%d), %v", combined.GetState(), combined.GetTotalCount(), err)
	}

	// A reviewer edits the branch: synchronize.
	edited, err := gh.PushCommit(branch, map[string][]byte{
		"databases/dev/payments/orders/main.tf": []byte("module \"orders\" {\n  instances = 3\n}\n"),
	}, nil, "Three instances")
	if err != nil {
		t.Fatal(err)
	}

	// A person comments; then the bot merges what it reviewed.
	if _, err := gh.Comment(1, "alice", "/pg apply"); err != nil {
		t.Fatal(err)
	}
	res, _, err := c.PullRequests.Merge(ctx, "acme", "infra", 1, "", &github.PullRequestOptions{MergeMethod: "merge", SHA: edited})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if !res.GetMerged() {
		t.Errorf("merge result = %+v", res)
	}

	// The merge is a real merge commit: two parents, main's and the head's.
	log, err := gh.Log("main")
	if err != nil {
		t.Fatal(err)
	}
	if log[0].SHA != res.GetSHA() || len(log[0].Parents) != 2 || log[0].Parents[1] != edited {
		t.Errorf("main's tip = %+v, want the merge %s of %s", log[0], res.GetSHA(), edited)
	}
	if !strings.HasPrefix(log[0].Message, "Merge pull request #1 from acme/"+branch) {
		t.Errorf("merge message = %q", log[0].Message)
	}
	tree, err := gh.ListTree("main")
	if err != nil {
		t.Fatal(err)
	}
	wantTree := []string{
		"README.md",
		"databases/dev/payments/orders/catalog-info.yaml",
		"databases/dev/payments/orders/main.tf",
		"modules/cnpg-database/main.tf",
	}
	if !reflect.DeepEqual(tree, wantTree) {
		t.Errorf("main's tree = %v, want %v", tree, wantTree)
	}

	merged, err := gh.PullRequest(1)
	if err != nil {
		t.Fatal(err)
	}
	if !merged.GetMerged() || merged.GetState() != "closed" || merged.GetMergeCommitSHA() != res.GetSHA() || merged.GetMergedBy().GetLogin() != "clustro-bot" {
		t.Errorf("after merge: merged %v state %q merge_commit_sha %q merged_by %q",
			merged.GetMerged(), merged.GetState(), merged.GetMergeCommitSHA(), merged.GetMergedBy().GetLogin())
	}
	if got := gh.Labels(1); !reflect.DeepEqual(got, []string{"clustro", "env:dev"}) {
		t.Errorf("labels = %v", got)
	}
	if got := gh.Comments(1); len(got) != 2 || got[1].GetUser().GetLogin() != "alice" {
		t.Errorf("comments = %v", got)
	}
	if got := gh.Statuses(head); len(got) != 1 || got[0].GetContext() != "clustro/plan" {
		t.Errorf("statuses = %v", got)
	}

	// Contents: a file and a directory on main.
	file, _, _, err := c.Repositories.GetContents(ctx, "acme", "infra", "databases/dev/payments/orders/main.tf", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatalf("GetContents(file): %v", err)
	}
	if content, err := file.GetContent(); err != nil || !strings.Contains(content, "instances = 3") {
		t.Errorf("file content = %q, %v", content, err)
	}
	_, dir, _, err := c.Repositories.GetContents(ctx, "acme", "infra", "databases/dev/payments", nil)
	if err != nil || len(dir) != 1 || dir[0].GetType() != "dir" || dir[0].GetName() != "orders" {
		t.Errorf("GetContents(dir) = %v, %v", dir, err)
	}

	// The tarball of main holds the merged tree under GitHub's top directory.
	link, _, err := c.Repositories.GetArchiveLink(ctx, "acme", "infra", github.Tarball, &github.RepositoryContentGetOptions{Ref: "main"}, 0)
	if err != nil {
		t.Fatalf("GetArchiveLink: %v", err)
	}
	names, content := readTarball(t, link.String())
	wantTop := "acme-infra-" + res.GetSHA()[:7] + "/"
	var wantNames []string
	for _, p := range wantTree {
		wantNames = append(wantNames, wantTop+p)
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("tarball files = %v, want %v", names, wantNames)
	}
	if !strings.Contains(content[wantTop+"databases/dev/payments/orders/main.tf"], "instances = 3") {
		t.Errorf("tarball main.tf = %q", content[wantTop+"databases/dev/payments/orders/main.tf"])
	}

	// The webhooks, in order, as the bot parsed them.
	gh.Flush()
	if errs := rcv.rejected(); len(errs) > 0 {
		t.Fatalf("receiver rejected deliveries: %v", errs)
	}
	events := rcv.pullEvents()
	wantActions := []string{"opened", "labeled", "labeled", "synchronize", "closed"}
	if got := actions(events); !reflect.DeepEqual(got, wantActions) {
		t.Fatalf("pull_request actions = %v, want %v", got, wantActions)
	}
	opened, sync, closed := events[0], events[3], events[4]
	if opened.GetPullRequest().GetHead().GetSHA() != head || opened.GetRepo().GetFullName() != "acme/infra" || opened.GetSender().GetLogin() != "clustro-bot" {
		t.Errorf("opened = head %s repo %q sender %q", opened.GetPullRequest().GetHead().GetSHA(), opened.GetRepo().GetFullName(), opened.GetSender().GetLogin())
	}
	if sync.GetBefore() != head || sync.GetAfter() != edited || sync.GetPullRequest().GetHead().GetSHA() != edited || sync.GetSender().GetLogin() != "octocat" {
		t.Errorf("synchronize = before %s after %s head %s sender %q", sync.GetBefore(), sync.GetAfter(), sync.GetPullRequest().GetHead().GetSHA(), sync.GetSender().GetLogin())
	}
	if !closed.GetPullRequest().GetMerged() || closed.GetPullRequest().GetMergeCommitSHA() != res.GetSHA() || closed.GetPullRequest().GetMergedBy().GetLogin() != "clustro-bot" {
		t.Errorf("closed = merged %v merge_commit_sha %q merged_by %q", closed.GetPullRequest().GetMerged(), closed.GetPullRequest().GetMergeCommitSHA(), closed.GetPullRequest().GetMergedBy().GetLogin())
	}
	comments := rcv.commentEvents()
	var commentActions []string
	for _, e := range comments {
		commentActions = append(commentActions, e.GetAction()+":"+e.GetComment().GetUser().GetLogin())
	}
	if want := []string{"created:clustro-bot", "edited:clustro-bot", "created:alice"}; !reflect.DeepEqual(commentActions, want) {
		t.Errorf("issue_comment events = %v, want %v", commentActions, want)
	}
	if last := comments[len(comments)-1]; last.GetIssue().GetNumber() != 1 || last.GetIssue().GetPullRequestLinks() == nil || last.GetComment().GetBody() != "/pg apply" {
		t.Errorf("issue_comment = issue %d pull_request %v body %q", last.GetIssue().GetNumber(), last.GetIssue().GetPullRequestLinks(), last.GetComment().GetBody())
	}

	// A redelivery carries the same X-GitHub-Delivery.
	first := gh.Deliveries()[0]
	again, err := gh.Redeliver(first.ID)
	if err != nil || again.StatusCode != http.StatusOK || !again.Redelivery {
		t.Fatalf("Redeliver = %+v, %v", again, err)
	}
	all := rcv.received()
	if last := all[len(all)-1]; last.id != first.ID || string(last.body) != string(first.Payload) {
		t.Errorf("redelivered id %s, want %s", last.id, first.ID)
	}
}

// readTarball downloads a tarball and returns its file names (sorted) and
// contents.
func readTarball(t *testing.T, url string) ([]string, map[string]string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("download tarball: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download tarball: %s", resp.Status)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("tarball: %v", err)
	}
	tr := tar.NewReader(gz)
	var names []string
	content := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("tarball: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tarball: %v", err)
		}
		names = append(names, h.Name)
		content[h.Name] = string(b)
	}
	sort.Strings(names)
	return names, content
}
