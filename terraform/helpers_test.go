package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clustropg/clustro/internal/toolchain/toolchaintest"
)

// infra is a writable copy of testdata/infra, standing in for a checked-out
// infrastructure repository, with a directory for the workspaces' state.
type infra struct {
	root     string
	stateDir string
}

func newInfra(t *testing.T) *infra {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(root, os.DirFS("testdata/infra")); err != nil {
		t.Fatalf("copy fixture: %v", err)
	}
	stateDir := t.TempDir()
	return &infra{root: root, stateDir: stateDir}
}

// workspace makes databases/dev/t/<name> from the fixture workspace a,
// with a local backend whose state lives outside every job directory, and
// the given variable settings.
func (f *infra) workspace(t *testing.T, name string, settings map[string]any) Workspace {
	t.Helper()
	ws := Workspace{Root: f.root, Dir: "databases/dev/t/" + name}
	dir := filepath.Join(f.root, filepath.FromSlash(ws.Dir))
	if name != "a" {
		src, err := os.ReadFile(filepath.Join(f.root, "databases/dev/t/a/main.tf"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	backend := fmt.Sprintf("terraform {\n  backend \"local\" {\n    path = %q\n  }\n}\n", f.statePath(ws))
	if err := os.WriteFile(filepath.Join(dir, "backend.tf"), []byte(backend), 0o644); err != nil {
		t.Fatal(err)
	}
	f.set(t, ws, settings)
	return ws
}

// set rewrites the workspace's variable settings, as a new commit would.
func (f *infra) set(t *testing.T, ws Workspace, settings map[string]any) {
	t.Helper()
	b, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.root, filepath.FromSlash(ws.Dir), "settings.auto.tfvars.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *infra) statePath(ws Workspace) string {
	return filepath.Join(f.stateDir, strings.ReplaceAll(ws.Dir, "/", "_")+".tfstate")
}

// stateAddresses lists the resource instances in the workspace's state.
func (f *infra) stateAddresses(t *testing.T, ws Workspace) []string {
	t.Helper()
	b, err := os.ReadFile(f.statePath(ws))
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	var state struct {
		Resources []struct {
			Module, Mode, Type, Name string
			Instances                []struct {
				IndexKey any `json:"index_key"`
			}
		}
	}
	if err := json.Unmarshal(b, &state); err != nil {
		t.Fatalf("decode state: %v", err)
	}
	var addrs []string
	for _, r := range state.Resources {
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, in := range r.Instances {
			switch k := in.IndexKey.(type) {
			case nil:
				addrs = append(addrs, base)
			case string:
				addrs = append(addrs, fmt.Sprintf("%s[%q]", base, k))
			default:
				addrs = append(addrs, fmt.Sprintf("%s[%v]", base, k))
			}
		}
	}
	sort.Strings(addrs)
	return addrs
}

// newRunner returns a Runner on the toolchain's terraform and CLI config,
// with job directories under a root of its own that must be empty again
// when the test ends.
func newRunner(t *testing.T, opts ...Option) *Runner {
	t.Helper()
	bin, cliConfig := toolchaintest.Terraform(t)
	workdirs := t.TempDir()
	t.Cleanup(func() { assertEmptyDir(t, workdirs) })
	r, err := New(append([]Option{WithBinary(bin), WithCLIConfig(cliConfig), WithWorkdirRoot(workdirs)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("read %s: %v", dir, err)
		return
	}
	for _, e := range entries {
		t.Errorf("job directory left behind: %s", filepath.Join(dir, e.Name()))
	}
}

// changeActions maps the addresses of changes to their actions.
func changeActions(changes []ResourceChange) map[string]Action {
	m := map[string]Action{}
	for _, c := range changes {
		m[c.Address] = c.Action
	}
	return m
}
