package gitops

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
)

func emulatorOn(t *testing.T, branch string) *githubtest.Server {
	t.Helper()
	return githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra", DefaultBranch: branch,
		Files: map[string][]byte{"README.md": []byte("infra\n"), "modules/cnpg-database/main.tf": []byte("# module\n")}})
}

func emulator(t *testing.T) (*githubtest.Server, *Client) {
	t.Helper()
	gh := emulatorOn(t, "main")
	c, err := NewClient(Options{APIURL: gh.URL() + "/", Repo: "acme/infra", Auth: Auth{Token: gh.Token()}})
	if err != nil {
		t.Fatal(err)
	}
	return gh, c
}

func TestOpenPROneCommitAndIdempotent(t *testing.T) {
	gh, c := emulator(t)
	ctx := context.Background()
	ch := Change{Branch: "clustro/req-1", Title: "clustro: create database billing/ledger (prod, M)", Body: "body", Labels: []string{"clustropg", "env:prod"},
		Message: "create ledger", Files: map[string][]byte{
			"databases/prod/billing/ledger/main.tf":           []byte("# main\n"),
			"databases/prod/billing/ledger/catalog-info.yaml": []byte("kind: Resource\n"),
		}}
	pr, err := c.OpenPR(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number == 0 || pr.URL == "" || pr.Branch != "clustro/req-1" {
		t.Fatalf("pr = %+v", pr)
	}
	// A retried job gets the same pull request, not a second one.
	again, err := c.OpenPR(ctx, ch)
	if err != nil || again.Number != pr.Number {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	prs, _ := gh.PullRequests()
	if len(prs) != 1 {
		t.Errorf("%d PRs, want 1", len(prs))
	}
	// All files in one commit on the branch, on top of main.
	log, err := gh.Log("clustro/req-1")
	if err != nil {
		t.Fatal(err)
	}
	mainLog, _ := gh.Log("main")
	if len(log) != len(mainLog)+1 || log[0].Message != "create ledger" {
		t.Errorf("branch log %+v", log)
	}
	for path, want := range ch.Files {
		got, err := gh.ReadFile("clustro/req-1", path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s = %q, %v", path, got, err)
		}
	}
	if got := gh.Labels(pr.Number); strings.Join(got, ",") != "clustropg,env:prod" {
		t.Errorf("labels %v", got)
	}
	files, err := c.ChangedFiles(ctx, pr.Number)
	if err != nil || len(files) != 2 || files[0].Status != "added" {
		t.Errorf("changed files %+v, %v", files, err)
	}

	// A deletion: the files are removed in one commit.
	del, err := c.OpenPR(ctx, Change{Branch: "clustro/req-2", Title: "delete", Message: "delete", Delete: []string{"modules/cnpg-database/main.tf"}})
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := gh.ListTree("clustro/req-2")
	for _, p := range tree {
		if p == "modules/cnpg-database/main.tf" {
			t.Error("deleted file still in the tree")
		}
	}
	if files, _ := c.ChangedFiles(ctx, del.Number); len(files) != 1 || files[0].Status != "removed" {
		t.Errorf("deletion files %+v", files)
	}
}

func TestUpsertCommentEditsInPlace(t *testing.T) {
	gh, c := emulator(t)
	ctx := context.Background()
	pr, err := c.OpenPR(ctx, Change{Branch: "b", Title: "t", Message: "m", Files: map[string][]byte{"x": []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpsertComment(ctx, pr.Number, "plan:databases/prod/billing/ledger", "Plan: 1 to add"); err != nil {
		t.Fatal(err)
	}
	if err := c.Comment(ctx, pr.Number, "a human says hi"); err != nil {
		t.Fatal(err)
	}
	if err := c.UpsertComment(ctx, pr.Number, "plan:databases/prod/billing/ledger", "Plan: 2 to add"); err != nil {
		t.Fatal(err)
	}
	if err := c.UpsertComment(ctx, pr.Number, "plan:databases/prod/billing/other", "Plan: 3 to add"); err != nil {
		t.Fatal(err)
	}
	comments := gh.Comments(pr.Number)
	if len(comments) != 3 {
		t.Fatalf("%d comments, want 3 (one per workspace, edited in place, and the human's)", len(comments))
	}
	if !strings.HasSuffix(comments[0].GetBody(), "Plan: 2 to add") {
		t.Errorf("first comment %q was not edited in place", comments[0].GetBody())
	}
	// A 200 KB plan still fits in one comment.
	big := strings.Repeat("  + line of a very long plan\n", 8000) + "Plan: 9 to add"
	if err := c.UpsertComment(ctx, pr.Number, "plan:databases/prod/billing/ledger", big); err != nil {
		t.Fatalf("a 200 KB comment: %v", err)
	}
	if body := gh.Comments(pr.Number)[0].GetBody(); !strings.HasSuffix(body, "Plan: 9 to add") || len(body) > MaxCommentBytes {
		t.Errorf("fitted comment: %d bytes, ends %q", len(body), body[len(body)-20:])
	}
}

func TestStatusAndCheckout(t *testing.T) {
	gh, c := emulator(t)
	ctx := context.Background()
	pr, err := c.OpenPR(ctx, Change{Branch: "b", Title: "t", Message: "m", Files: map[string][]byte{"databases/dev/t/x/main.tf": []byte("# x\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, pr.HeadSHA, StatusSuccess, strings.Repeat("d", 200), ""); err != nil {
		t.Fatal(err)
	}
	sts := gh.Statuses(pr.HeadSHA)
	if len(sts) != 1 || sts[0].GetContext() != StatusContext || sts[0].GetState() != "success" || len(sts[0].GetDescription()) > 140 {
		t.Errorf("statuses %+v", sts)
	}
	dir := filepath.Join(t.TempDir(), "checkout")
	if err := c.Checkout(ctx, pr.HeadSHA, dir); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"databases/dev/t/x/main.tf": "# x\n", "README.md": "infra\n", "modules/cnpg-database/main.tf": "# module\n"} {
		got, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", path, got, err)
		}
	}
}

func TestNewClientRefuses(t *testing.T) {
	for _, o := range []Options{
		{Repo: "no-slash", Auth: Auth{Token: "x"}},
		{Repo: "a/b/c", Auth: Auth{Token: "x"}},
		{Repo: "a/b"},
	} {
		if _, err := NewClient(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestGitHubAppAuth: the client authenticates as a GitHub App installation
// (ghinstallation), as the emulator checks GitHub does.
func TestGitHubAppAuth(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(keyFile, pemKey, 0o600)
	gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra", Files: map[string][]byte{"README.md": []byte("x")},
		App: &githubtest.AppOptions{ID: 42, InstallationID: 7, PrivateKeyPEM: pemKey}})
	c, err := NewClient(Options{APIURL: gh.URL() + "/", Repo: "acme/infra", Auth: Auth{AppID: 42, InstallationID: 7, PrivateKeyFile: keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenPR(context.Background(), Change{Branch: "b", Title: "t", Message: "m", Files: map[string][]byte{"f": []byte("1")}}); err != nil {
		t.Fatalf("open PR as an App: %v", err)
	}
}

// TestUpsertCommentIgnoresForgedMarkers: a comment someone else tagged with
// the plan marker is not taken over; ClustroPG writes its own.
func TestUpsertCommentIgnoresForgedMarkers(t *testing.T) {
	gh, c := emulator(t)
	ctx := context.Background()
	pr, err := c.OpenPR(ctx, Change{Branch: "b", Title: "t", Message: "m", Files: map[string][]byte{"x": []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gh.Comment(pr.Number, "mallory", "<!-- clustro:plan:ws -->\nPlan: 0 to add (trust me)"); err != nil {
		t.Fatal(err)
	}
	if err := c.UpsertComment(ctx, pr.Number, "plan:ws", "Plan: 1 to add"); err != nil {
		t.Fatal(err)
	}
	comments := gh.Comments(pr.Number)
	if len(comments) != 2 || !strings.Contains(comments[0].GetBody(), "trust me") || !strings.HasSuffix(comments[1].GetBody(), "Plan: 1 to add") {
		for _, cm := range comments {
			t.Logf("%s: %q", cm.GetUser().GetLogin(), cm.GetBody())
		}
		t.Error("the forged comment was edited instead of a comment of ClustroPG's own")
	}
}
