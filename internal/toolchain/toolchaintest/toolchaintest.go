// Package toolchaintest finds, for a test, the offline toolchain `make
// tools` builds, by package toolchain's rules. A missing tool fails the
// test with instructions; it is never skipped.
package toolchaintest

import (
	"os"
	"testing"

	"github.com/clustropg/clustro/internal/toolchain"
)

// Dir is the toolchain directory: CLUSTRO_TOOLS, or .tools in the repo.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := toolchain.Dir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Terraform returns the terraform (or OpenTofu) binary and the CLI config
// that installs the kubectl provider from the offline mirror. It fails the
// test, saying how to get them, when either is missing.
func Terraform(t testing.TB) (bin, cliConfig string) {
	t.Helper()
	bin, err := toolchain.Terraform(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cliConfig, err = toolchain.CLIConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
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
