package githubtest_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestPullPage follows a pull request's html_url as a person in the demo
// would, comments and merges from the page.
func TestPullPage(t *testing.T) {
	gh := githubtest.NewT(t, githubtest.Options{Reviewer: "dba-alice", SyncWebhooks: true})
	c := gh.Client()
	commitBranch(t, c, gh, "main", "feature", map[string]*string{"db/main.tf": github.String("instances = 2\n")})
	pr := openPull(t, c, gh, "feature")

	resp, err := http.Get(pr.GetHTMLURL())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Provision feature", "db/main.tf", "instances = 2", "Merge pull request"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, action := range []string{"comment", "merge"} {
		resp, err := noRedirect.PostForm(pr.GetHTMLURL()+"/"+action, url.Values{"body": {"LGTM"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %s, want 303", action, resp.Status)
		}
	}
	merged, err := gh.PullRequest(1)
	if err != nil || !merged.GetMerged() || merged.GetMergedBy().GetLogin() != "dba-alice" {
		t.Errorf("after the merge button: merged %v by %q, %v", merged.GetMerged(), merged.GetMergedBy().GetLogin(), err)
	}
	if cs := gh.Comments(1); len(cs) != 1 || cs[0].GetBody() != "LGTM" || cs[0].GetUser().GetLogin() != "dba-alice" {
		t.Errorf("comments = %v", cs)
	}
}
