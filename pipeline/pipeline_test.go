package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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

// TestChangedOutside: the apply's check of what a merge changed.
func TestChangedOutside(t *testing.T) {
	write := func(root string, files map[string]string) {
		for p, c := range files {
			full := filepath.Join(root, filepath.FromSlash(p))
			os.MkdirAll(filepath.Dir(full), 0o755)
			os.WriteFile(full, []byte(c), 0o644)
		}
	}
	before, after := t.TempDir(), t.TempDir()
	const ws = "databases/dev/t/x"
	write(before, map[string]string{"modules/m/main.tf": "a", "README.md": "r", "databases/dev/t/y/main.tf": "y"})
	write(after, map[string]string{"modules/m/main.tf": "b", "README.md": "r", ws + "/main.tf": "x", ws + "/catalog-info.yaml": "c", "new.tf": "n"})
	got, err := changedOutside(before, after, ws)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"databases/dev/t/y/main.tf", "modules/m/main.tf", "new.tf"}
	if !slices.Equal(got, want) {
		t.Errorf("changed outside = %v, want %v (the workspace's own files are allowed)", got, want)
	}
}
