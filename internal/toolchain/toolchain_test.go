package toolchain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env is a getenv over a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// write creates a file, and its directories, with the given mode.
func write(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRepoRoot: the root is the nearest go.mod of this module above the
// working directory; another module's go.mod does not count.
func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "toolchain", "toolchain.go")); err != nil {
		t.Errorf("RepoRoot() = %s, which does not hold this package: %v", root, err)
	}

	other := t.TempDir()
	write(t, filepath.Join(other, "go.mod"), "module example.com/other\n", 0o644)
	t.Chdir(other)
	if got, err := RepoRoot(); !errors.Is(err, ErrNoRepository) {
		t.Errorf("RepoRoot() in another module = %q, %v; want ErrNoRepository", got, err)
	}
	if _, err := Dir(env(nil)); err == nil || !strings.Contains(err.Error(), "set CLUSTRO_TOOLS") {
		t.Errorf("Dir outside the repository: %v; want an error naming CLUSTRO_TOOLS", err)
	}

	sub := filepath.Join(t.TempDir(), "a", "b")
	mod := write(t, filepath.Join(filepath.Dir(filepath.Dir(sub)), "go.mod"), "// a copy\nmodule "+ModulePath+"\n\ngo 1.26\n", 0o644)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	got, err := RepoRoot()
	if err != nil || !sameFile(t, got, filepath.Dir(mod)) {
		t.Errorf("RepoRoot() two levels down = %q, %v; want %s", got, err, filepath.Dir(mod))
	}
	if tools, _ := Dir(env(nil)); tools != filepath.Join(got, ".tools") {
		t.Errorf("Dir() = %s; want .tools in %s", tools, got)
	}
	if got, _ := Dir(env(map[string]string{EnvTools: "/opt/tools"})); got != "/opt/tools" {
		t.Errorf("Dir() with CLUSTRO_TOOLS = %s", got)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// TestCLIConfig: TF_CLI_CONFIG_FILE when it names a file, else the
// toolchain's terraformrc; neither is an error saying what to run.
func TestCLIConfig(t *testing.T) {
	tools := t.TempDir()
	own := filepath.Join(tools, "terraformrc")
	elsewhere := write(t, filepath.Join(t.TempDir(), "custom.tfrc"), "", 0o644)
	missing := filepath.Join(t.TempDir(), "missing.tfrc")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		hasOwn  bool
		want    string
		wantErr string
	}{
		{"the variable names a file", map[string]string{EnvTools: tools, EnvCLIConfig: elsewhere}, true, elsewhere, ""},
		{"the variable names nothing there", map[string]string{EnvTools: tools, EnvCLIConfig: missing}, true, own, ""},
		{"no variable", map[string]string{EnvTools: tools}, true, own, ""},
		{"nothing built", map[string]string{EnvTools: tools, EnvCLIConfig: missing}, false, "", "looked for " + missing + " and " + own + "): run `make tools`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(own)
			if tc.hasOwn {
				write(t, own, "", 0o644)
			}
			got, err := CLIConfig(env(tc.env))
			if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("CLIConfig() = %q, %v; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestTerraform: CLUSTRO_TERRAFORM, else terraform or tofu on PATH, else
// the toolchain's tofu.
func TestTerraform(t *testing.T) {
	onPath := t.TempDir()
	tools := t.TempDir()
	script := "#!/bin/sh\nexit 0\n"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		path    []string // executables on PATH
		built   bool     // the toolchain's bin/tofu
		want    string
		wantErr string
	}{
		{"the variable wins", map[string]string{EnvTerraform: "/usr/local/bin/tf", EnvTools: tools}, []string{"terraform"}, true, "/usr/local/bin/tf", ""},
		{"terraform on PATH", map[string]string{EnvTools: tools}, []string{"terraform", "tofu"}, true, filepath.Join(onPath, "terraform"), ""},
		{"tofu on PATH", map[string]string{EnvTools: tools}, []string{"tofu"}, true, filepath.Join(onPath, "tofu"), ""},
		{"the toolchain's tofu", map[string]string{EnvTools: tools}, nil, true, filepath.Join(tools, "bin", "tofu"), ""},
		{"none", map[string]string{EnvTools: tools}, nil, false, "", "run `make tools` (it builds OpenTofu)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []string{"terraform", "tofu"} {
				os.Remove(filepath.Join(onPath, n))
			}
			for _, n := range tc.path {
				write(t, filepath.Join(onPath, n), script, 0o755)
			}
			os.RemoveAll(filepath.Join(tools, "bin"))
			if tc.built {
				write(t, filepath.Join(tools, "bin", "tofu"), script, 0o755)
			}
			t.Setenv("PATH", onPath)
			got, err := Terraform(env(tc.env))
			if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Terraform() = %q, %v; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
