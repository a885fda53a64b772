package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/toolchain/toolchaintest"
)

const (
	item    = `module.database.terraform_data.item`
	itemA   = item + `["a"]`
	itemB   = item + `["b"]`
	label   = "module.database.terraform_data.label"
	gen     = "module.database.terraform_data.gen"
	genCBD  = "module.database.terraform_data.gen_cbd"
	secretR = "module.database.terraform_data.secret"
)

// TestLifecycle walks one workspace through create, no change, update,
// replace, delete and destroy, checking each plan's summary and changes,
// that the state afterwards holds exactly what the plan said, and the
// outputs.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	ws := f.workspace(t, "a", map[string]any{})
	r := newRunner(t)
	ctx := context.Background()

	steps := []struct {
		name       string
		settings   map[string]any
		op         Operation
		summary    string
		changes    map[string]Action
		state      []string // after the step
		wantOutput string   // the label output after an apply
		destroy    bool     // an OpPlan step plans the destruction
	}{
		{
			name:    "plan create",
			op:      OpPlan,
			summary: "Plan: 6 to add, 0 to change, 0 to destroy.",
			changes: map[string]Action{itemA: ActionCreate, itemB: ActionCreate, label: ActionCreate, gen: ActionCreate, genCBD: ActionCreate, secretR: ActionCreate},
		},
		{
			name:       "apply create",
			op:         OpApply,
			summary:    "Plan: 6 to add, 0 to change, 0 to destroy.",
			changes:    map[string]Action{itemA: ActionCreate, itemB: ActionCreate, label: ActionCreate, gen: ActionCreate, genCBD: ActionCreate, secretR: ActionCreate},
			state:      []string{gen, genCBD, itemA, itemB, label, secretR},
			wantOutput: "v1",
		},
		{
			name:    "plan no changes",
			op:      OpPlan,
			summary: "No changes. Your infrastructure matches the configuration.",
			changes: map[string]Action{},
		},
		{
			name:       "apply update",
			settings:   map[string]any{"label": "v2"},
			op:         OpApply,
			summary:    "Plan: 0 to add, 1 to change, 0 to destroy.",
			changes:    map[string]Action{label: ActionUpdate},
			state:      []string{gen, genCBD, itemA, itemB, label, secretR},
			wantOutput: "v2",
		},
		{
			name:       "apply replace",
			settings:   map[string]any{"label": "v2", "generation": "2"},
			op:         OpApply,
			summary:    "Plan: 2 to add, 0 to change, 2 to destroy.",
			changes:    map[string]Action{gen: ActionDeleteThenCreate, genCBD: ActionCreateThenDelete},
			state:      []string{gen, genCBD, itemA, itemB, label, secretR},
			wantOutput: "v2",
		},
		{
			name:       "apply delete",
			settings:   map[string]any{"label": "v2", "generation": "2", "items": []string{"a"}},
			op:         OpApply,
			summary:    "Plan: 0 to add, 0 to change, 1 to destroy.",
			changes:    map[string]Action{itemB: ActionDelete},
			state:      []string{gen, genCBD, itemA, label, secretR},
			wantOutput: "v2",
		},
		{
			name:    "plan destroy",
			op:      OpPlan,
			destroy: true,
			summary: "Plan: 0 to add, 0 to change, 5 to destroy.",
			changes: map[string]Action{itemA: ActionDelete, label: ActionDelete, gen: ActionDelete, genCBD: ActionDelete, secretR: ActionDelete},
		},
		{
			name:     "destroy",
			settings: map[string]any{"label": "v2", "generation": "2", "items": []string{"a"}},
			op:       OpDestroy,
			summary:  "Plan: 0 to add, 0 to change, 5 to destroy.",
			changes:  map[string]Action{itemA: ActionDelete, label: ActionDelete, gen: ActionDelete, genCBD: ActionDelete, secretR: ActionDelete},
			state:    nil,
		},
		{
			name:     "destroy again",
			settings: map[string]any{"label": "v2", "generation": "2", "items": []string{"a"}},
			op:       OpDestroy,
			summary:  "No changes. No objects need to be destroyed.",
			changes:  map[string]Action{},
			state:    nil,
		},
	}
	for _, step := range steps {
		if step.settings != nil {
			f.set(t, ws, step.settings)
		}
		var plan *Plan
		var res *ApplyResult
		var err error
		switch step.op {
		case OpPlan:
			if step.destroy {
				plan, err = r.PlanDestroy(ctx, ws)
			} else {
				plan, err = r.Plan(ctx, ws)
			}
		case OpApply:
			res, err = r.Apply(ctx, ws)
		case OpDestroy:
			res, err = r.Destroy(ctx, ws)
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if res != nil {
			plan = res.Plan
		}
		if got := plan.Summary.String(); got != step.summary {
			t.Errorf("%s: summary %q, want %q", step.name, got, step.summary)
		}
		if got := changeActions(plan.Changes); !maps.Equal(got, step.changes) {
			t.Errorf("%s: changes %v, want %v", step.name, got, step.changes)
		}
		if plan.HasChanges != (len(step.changes) > 0) {
			t.Errorf("%s: HasChanges %v with changes %v", step.name, plan.HasChanges, step.changes)
		}
		if len(step.changes) > 0 && !strings.Contains(plan.Text, step.summary) {
			t.Errorf("%s: plan text lacks terraform's own summary %q:\n%s", step.name, step.summary, plan.Text)
		}
		if res == nil {
			continue
		}
		if got := f.stateAddresses(t, ws); !slices.Equal(got, step.state) {
			t.Errorf("%s: state holds %v, want %v", step.name, got, step.state)
		}
		// A saved plan is applied without being shown again: the apply
		// printed no plan of its own.
		applyLog := res.Log[strings.Index(res.Log, "$ terraform apply"):]
		if strings.Contains(applyLog, "will perform the following actions") {
			t.Errorf("%s: apply made a plan of its own:\n%s", step.name, applyLog)
		}
		if step.op == OpDestroy {
			if res.Outputs != nil || res.RawOutputs != nil {
				t.Errorf("%s: destroy read outputs %v", step.name, res.Outputs)
			}
			continue
		}
		// Only non-sensitive string outputs are in Outputs.
		if want := map[string]string{"label": step.wantOutput}; !maps.Equal(res.Outputs, want) {
			t.Errorf("%s: outputs %v, want %v", step.name, res.Outputs, want)
		}
		var raw map[string]struct {
			Sensitive bool
			Value     json.RawMessage
		}
		if err := json.Unmarshal(res.RawOutputs, &raw); err != nil {
			t.Fatalf("%s: raw outputs %s: %v", step.name, res.RawOutputs, err)
		}
		if p := raw["password"]; !p.Sensitive || string(p.Value) != "null" {
			t.Errorf("%s: raw password output %+v, want sensitive with a null value", step.name, p)
		}
		if _, ok := raw["items"]; !ok {
			t.Errorf("%s: raw outputs lack items: %s", step.name, res.RawOutputs)
		}
	}
}

