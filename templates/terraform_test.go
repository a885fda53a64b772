package templates_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clustropg/clustro/internal/toolchain/toolchaintest"
	"github.com/clustropg/clustro/templates"
)

// TestTerraformValidate runs the real terraform (or OpenTofu) on rendered
// output: fmt -check on every file, then init (the kubectl provider from the
// offline mirror `make tools` builds) and validate of each workspace with
// the module next to it, as in the infra repo.
func TestTerraformValidate(t *testing.T) {
	bin, cliConfig := toolchaintest.Terraform(t)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := loadConfig(t, tc.config)
			_, ws := renderCase(t, cfg, tc.req)
			root := t.TempDir()
			write(t, root, ws.Dir, ws.Files)
			mod, err := cfg.Module()
			if err != nil {
				t.Fatal(err)
			}
			write(t, root, templates.ModuleDir, mod)
			env := toolchaintest.TerraformEnv(t, cliConfig)

			tf(t, bin, env, root, "fmt", "-check", "-recursive", "-diff")
			dir := filepath.Join(root, ws.Dir)
			if !strings.HasPrefix(cfg.Config().Terraform.ModuleSource, "../") {
				// A remote module source cannot be fetched offline: validate
				// the module with this config's platform.tf on its own.
				dir = filepath.Join(root, templates.ModuleDir)
			}
			tf(t, bin, env, dir, "init", "-backend=false", "-input=false", "-no-color")
			out := tf(t, bin, env, dir, "validate", "-no-color")
			if !strings.Contains(out, "The configuration is valid") {
				t.Fatalf("validate did not say the configuration is valid:\n%s", out)
			}
		})
	}
}

func write(t *testing.T, root, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(root, dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tf(t *testing.T, bin string, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}
