package githubtest_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestGitDataErrors checks the Git Data API answers mistakes as GitHub does.
func TestGitDataErrors(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{})
	c := gh.Client()
	o, r := gh.Owner(), gh.Repo()
	main, err := gh.Resolve("main")
	if err != nil {
		t.Fatal(err)
	}
	side := commitBranch(t, c, gh, "main", "side", map[string]*string{"x.txt": github.String("x\n")})
	// A commit that is not a descendant of side, for non-fast-forward updates.
	other := commitBranch(t, c, gh, "main", "other", map[string]*string{"y.txt": github.String("y\n")})

	tests := []struct {
		name        string
		call        func() error
		wantStatus  int
		wantMessage string
	}{
		{
			name:        "get unknown ref",
			call:        func() error { _, _, err := c.Git.GetRef(ctx, o, r, "heads/nope"); return err },
			wantStatus:  http.StatusNotFound,
			wantMessage: "Not Found",
		},
		{
			name: "create existing ref",
			call: func() error {
				_, _, err := c.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/side"), Object: &github.GitObject{SHA: github.String(main)}})
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Reference already exists",
		},
		{
			name: "create ref to unknown object",
			call: func() error {
				_, _, err := c.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/new"), Object: &github.GitObject{SHA: github.String("1234567890123456789012345678901234567890")}})
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Object does not exist",
		},
		{
			name: "update without fast-forward",
			call: func() error {
				_, _, err := c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/side"), Object: &github.GitObject{SHA: github.String(other)}}, false)
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Update is not a fast forward",
		},
		{
			name: "update unknown ref",
			call: func() error {
				_, _, err := c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/nope"), Object: &github.GitObject{SHA: github.String(main)}}, true)
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Reference does not exist",
		},
		{
			name: "create a ref where a directory of refs is",
			call: func() error {
				_, _, err := c.Git.CreateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/side/x"), Object: &github.GitObject{SHA: github.String(main)}})
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Reference update failed",
		},
		{
			name:        "delete unknown ref",
			call:        func() error { _, err := c.Git.DeleteRef(ctx, o, r, "heads/nope"); return err },
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Reference does not exist",
		},
		{
			name: "commit with an unknown tree",
			call: func() error {
				_, _, err := c.Git.CreateCommit(ctx, o, r, &github.Commit{Message: github.String("m"), Tree: &github.Tree{SHA: github.String(main)}}, nil)
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Tree SHA does not exist",
		},
		{
			name: "tree entry with an unknown blob",
			call: func() error {
				_, _, err := c.Git.CreateTree(ctx, o, r, main, []*github.TreeEntry{{Path: github.String("a"), Mode: github.String("100644"), Type: github.String("blob"), SHA: github.String(main)}})
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Validation Failed",
		},
		{
			name: "tree entry with a bad path",
			call: func() error {
				_, _, err := c.Git.CreateTree(ctx, o, r, main, []*github.TreeEntry{{Path: github.String("../a"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("x")}})
				return err
			},
			wantStatus:  http.StatusUnprocessableEntity,
			wantMessage: "Validation Failed",
		},
		{
			name:        "unknown blob",
			call:        func() error { _, _, err := c.Git.GetBlob(ctx, o, r, side); return err },
			wantStatus:  http.StatusNotFound,
			wantMessage: "Not Found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := apiStatus(err); got != tt.wantStatus {
				t.Fatalf("status = %d (%v), want %d", got, err, tt.wantStatus)
			}
			var er *github.ErrorResponse
			if !errors.As(err, &er) || er.Message != tt.wantMessage || er.DocumentationURL == "" {
				t.Errorf("error = %+v, want message %q and a documentation_url", er, tt.wantMessage)
			}
		})
	}
}

// TestRefUpdates moves, force-moves and deletes refs.
func TestRefUpdates(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{})
	c := gh.Client()
	o, r := gh.Owner(), gh.Repo()
	main, _ := gh.Resolve("main")
	side := commitBranch(t, c, gh, "main", "side", map[string]*string{"x.txt": github.String("x\n")})

	// Fast-forward main to side, then force it back.
	ref, _, err := c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: github.String(side)}}, false)
	if err != nil || ref.GetObject().GetSHA() != side {
		t.Fatalf("fast-forward = %v, %v", ref, err)
	}
	if _, _, err := c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String("heads/main"), Object: &github.GitObject{SHA: github.String(main)}}, true); err != nil {
		t.Fatalf("force update: %v", err)
	}
	if got, _ := gh.Resolve("main"); got != main {
		t.Errorf("main = %s, want %s", got, main)
	}
	if _, err := c.Git.DeleteRef(ctx, o, r, "heads/side"); err != nil {
		t.Fatalf("DeleteRef: %v", err)
	}
	if _, _, err := c.Git.GetRef(ctx, o, r, "heads/side"); apiStatus(err) != http.StatusNotFound {
		t.Errorf("deleted ref: %v, want 404", err)
	}
}