// TestPlanRefusesWorkspace: a workspace that is not a directory inside the
// repository is refused before anything runs.
func TestPlanRefusesWorkspace(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	r := newRunner(t)
	for _, dir := range []string{"", ".", "..", "../outside", "/etc", "databases/../../etc", "databases/dev/t/missing"} {
		_, err := r.Plan(context.Background(), Workspace{Root: f.root, Dir: dir})
		if err == nil {
			t.Errorf("Plan of %q: no error", dir)
			continue
		}
		var te *Error
		if errors.As(err, &te) {
			t.Errorf("Plan of %q: a command ran: %v", dir, err)
		}
	}
}

// TestParallelism: five plans started together on a Runner with
// parallelism 2 run two at a time, never more.
func TestParallelism(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	var wss []Workspace
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		wss = append(wss, f.workspace(t, name, map[string]any{}))
	}
	var (
		mu        sync.Mutex
		active    int
		maxActive int
		two       = make(chan struct{}) // closed when two jobs run at once
		once      sync.Once
	)
	hooks := Hooks{
		OnStart: func(Job) {
			mu.Lock()
			active++
			maxActive = max(maxActive, active)
			n := active
			mu.Unlock()
			if n == 2 {
				once.Do(func() { close(two) })
			}
			// Hold the first job until a second runs beside it, as one must
			// with parallelism 2. The minute only guards against a hang.
			select {
			case <-two:
			case <-time.After(time.Minute):
			}
		},
		OnEnd: func(Job, error) {
			mu.Lock()
			defer mu.Unlock()
			active--
		},
	}
	r := newRunner(t, WithParallelism(2), WithHooks(hooks))

	var wg sync.WaitGroup
	for _, ws := range wss {
		wg.Go(func() {
			p, err := r.Plan(context.Background(), ws)
			if err != nil {
				t.Errorf("Plan %s: %v", ws, err)
				return
			}
			if got, want := p.Summary.String(), "Plan: 6 to add, 0 to change, 0 to destroy."; got != want {
				t.Errorf("Plan %s: %q, want %q", ws, got, want)
			}
		})
	}
	wg.Wait()

	select {
	case <-two:
	default:
		t.Error("no two jobs ever ran at once")
	}
	if maxActive > 2 {
		t.Errorf("%d jobs ran at once, want at most 2", maxActive)
	}
}

