package terraform

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCopyWorkspace(t *testing.T) {
	const (
		callsM  = "module \"m\" {\n  source = \"../../modules/m\"\n}\n"
		mCalls  = "module \"sub\" {\n  source = \"./sub\"\n}\nmodule \"shared\" {\n  source = \"../shared\"\n}\nmodule \"remote\" {\n  source = \"git::https://example.com/x.git\"\n}\n"
		leaf    = "resource \"terraform_data\" \"x\" {}\n"
		jsonM   = `{"module": {"m": {"source": "../../modules/m"}}}`
		escapes = "module \"m\" {\n  source = \"../../../outside\"\n}\n"
		dynamic = "module \"m\" {\n  source = \"${path.module}/m\"\n}\n"
		missing = "module \"m\" {\n  source = \"../../modules/none\"\n}\n"
	)
	tests := []struct {
		name    string
		files   map[string]string // repository files by path
		links   map[string]string // symlinks by path, to their targets
		want    []string          // the files copied
		wantErr string
	}{
		{
			name: "the workspace and the modules it calls, nothing else",
			files: map[string]string{
				"databases/x/main.tf":                callsM,
				"databases/x/.terraform/cache":       "local cache",
				"databases/y/main.tf":                leaf,
				"modules/m/main.tf":                  mCalls,
				"modules/m/sub/main.tf":              leaf,
				"modules/m/templates/cluster.yaml":   "kind: Cluster",
				"modules/shared/main.tf":             leaf,
				"modules/unused/main.tf":             leaf,
				"databases/x/.terraform.lock.hcl":    "# lock",
				"databases/x/catalog-info.yaml":      "kind: Resource",
				"databases/x/nested/readme.md":       "notes",
				"databases/x/nested/.git/HEAD":       "ref",
				"modules/m/sub/.terraform/providers": "local cache",
			},
			want: []string{
				"databases/x/.terraform.lock.hcl",
				"databases/x/catalog-info.yaml",
				"databases/x/main.tf",
				"databases/x/nested/readme.md",
				"modules/m/main.tf",
				"modules/m/sub/main.tf",
				"modules/m/templates/cluster.yaml",
				"modules/shared/main.tf",
			},
		},
		{
			name:  "JSON configuration",
			files: map[string]string{"databases/x/main.tf.json": jsonM, "modules/m/main.tf": leaf},
			want:  []string{"databases/x/main.tf.json", "modules/m/main.tf"},
		},
		{
			name:    "symlinked file",
			files:   map[string]string{"databases/x/main.tf": leaf},
			links:   map[string]string{"databases/x/passwd.tf": "/etc/passwd"},
			wantErr: "symlink",
		},
		{
			name:    "symlinked workspace directory",
			files:   map[string]string{"elsewhere/x/main.tf": leaf},
			links:   map[string]string{"databases": "elsewhere"},
			wantErr: "databases is a symlink",
		},
		{
			name:    "symlinked module directory",
			files:   map[string]string{"databases/x/main.tf": callsM, "real/main.tf": leaf, "modules/.keep": ""},
			links:   map[string]string{"modules/m": "../real"},
			wantErr: "modules/m is a symlink",
		},
		{
			name:    "module outside the repository",
			files:   map[string]string{"databases/x/main.tf": escapes},
			wantErr: "outside the repository",
		},
		{
			name:    "module source not a literal",
			files:   map[string]string{"databases/x/main.tf": dynamic},
			wantErr: "not a literal string",
		},
		{
			name:    "missing module",
			files:   map[string]string{"databases/x/main.tf": missing},
			wantErr: "modules/none",
		},
		{
			name:    "unparsable configuration",
			files:   map[string]string{"databases/x/main.tf": "module {"},
			wantErr: "parse databases/x/main.tf",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range tt.files {
				writeFile(t, filepath.Join(root, p), content)
			}
			for p, target := range tt.links {
				if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
					t.Fatal(err)
				}
			}
			dst := filepath.Join(t.TempDir(), "tree")

			err := copyWorkspace(root, "databases/x", dst)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("copyWorkspace: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("copyWorkspace: %v", err)
			}
			var got []string
			err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dst, p)
					got = append(got, filepath.ToSlash(rel))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("copied %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkspaceCheck(t *testing.T) {
	tests := []struct {
		ws      Workspace
		wantDir string // "" when refused
	}{
		{Workspace{Root: "/repo", Dir: "databases/prod/billing/ledger"}, "databases/prod/billing/ledger"},
		{Workspace{Root: "/repo", Dir: "databases/prod/billing/ledger/"}, "databases/prod/billing/ledger"},
		{Workspace{Root: "/repo", Dir: "databases/./prod"}, "databases/prod"},
		{Workspace{Root: "", Dir: "databases/prod"}, ""},
		{Workspace{Root: "/repo", Dir: ""}, ""},
		{Workspace{Root: "/repo", Dir: "."}, ""},
		{Workspace{Root: "/repo", Dir: "../outside"}, ""},
		{Workspace{Root: "/repo", Dir: "databases/../../outside"}, ""},
		{Workspace{Root: "/repo", Dir: "/etc"}, ""},
	}
	for _, tt := range tests {
		got, err := tt.ws.check()
		switch {
		case tt.wantDir == "" && err == nil:
			t.Errorf("check(%+v): accepted as %q", tt.ws, got.Dir)
		case tt.wantDir != "" && (err != nil || got.Dir != tt.wantDir):
			t.Errorf("check(%+v) = %q, %v; want %q", tt.ws, got.Dir, err, tt.wantDir)
		}
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
