package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/terraform"
)

// TestFailureTextIsRedacted: failure reasons go to PR comments, Slack and
// the audit trail; configured secrets never do, whether they come from a
// terraform error's output or from any other error.
func TestFailureTextIsRedacted(t *testing.T) {
	p := &Pipeline{cfg: Config{Secrets: []string{"s3cr3t-token", "", "hook-secret"}}}
	tfErr := &terraform.Error{Command: "apply", Output: "Error: unauthorized with s3cr3t-token\n", Err: errors.New("exit status 1")}
	for _, err := range []error{tfErr, errors.New("GET https://x/?token=s3cr3t-token&k=hook-secret: 502")} {
		got := p.excerpt(err)
		if strings.Contains(got, "s3cr3t-token") || strings.Contains(got, "hook-secret") || !strings.Contains(got, "[redacted]") {
			t.Errorf("excerpt %q", got)
		}
	}
	long := errors.New(strings.Repeat("x", 5000) + " the cause")
	if got := p.excerpt(long); len(got) > 2100 || !strings.HasSuffix(got, "the cause") {
		t.Errorf("a long error should keep its end: %d bytes", len(got))
	}
}

// TestChangedOutside: the apply's check of what a merge commit changed,
// file by file, a chunk at a time.
func TestChangedOutside(t *testing.T) {
	write := func(root string, files map[string][]byte) {
		for p, c := range files {
			full := filepath.Join(root, filepath.FromSlash(p))
			os.MkdirAll(filepath.Dir(full), 0o755)
			os.WriteFile(full, c, 0o644)
		}
	}
	const ws = "databases/dev/t/x"
	// Larger than a chunk, and different only in its last byte.
	big := bytes.Repeat([]byte("# a module line\n"), 10_000)
	bigEdited := append(bytes.Clone(big[:len(big)-1]), '!')
	before, after := t.TempDir(), t.TempDir()
	write(before, map[string][]byte{
		"modules/m/main.tf": []byte("a"), "modules/m/big.tf": big, "modules/m/same.tf": big, "README.md": []byte("r"),
		"databases/dev/t/y/main.tf": []byte("y"), "databases/dev/t/x/main.tf": []byte("old"),
	})
	write(after, map[string][]byte{
		"modules/m/main.tf": []byte("b"), "modules/m/big.tf": bigEdited, "modules/m/same.tf": big, "README.md": []byte("r"),
		ws + "/main.tf": []byte("x"), ws + "/catalog-info.yaml": []byte("c"), ws + "/sub/extra.tf": []byte("e"), "new.tf": []byte("n"),
	})
	got, err := changedOutside(before, after, ws)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"databases/dev/t/x/sub/extra.tf", "databases/dev/t/y/main.tf", "modules/m/big.tf", "modules/m/main.tf", "new.tf"}
	if !slices.Equal(got, want) {
		t.Errorf("changed outside = %v\nwant %v (the workspace's own files are allowed, not its subdirectories)", got, want)
	}
}