// TestEnvironment: terraform and what it runs see the environment the
// runner builds, never the caller's: a provisioner writes its environment
// to a file.
func TestEnvironment(t *testing.T) {
	t.Setenv("FOO_SECRET", "from-the-callers-environment")
	t.Setenv("TF_PLUGIN_CACHE_DIR", t.TempDir())
	_, cliConfig := toolchaintest.Terraform(t)
	f := newInfra(t)
	envFile := filepath.Join(t.TempDir(), "env")
	ws := f.workspace(t, "a", map[string]any{"env_file": envFile})
	workdirs := t.TempDir()
	r := newRunner(t, WithWorkdirRoot(workdirs), WithEnv(map[string]string{"KUBE_CONFIG_PATH": "/etc/clustro/kubeconfig"}))
	if _, err := r.Apply(context.Background(), ws); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertEmptyDir(t, workdirs)

	env := readEnvFile(t, envFile)

	tests := []struct {
		name string
		set  bool
		want string
	}{
		{name: "FOO_SECRET", set: false},
		{name: "TF_PLUGIN_CACHE_DIR", set: false},
		{name: "KUBE_CONFIG_PATH", set: true, want: "/etc/clustro/kubeconfig"},
		{name: "TF_IN_AUTOMATION", set: true, want: "1"},
		{name: "CHECKPOINT_DISABLE", set: true, want: "1"},
		{name: "TF_CLI_CONFIG_FILE", set: true, want: cliConfig},
		{name: "PATH", set: true, want: os.Getenv("PATH")},
	}
	for _, tt := range tests {
		got, ok := env[tt.name]
		if ok != tt.set || got != tt.want {
			t.Errorf("%s = %q (set %v), want %q (set %v)", tt.name, got, ok, tt.want, tt.set)
		}
	}
	if home := env["HOME"]; !strings.HasPrefix(home, workdirs+string(filepath.Separator)) {
		t.Errorf("HOME = %q, want a directory of the job's under %s", home, workdirs)
	}
}

