package gitops

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestBootstrap(t *testing.T) {
	gh, c := emulator(t) // main holds README.md and modules/cnpg-database/main.tf ("# module")
	ctx := context.Background()
	files := map[string][]byte{"main.tf": []byte("# module v2\n"), "platform.tf": []byte("locals {}\n"), "README.md": []byte("# cnpg-database\n")}
	extra := map[string][]byte{"README.md": []byte("# generated\n"), "CODEOWNERS": []byte("* @platform\n")}

	res, err := c.Bootstrap(ctx, "modules/cnpg-database", files, extra)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CODEOWNERS", "modules/cnpg-database/README.md", "modules/cnpg-database/main.tf", "modules/cnpg-database/platform.tf"}
	if !slices.Equal(res.Changed, want) || res.PR.Number == 0 {
		t.Fatalf("changed %v (PR %+v), want %v: the repository's own README is kept", res.Changed, res.PR, want)
	}
	pr, _ := gh.PullRequest(res.PR.Number)
	if !strings.HasPrefix(pr.GetHead().GetRef(), "clustro/bootstrap-") || !strings.Contains(pr.GetBody(), "platform.tf") {
		t.Errorf("PR %s: %s", pr.GetHead().GetRef(), pr.GetBody())
	}
	// Running it again before the merge finds the same pull request.
	again, err := c.Bootstrap(ctx, "modules/cnpg-database", files, extra)
	if err != nil || again.PR.Number != res.PR.Number {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	if _, err := gh.Merge(res.PR.Number, "platform"); err != nil {
		t.Fatal(err)
	}
	upToDate, err := c.Bootstrap(ctx, "modules/cnpg-database", files, extra)
	if err != nil || upToDate.PR.Number != 0 || len(upToDate.Changed) != 0 {
		t.Fatalf("after the merge: %+v, %v; want nothing to do", upToDate, err)
	}
	// A new sizing table and a file the module no longer has: one PR updates and deletes.
	if _, err := gh.PushCommit("main", map[string][]byte{"modules/cnpg-database/old.tf": []byte("# stale\n")}, nil, "stale file"); err != nil {
		t.Fatal(err)
	}
	files["platform.tf"] = []byte("locals { sizes = {} }\n")
	upd, err := c.Bootstrap(ctx, "modules/cnpg-database", files, extra)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(upd.Changed, []string{"modules/cnpg-database/old.tf", "modules/cnpg-database/platform.tf"}) {
		t.Errorf("update changed %v", upd.Changed)
	}
	if tree, _ := gh.ListTree(upd.PR.Branch); slices.Contains(tree, "modules/cnpg-database/old.tf") {
		t.Error("the stale module file is still on the bootstrap branch")
	}
}

// TestBaseBranch: pull requests go to the configured base branch.
func TestBaseBranch(t *testing.T) {
	gh := emulatorOn(t, "trunk")
	c, err := NewClient(Options{APIURL: gh.URL() + "/", Repo: "acme/infra", BaseBranch: "trunk", Auth: Auth{Token: gh.Token()}})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := c.OpenPR(context.Background(), Change{Branch: "clustro/x", Title: "t", Message: "m", Files: map[string][]byte{"f": []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := gh.PullRequest(pr.Number)
	if got.GetBase().GetRef() != "trunk" {
		t.Errorf("base %q, want trunk", got.GetBase().GetRef())
	}
}