// TestMergedOutside: what the apply refuses, after a pull request is merged
// by each of GitHub's merge methods. The base branch moves on meanwhile
// (another pull request adds a module file and edits another workspace):
// that is not this pull request's change. A module change in an earlier
// commit must be found even when a rebase merge puts a workspace-only
// commit last, which comparing the merge commit with its parent missed.
func TestMergedOutside(t *testing.T) {
	const (
		ws     = "databases/dev/shop/orders"
		module = "modules/cnpg-database/main.tf"
	)
	evil := []byte("# module\ndata \"external\" \"x\" {\n  program = [\"sh\"]\n}\n")
	scenarios := []struct {
		name   string
		pushes []map[string][]byte // commits after ClustroPG's own
		want   []string
	}{
		{"workspace only, three commits", []map[string][]byte{{ws + "/main.tf": []byte("# orders, size M\n")}, {ws + "/catalog-info.yaml": []byte("kind: Resource # edited\n")}}, nil},
		{"the module in an earlier commit", []map[string][]byte{{module: evil}, {ws + "/main.tf": []byte("# orders, size M\n")}}, []string{module}},
		{"another workspace in the last commit", []map[string][]byte{{ws + "/main.tf": []byte("# orders, size M\n")}, {"databases/prod/shop/orders/main.tf": []byte("# prod\n")}}, []string{"databases/prod/shop/orders/main.tf"}},
		// Nothing outside lands: the merged tree has the module as it was.
		{"the module changed and changed back", []map[string][]byte{{module: evil}, {module: []byte("# module\n")}}, nil},
	}
	for _, method := range []string{"merge", "squash", "rebase"} {
		for _, sc := range scenarios {
			t.Run(method+"/"+sc.name, func(t *testing.T) {
				p, gh, pl := mergedPR(t, githubtest.Options{}, method, sc.pushes)
				got, err := p.checkMerge(t, pl)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, sc.want) {
					t.Errorf("outside = %v, want %v", got, sc.want)
				}
				if log, _ := gh.Log("main"); method == "rebase" && len(log) < len(sc.pushes)+3 {
					t.Errorf("the rebase wrote %d commits on main", len(log))
				}
			})
		}
	}
}

// TestMergeCommitHoldingMore: a merge commit (two parents) whose tree holds
// a change the pull request does not, as a merge pushed by hand could, is
// refused: its tree is compared with the base branch before it.
func TestMergeCommitHoldingMore(t *testing.T) {
	p, _, pl := mergedPR(t, githubtest.Options{}, "merge", nil)
	got, err := p.checkMerge(t, pl, func(root string) {
		os.WriteFile(filepath.Join(root, "modules", "cnpg-database", "main.tf"), []byte("# evil\n"), 0o644)
		os.WriteFile(filepath.Join(root, "extra.tf"), []byte("# extra\n"), 0o644)
	})
	if want := []string{"extra.tf", "modules/cnpg-database/main.tf"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("outside = %v, %v; want %v", got, err, want)
	}
}

// TestMergedOutsideCannotCheck: a merge the apply cannot check is refused,
// permanently: GitHub listing fewer files than the pull request changed
// (it lists at most 3000), or a merge commit that is not the pull
// request's.
func TestMergedOutsideCannotCheck(t *testing.T) {
	pushes := []map[string][]byte{{"modules/cnpg-database/main.tf": []byte("# evil\n")}, {"databases/dev/shop/orders/catalog-info.yaml": []byte("kind: Resource\n")}}
	p, _, pl := mergedPR(t, githubtest.Options{PullFilesLimit: 2}, "rebase", pushes)
	_, err := p.checkMerge(t, pl)
	if !engine.IsPermanent(err) || !strings.Contains(err.Error(), "GitHub lists 2 of the 3 files pull request #1 changed, so they cannot all be checked") {
		t.Errorf("a cut file list: %v", err)
	}

	p, _, pl = mergedPR(t, githubtest.Options{}, "merge", nil)
	parents, err := p.github.Parents(context.Background(), pl.SHA)
	if err != nil {
		t.Fatal(err)
	}
	pl.SHA = parents[0]
	_, err = p.checkMerge(t, pl)
	if !engine.IsPermanent(err) || !strings.Contains(err.Error(), "pull request #1 was merged as") {
		t.Errorf("another commit than the merge: %v", err)
	}
}