func TestNewRefuses(t *testing.T) {
	bin, cliConfig := toolchaintest.Terraform(t)
	tests := []struct {
		name string
		opts []Option
		want string // in the error; none when empty
	}{
		{name: "valid", opts: []Option{WithCLIConfig(cliConfig), WithParallelism(4), WithTimeout(time.Minute), WithEnv(map[string]string{"KUBE_CONFIG_PATH": "/k"})}},
		{name: "parallelism 0", opts: []Option{WithParallelism(0)}, want: "parallelism 0"},
		{name: "TF_VAR_ variable", opts: []Option{WithEnv(map[string]string{"TF_VAR_password": "x"})}, want: "TF_VAR_password"},
		{name: "HOME", opts: []Option{WithEnv(map[string]string{"HOME": "/root"})}, want: "HOME"},
		{name: "plugin cache", opts: []Option{WithEnv(map[string]string{"TF_PLUGIN_CACHE_DIR": "/tmp/cache"})}, want: "TF_PLUGIN_CACHE_DIR"},
		{name: "missing binary", opts: []Option{WithBinary("/nonexistent/terraform")}, want: "terraform binary"},
		{name: "binary not executable", opts: []Option{WithBinary(cliConfig)}, want: "not an executable"},
		{name: "missing CLI config", opts: []Option{WithCLIConfig("/nonexistent/terraformrc")}, want: "CLI config"},
		{name: "missing workdir root", opts: []Option{WithWorkdirRoot("/nonexistent")}, want: "workdir root"},
		{name: "timeout", opts: []Option{WithTimeout(0)}, want: "timeout"},
		{name: "wait delay", opts: []Option{WithWaitDelay(-time.Second)}, want: "wait delay"},
		{name: "nil locker", opts: []Option{WithLocker(nil)}, want: "locker is nil"},
		{name: "every problem", opts: []Option{WithParallelism(-1), WithTimeout(-1)}, want: "parallelism -1 is less than 1\ntimeout -1ns is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(append([]Option{WithBinary(bin)}, tt.opts...)...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		present []string
		want    string
		err     error
	}{
		{name: "terraform first", present: []string{"terraform", "tofu"}, want: "terraform"},
		{name: "else tofu", present: []string{"tofu"}, want: "tofu"},
		{name: "neither", err: ErrNoBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tt.present {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", dir)
			got, err := Find()
			if !errors.Is(err, tt.err) {
				t.Fatalf("Find: %v, want %v", err, tt.err)
			}
			if tt.want != "" && got != filepath.Join(dir, tt.want) {
				t.Errorf("Find = %q, want %s in %s", got, tt.want, dir)
			}
		})
	}
}

// TestValidateWithProviderMirror: four workspaces that need the kubectl
// provider are initialised at once from the offline filesystem mirror (no
// shared plugin cache) and validated; an invalid one is reported as such.
func TestValidateWithProviderMirror(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	src, err := os.ReadFile(filepath.Join(f.root, "databases/dev/t/kube/main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	valid := string(src)
	invalid := strings.Replace(valid, "yaml_body = <<-YAML", "no_such_argument = true\n  yaml_body = <<-YAML", 1)
	tests := []struct {
		dir     string
		main    string
		wantErr error
	}{
		{"databases/dev/t/k1", valid, nil},
		{"databases/dev/t/k2", valid, nil},
		{"databases/dev/t/k3", valid, nil},
		{"databases/dev/t/k4", valid, nil},
		{"databases/dev/t/broken", invalid, ErrInvalidConfig},
	}
	for _, tt := range tests {
		dir := filepath.Join(f.root, filepath.FromSlash(tt.dir))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tt.main), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := newRunner(t, WithParallelism(4))

	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() { errs[i] = r.Validate(context.Background(), Workspace{Root: f.root, Dir: tt.dir}) })
	}
	wg.Wait()
	for i, tt := range tests {
		err := errs[i]
		if tt.wantErr == nil {
			if err != nil {
				t.Errorf("Validate %s: %v", tt.dir, err)
			}
			continue
		}
		var te *Error
		if !errors.Is(err, tt.wantErr) || !errors.As(err, &te) {
			t.Errorf("Validate %s: %v, want an *Error wrapping %v", tt.dir, err, tt.wantErr)
			continue
		}
		if !strings.Contains(te.Output, "no_such_argument") {
			t.Errorf("Validate %s: output does not name the bad argument:\n%s", tt.dir, te.Output)
		}
	}
}
