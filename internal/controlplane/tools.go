package controlplane

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath identifies the repository's go.mod when looking for its root.
const modulePath = "github.com/clustropg/clustro"

// Environment variables that locate the toolchain and the CRDs.
const (
	// EnvTools is the toolchain directory `make tools` fills; binaries are in its bin/.
	EnvTools = "CLUSTRO_TOOLS"
	// EnvCRDs is a directory of CustomResourceDefinition manifests to install.
	EnvCRDs = "CLUSTRO_CNPG_CRDS"
)

// binaries the control plane runs, looked up in the bin directory.
var binaries = []string{"etcd", "kube-apiserver"}

// findBinDir returns the directory holding etcd and kube-apiserver:
// override, else $CLUSTRO_TOOLS/bin, else .tools/bin in the repository.
func findBinDir(override string) (string, error) {
	dir := override
	if dir == "" {
		if tools := os.Getenv(EnvTools); tools != "" {
			dir = filepath.Join(tools, "bin")
		} else {
			root, err := repoRoot()
			if err != nil {
				return "", fmt.Errorf("locate etcd and kube-apiserver: %w; set %s or run from the repository (run `make tools` to build them)", err, EnvTools)
			}
			dir = filepath.Join(root, ".tools", "bin")
		}
	}
	var missing []string
	for _, name := range binaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%s not found in %s: run `make tools` to build them", strings.Join(missing, " and "), dir)
	}
	return dir, nil
}

// repoRoot walks up from the working directory to the go.mod of this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod of " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}

// crdDir returns the directory of CRDs to install, or "" for the embedded
// minimal ones: the override, else $CLUSTRO_CNPG_CRDS, else
// ../shared/cnpg/crds next to the repository when it exists.
func crdDir(opts Options) (string, error) {
	if opts.MinimalCRDs {
		return "", nil
	}
	for _, c := range []struct{ dir, from string }{
		{opts.CRDDir, "Options.CRDDir"},
		{os.Getenv(EnvCRDs), EnvCRDs},
	} {
		if c.dir == "" {
			continue
		}
		if fi, err := os.Stat(c.dir); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("CRD directory %s (from %s) is not a directory", c.dir, c.from)
		}
		return c.dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", nil // outside the repository: the embedded CRDs
	}
	shared := filepath.Join(filepath.Dir(root), "shared", "cnpg", "crds")
	if fi, err := os.Stat(shared); err == nil && fi.IsDir() {
		return shared, nil
	}
	return "", nil
}