// mergedPR opens a ClustroPG pull request for databases/dev/shop/orders on
// an emulator, pushes commits on it, moves the base branch on, and merges
// the pull request with method. It returns the apply job's payload.
func mergedPR(t *testing.T, o githubtest.Options, method string, pushes []map[string][]byte) (*Pipeline, *githubtest.Server, jobPayload) {
	t.Helper()
	ctx := context.Background()
	o.Owner, o.Repo = "acme", "infra"
	o.Files = map[string][]byte{"README.md": []byte("# infra\n"), "modules/cnpg-database/main.tf": []byte("# module\n"),
		"databases/dev/shop/other/main.tf": []byte("# other\n")}
	gh := githubtest.NewT(t, o)
	client, err := gitops.NewClient(gitops.Options{APIURL: gh.URL() + "/", Repo: "acme/infra", Auth: gitops.Auth{Token: gh.Token()}})
	if err != nil {
		t.Fatal(err)
	}
	const ws = "databases/dev/shop/orders"
	pr, err := client.OpenPR(ctx, gitops.Change{Branch: "clustro/r1", Title: "clustro: create database shop/orders (dev, S)", Message: "create orders",
		Files: map[string][]byte{ws + "/main.tf": []byte("# orders\n"), ws + "/catalog-info.yaml": []byte("kind: Resource\n")}})
	if err != nil {
		t.Fatal(err)
	}
	for i, files := range pushes {
		if _, err := gh.PushCommit(pr.Branch, files, nil, "push "+string(rune('1'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gh.PushCommit("main", map[string][]byte{"modules/cnpg-database/backup.tf": []byte("# backups\n"),
		"databases/dev/shop/other/main.tf": []byte("# other, size L\n")}, nil, "another pull request, reviewed"); err != nil {
		t.Fatal(err)
	}
	sha, err := gh.MergeWith(pr.Number, "reviewer", method)
	if err != nil {
		t.Fatal(err)
	}
	return &Pipeline{github: client, workdir: t.TempDir()}, gh, jobPayload{SHA: sha, PR: pr.Number, Dir: ws}
}

// checkMerge runs the apply's check on the merge of pl, on checkouts of
// the merge commit and its first parent, as apply does; edit, if any,
// changes the merge commit's checkout first.
func (p *Pipeline) checkMerge(t *testing.T, pl jobPayload, edit ...func(root string)) ([]string, error) {
	t.Helper()
	ctx := context.Background()
	parents, err := p.github.Parents(ctx, pl.SHA)
	if err != nil {
		t.Fatal(err)
	}
	root, clean, err := p.checkout(ctx, pl.SHA)
	if err != nil {
		t.Fatal(err)
	}
	defer clean()
	for _, e := range edit {
		e(root)
	}
	prev, cleanPrev, err := p.checkout(ctx, parents[0])
	if err != nil {
		t.Fatal(err)
	}
	defer cleanPrev()
	return p.mergedOutside(ctx, pl, parents, prev, root)
}

// TestReceiveStoresEachDeliveryOnce: the webhook's receiver stores a
// delivery as one job in its pull request's lane; GitHub's redelivery (same
// delivery and action) stores nothing more, another action of the same
// delivery is its own job.
func TestReceiveStoresEachDeliveryOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "clustro.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &Pipeline{store: st, wake: func() {}}
	ev := gitops.Event{Delivery: "d-1", Type: "pull_request", Action: "closed", PR: 7, Merged: true, MergeSHA: "abc"}
	first, dup, err := p.Receive(ctx, ev)
	if err != nil || dup {
		t.Fatalf("first delivery: %v, duplicate %v", err, dup)
	}
	again, dup, err := p.Receive(ctx, ev)
	if err != nil || !dup || again != first {
		t.Fatalf("redelivery: %v, duplicate %v, job %s (first %s)", err, dup, again, first)
	}
	ev.Action = "reopened"
	if _, dup, err := p.Receive(ctx, ev); err != nil || dup {
		t.Fatalf("another action: %v, duplicate %v", err, dup)
	}
	jobs, err := st.ListJobs(ctx, store.JobFilter{Kind: JobGitHubEvent})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Workspace != "github/pr/7" || !strings.Contains(string(jobs[0].Payload), `"mergeSha":"abc"`) {
		t.Errorf("jobs = %+v, want two in lane github/pr/7 carrying the event", jobs)
	}
}
