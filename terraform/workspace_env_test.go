package terraform

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkspaceEnvironment: each workspace's job gets the variables of its
// own workspace over the runner's, and nothing of another workspace's, as
// each environment gets the credentials of its own cluster only.
func TestWorkspaceEnvironment(t *testing.T) {
	f := newInfra(t)
	files := map[string]string{}
	var wss []Workspace
	for _, name := range []string{"a", "b"} {
		files[name] = filepath.Join(t.TempDir(), "env")
		wss = append(wss, f.workspace(t, name, map[string]any{"env_file": files[name]}))
	}
	perWorkspace := map[string]map[string]string{
		"a": {"KUBE_CONFIG_PATH": "/k/a", "KUBE_CTX": "ctx-a"},
		"b": {"KUBE_CONFIG_PATH": "/k/b"},
	}
	var asked []string
	r := newRunner(t, WithParallelism(1),
		WithEnv(map[string]string{"KUBE_CONFIG_PATH": "/k/default", "AWS_REGION": "eu-west-1"}),
		WithWorkspaceEnv(func(ws Workspace) (map[string]string, error) {
			asked = append(asked, ws.Dir)
			return perWorkspace[path.Base(ws.Dir)], nil
		}))
	for _, ws := range wss {
		if _, err := r.Apply(context.Background(), ws); err != nil {
			t.Fatalf("Apply %s: %v", ws, err)
		}
	}
	// Apply runs init, plan and apply in one job: one call each.
	if want := []string{"databases/dev/t/a", "databases/dev/t/b"}; strings.Join(asked, " ") != strings.Join(want, " ") {
		t.Errorf("workspaces asked = %v, want %v", asked, want)
	}

	tests := []struct {
		ws, name string
		set      bool
		want     string
	}{
		{"a", "KUBE_CONFIG_PATH", true, "/k/a"},
		{"a", "KUBE_CTX", true, "ctx-a"},
		{"a", "AWS_REGION", true, "eu-west-1"},
		{"b", "KUBE_CONFIG_PATH", true, "/k/b"},
		{"b", "KUBE_CTX", false, ""}, // a's context never reaches b's job
		{"b", "AWS_REGION", true, "eu-west-1"},
	}
	envs := map[string]map[string]string{"a": readEnvFile(t, files["a"]), "b": readEnvFile(t, files["b"])}
	for _, tt := range tests {
		got, ok := envs[tt.ws][tt.name]
		if ok != tt.set || got != tt.want {
			t.Errorf("workspace %s: %s = %q (set %v), want %q (set %v)", tt.ws, tt.name, got, ok, tt.want, tt.set)
		}
	}
}

// TestWorkspaceEnvironmentRefused: a workspace without an environment, or
// with one that would override what the runner sets, never runs terraform.
func TestWorkspaceEnvironmentRefused(t *testing.T) {
	f := newInfra(t)
	envFile := filepath.Join(t.TempDir(), "env")
	ws := f.workspace(t, "a", map[string]any{"env_file": envFile})
	tests := []struct {
		name string
		fn   func(Workspace) (map[string]string, error)
		want string
	}{
		{"no cluster", func(Workspace) (map[string]string, error) { return nil, errors.New("environment dev has no cluster") },
			"terraform apply databases/dev/t/a: environment of workspace databases/dev/t/a: environment dev has no cluster"},
		{"HOME", func(Workspace) (map[string]string, error) { return map[string]string{"HOME": "/root"}, nil },
			"environment of workspace databases/dev/t/a: variable HOME cannot be set"},
		{"TF_VAR_", func(Workspace) (map[string]string, error) { return map[string]string{"TF_VAR_password": "x"}, nil },
			"variable TF_VAR_password cannot be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			workdirs := t.TempDir()
			r := newRunner(t, WithWorkdirRoot(workdirs), WithWorkspaceEnv(tt.fn))
			_, err := r.Apply(context.Background(), ws)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply: %v, want an error with %q", err, tt.want)
			}
			if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("terraform ran: the provisioner wrote %s", envFile)
			}
			assertEmptyDir(t, workdirs)
		})
	}
	if _, err := New(WithWorkspaceEnv(nil)); err == nil || !strings.Contains(err.Error(), "workspace environment function is nil") {
		t.Errorf("New(WithWorkspaceEnv(nil)): %v", err)
	}
}

// readEnvFile reads the NAME=value lines the fixture's provisioner writes.
func readEnvFile(t *testing.T, name string) map[string]string {
	t.Helper()
	file, err := os.Open(name)
	if err != nil {
		t.Fatalf("the provisioner wrote no environment: %v", err)
	}
	defer file.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}
