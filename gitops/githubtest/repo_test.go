package githubtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestRealRepository checks the emulator's repository is an ordinary git
// repository: git itself clones it and sees the merge.
func TestRealRepository(t *testing.T) {
	gh := githubtest.NewT(t, githubtest.Options{Files: map[string][]byte{"README.md": []byte("# infra\n")}})
	c := gh.Client()
	commitBranch(t, c, gh, "main", "feature", map[string]*string{"db/main.tf": github.String("instances = 2\n")})
	openPull(t, c, gh, "feature")
	if _, _, err := c.PullRequests.Merge(context.Background(), gh.Owner(), gh.Repo(), 1, "", nil); err != nil {
		t.Fatal(err)
	}

	work := filepath.Join(t.TempDir(), "clone")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("clone", "--quiet", gh.GitDir(), work)
	git("-C", work, "fsck", "--strict", "--no-progress")
	if got := git("-C", work, "log", "--merges", "--format=%P", "-1"); len(strings.Fields(got)) != 2 {
		t.Errorf("merge commit parents = %q, want two", got)
	}
	data, err := os.ReadFile(filepath.Join(work, "db", "main.tf"))
	if err != nil || string(data) != "instances = 2\n" {
		t.Errorf("db/main.tf in the clone = %q, %v", data, err)
	}
}