// TestTreesAndBlobs builds nested trees from blobs, content and deletions,
// and reads them back.
func TestTreesAndBlobs(t *testing.T) {
	ctx := context.Background()
	gh := githubtest.NewT(t, githubtest.Options{Files: map[string][]byte{
		"keep.txt":         []byte("keep\n"),
		"dir/gone.txt":     []byte("gone\n"),
		"dir/sub/also.txt": []byte("also\n"),
	}})
	c := gh.Client()
	o, r := gh.Owner(), gh.Repo()

	blob, _, err := c.Git.CreateBlob(ctx, o, r, &github.Blob{Content: github.String("AAEC"), Encoding: github.String("base64")})
	if err != nil {
		t.Fatalf("CreateBlob: %v", err)
	}
	raw, _, err := c.Git.GetBlobRaw(ctx, o, r, blob.GetSHA())
	if err != nil || string(raw) != "\x00\x01\x02" {
		t.Errorf("GetBlobRaw = %q, %v", raw, err)
	}
	b, _, err := c.Git.GetBlob(ctx, o, r, blob.GetSHA())
	if err != nil || b.GetContent() != "AAEC\n" || b.GetEncoding() != "base64" || b.GetSize() != 3 {
		t.Errorf("GetBlob = %+v, %v", b, err)
	}

	main, _ := gh.Resolve("main")
	tree, _, err := c.Git.CreateTree(ctx, o, r, main, []*github.TreeEntry{
		{Path: github.String("bin/data"), Mode: github.String("100755"), Type: github.String("blob"), SHA: blob.SHA},
		{Path: github.String("dir/new.txt"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("new\n")},
		{Path: github.String("dir/gone.txt"), Mode: github.String("100644"), Type: github.String("blob")}, // sha null: delete
		{Path: github.String("dir/sub"), Mode: github.String("040000"), Type: github.String("tree")},      // a directory, deleted
	})
	if err != nil {
		t.Fatalf("CreateTree: %v", err)
	}
	full, _, err := c.Git.GetTree(ctx, o, r, tree.GetSHA(), true)
	if err != nil {
		t.Fatalf("GetTree: %v", err)
	}
	var paths []string
	for _, e := range full.Entries {
		paths = append(paths, e.GetType()+" "+e.GetMode()+" "+e.GetPath())
	}
	want := []string{"tree 040000 bin", "blob 100755 bin/data", "tree 040000 dir", "blob 100644 dir/new.txt", "blob 100644 keep.txt"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("tree = %v, want %v", paths, want)
	}
	top, _, err := c.Git.GetTree(ctx, o, r, tree.GetSHA(), false)
	if err != nil || len(top.Entries) != 3 {
		t.Errorf("GetTree(not recursive) = %d entries, %v", len(top.Entries), err)
	}

	commit, _, err := c.Git.CreateCommit(ctx, o, r, &github.Commit{
		Message: github.String("Rework\n\nBody."),
		Tree:    &github.Tree{SHA: tree.SHA},
		Parents: []*github.Commit{{SHA: github.String(main)}},
		Author:  &github.CommitAuthor{Name: github.String("Ada"), Email: github.String("ada@example.com")},
	}, nil)
	if err != nil {
		t.Fatalf("CreateCommit: %v", err)
	}
	read, _, err := c.Git.GetCommit(ctx, o, r, commit.GetSHA())
	if err != nil {
		t.Fatalf("GetCommit: %v", err)
	}
	if read.GetAuthor().GetName() != "Ada" || read.GetCommitter().GetEmail() != "ada@example.com" || read.GetTree().GetSHA() != tree.GetSHA() ||
		len(read.Parents) != 1 || read.Parents[0].GetSHA() != main || read.GetMessage() != "Rework\n\nBody." {
		t.Errorf("GetCommit = %+v", read)
	}
}
