package toolchain

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the Go module whose go.mod marks the repository root.
const ModulePath = "github.com/clustropg/clustro"

// Environment variables that locate the toolchain.
const (
	// EnvTools is the toolchain directory; `make` exports it as .tools.
	EnvTools = "CLUSTRO_TOOLS"
	// EnvTerraform is the terraform (or tofu) binary to run.
	EnvTerraform = "CLUSTRO_TERRAFORM"
	// EnvCLIConfig is terraform's own variable for its CLI config.
	EnvCLIConfig = "TF_CLI_CONFIG_FILE"
)

// ErrNoRepository says the working directory is not inside the repository.
var ErrNoRepository = errors.New("not inside the ClustroPG repository (no go.mod of " + ModulePath + " above the working directory)")

// RepoRoot walks up from the working directory to the go.mod of ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRepository
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod at path declares ModulePath.
func declaresModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == ModulePath
		}
	}
	return false
}

// Dir is the toolchain directory: $CLUSTRO_TOOLS, else .tools in the
// repository. It is not checked: the callers say which tool is missing.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv(EnvTools); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("locate the toolchain: %w; set %s, or run from the repository after `make tools`", err, EnvTools)
	}
	return filepath.Join(root, ".tools"), nil
}

// BinDir is the toolchain's bin directory: etcd, kube-apiserver, tofu, helm.
func BinDir(getenv func(string) string) (string, error) {
	dir, err := Dir(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "bin"), nil
}

// Terraform is the terraform binary to run: $CLUSTRO_TERRAFORM, else
// terraform or tofu on PATH, else the toolchain's tofu.
func Terraform(getenv func(string) string) (string, error) {
	if bin := getenv(EnvTerraform); bin != "" {
		return bin, nil
	}
	for _, name := range []string{"terraform", "tofu"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin, nil
		}
	}
	bin, err := BinDir(getenv)
	if err != nil {
		return "", fmt.Errorf("no terraform or tofu on PATH, and %w", err)
	}
	tofu := filepath.Join(bin, "tofu")
	if !isFile(tofu) {
		return "", fmt.Errorf("no terraform or tofu on PATH nor %s: run `make tools` (it builds OpenTofu) or set %s", tofu, EnvTerraform)
	}
	return tofu, nil
}

// CLIConfig is terraform's CLI config that installs the kubectl provider
// from the offline mirror: $TF_CLI_CONFIG_FILE when it names a file, else
// terraformrc in the toolchain directory.
func CLIConfig(getenv func(string) string) (string, error) {
	var candidates []string
	if v := getenv(EnvCLIConfig); v != "" {
		candidates = append(candidates, v)
	}
	dir, err := Dir(getenv)
	if err == nil {
		candidates = append(candidates, filepath.Join(dir, "terraformrc"))
	}
	for _, c := range candidates {
		if isFile(c) {
			return c, nil
		}
	}
	if len(candidates) == 0 {
		return "", err
	}
	return "", fmt.Errorf("no terraform CLI config with the provider mirror (looked for %s): run `make tools` to build the mirror and its config",
		strings.Join(candidates, " and "))
}

// isFile reports whether p is a file (or a link to one).
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
