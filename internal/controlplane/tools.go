package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clustropg/clustro/internal/toolchain"
)

// EnvCRDs is a directory of CustomResourceDefinition manifests to install.
const EnvCRDs = "CLUSTRO_CNPG_CRDS"

// binaries the control plane runs, looked up in the bin directory.
var binaries = []string{"etcd", "kube-apiserver"}

// repoRoot is the repository, found as the toolchain finds it.
var repoRoot = toolchain.RepoRoot

// findBinDir returns the directory holding etcd and kube-apiserver:
// override, else the toolchain's bin ($CLUSTRO_TOOLS/bin, else .tools/bin
// in the repository).
func findBinDir(override string) (string, error) {
	dir := override
	if dir == "" {
		var err error
		if dir, err = toolchain.BinDir(os.Getenv); err != nil {
			return "", fmt.Errorf("locate etcd and kube-apiserver: %w", err)
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
