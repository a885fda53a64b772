// Package testutil holds helpers shared by ClustroPG's tests: locating the
// repository and the offline toolchain `make tools` builds. A missing tool
// fails the test with instructions; it is never skipped.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("find repo root: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("find repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// ToolsDir is the toolchain directory: CLUSTRO_TOOLS, or .tools in the repo.
func ToolsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CLUSTRO_TOOLS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(t), ".tools")
}

// Terraform returns the terraform (or OpenTofu) binary and the CLI config
// that installs the kubectl provider from the offline mirror. It fails the
// test, saying how to get them, when either is missing.
func Terraform(t testing.TB) (bin, cliConfig string) {
	t.Helper()
	bin = os.Getenv("CLUSTRO_TERRAFORM")
	for _, name := range []string{"terraform", "tofu"} {
		if bin != "" {
			break
		}
		bin, _ = exec.LookPath(name)
	}
	if bin == "" {
		if p := filepath.Join(ToolsDir(t), "bin", "tofu"); fileExists(p) {
			bin = p
		}
	}
	if bin == "" {
		t.Fatal("no terraform or tofu binary: run `make tools` (it builds OpenTofu when terraform is not on PATH) or set CLUSTRO_TERRAFORM")
	}
	cliConfig = filepath.Join(ToolsDir(t), "terraformrc")
	if !fileExists(cliConfig) {
		t.Fatalf("%s is missing: run `make tools` to build the kubectl provider mirror and its CLI config", cliConfig)
	}
	return bin, cliConfig
}

// TerraformEnv is a minimal environment for running terraform offline.
func TerraformEnv(t testing.TB, cliConfig string, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TF_CLI_CONFIG_FILE=" + cliConfig,
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
	}, extra...)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
