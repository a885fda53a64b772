package terraform

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/rs/zerolog"
)

// Option configures New.
type Option interface {
	configureRunner(*runnerConfig)
}

// RunOption configures one Plan, Apply, Destroy or Validate.
type RunOption interface {
	configureRun(*runConfig)
}

// runnerConfig holds New's settings; defaultRunnerConfig documents the
// defaults.
type runnerConfig struct {
	binary    string            // Find() when empty
	cliConfig string            // TF_CLI_CONFIG_FILE; none when empty
	env       map[string]string // added to the environment of every command
	// workspaceEnv adds to env per workspace; none when nil.
	workspaceEnv func(Workspace) (map[string]string, error)
	secrets      []string
	timeout      time.Duration
	waitDelay    time.Duration
	parallelism  int
	workdirRoot  string
	locker       Locker
	logger       zerolog.Logger
	hooks        Hooks

	errs []error // problems found while applying options, reported by New
}

func defaultRunnerConfig() runnerConfig {
	return runnerConfig{
		env:         map[string]string{},
		timeout:     30 * time.Minute,
		waitDelay:   30 * time.Second,
		parallelism: 2,
		workdirRoot: os.TempDir(),
		locker:      &MemoryLocker{},
		logger:      zerolog.Nop(),
	}
}

// runConfig holds the settings of one job. The zero value is the default:
// a foreground job, no variables or secrets of its own, the runner's
// timeout, no approval.
type runConfig struct {
	vars       map[string]string
	secrets    []string
	timeout    time.Duration // the runner's when zero
	background bool
	approve    func(*Plan) error // nil: every plan is applied

	errs []error // problems found while applying options, reported by check
}

// check reports the problems of the job's options for op, before the job
// takes its lock.
func (c *runConfig) check(op Operation) error {
	errs := c.errs
	if c.background && (op == OpApply || op == OpDestroy) {
		errs = append(errs, fmt.Errorf("%s cannot run in the background: a preempted %s would stop half done", op, op))
	}
	if c.approve != nil && op != OpApply && op != OpDestroy {
		errs = append(errs, fmt.Errorf("%s applies nothing to approve", op))
	}
	return errors.Join(errs...)
}

// BinaryOption sets the terraform or tofu binary.
type BinaryOption struct{ path string }

// WithBinary runs the terraform (or tofu) binary at path. Without it, New
// uses Find.
func WithBinary(path string) *BinaryOption { return &BinaryOption{path} }

func (o *BinaryOption) configureRunner(c *runnerConfig) { c.binary = o.path }

// CLIConfigOption sets the CLI configuration file.
type CLIConfigOption struct{ path string }

// WithCLIConfig passes path as TF_CLI_CONFIG_FILE, typically a config whose
// provider_installation block installs providers from a read-only
// filesystem mirror. Without it terraform reads no CLI config: each job's
// HOME is an empty directory of its own.
func WithCLIConfig(path string) *CLIConfigOption { return &CLIConfigOption{path} }

func (o *CLIConfigOption) configureRunner(c *runnerConfig) { c.cliConfig = o.path }

// EnvOption adds environment variables.
type EnvOption struct{ env map[string]string }

// WithEnv adds variables to the environment of every command, e.g.
// KUBE_CONFIG_PATH for the kubernetes backend and provider, or AWS_* for
// an s3 backend. Commands get only these, PATH (the process's when New
// ran, unless env sets it), HOME (an empty directory of the job's),
// TF_CLI_CONFIG_FILE, TF_IN_AUTOMATION=1 and CHECKPOINT_DISABLE=1: never
// the rest of the caller's os.Environ.
// Variables terraform-exec manages (TF_VAR_*, TF_LOG, TF_CLI_ARGS, ...) and
// those the runner sets itself (HOME, TF_CLI_CONFIG_FILE, and
// TF_PLUGIN_CACHE_DIR, unsafe under concurrent init) are refused by New.
// Values are not redacted: give secret ones to WithSecrets too. Later calls
// add to earlier ones.
func WithEnv(env map[string]string) *EnvOption { return &EnvOption{maps.Clone(env)} }

func (o *EnvOption) configureRunner(c *runnerConfig) {
	for k, v := range o.env {
		if refusedEnv(k, v) {
			c.errs = append(c.errs, fmt.Errorf("environment variable %s cannot be set with WithEnv", k))
			continue
		}
		c.env[k] = v
	}
}

// refusedEnv reports whether k is a variable that terraform-exec manages or
// the runner sets itself.
func refusedEnv(k, v string) bool {
	return reserved[k] || len(tfexec.ProhibitedEnv(map[string]string{k: v})) > 0
}

// WorkspaceEnvOption sets environment variables per workspace.
type WorkspaceEnvOption struct {
	fn func(Workspace) (map[string]string, error)
}

// WithWorkspaceEnv adds to the environment of a job's commands the
// variables fn returns for the job's workspace, over those of WithEnv: e.g.
// KUBE_CONFIG_PATH and KUBE_CTX of the cluster of the workspace's
// environment, so that a workspace only ever reaches its own cluster. Each
// job builds its environment afresh: nothing fn returns for one workspace
// reaches the job of another. fn is called once per job, with the job's
// workspace lock and slot held, before anything is copied; its error fails
// the job before terraform runs. The variables WithEnv refuses fail the job
// too. Values are not redacted: give secret ones to WithSecrets.
func WithWorkspaceEnv(fn func(ws Workspace) (map[string]string, error)) *WorkspaceEnvOption {
	return &WorkspaceEnvOption{fn}
}

func (o *WorkspaceEnvOption) configureRunner(c *runnerConfig) {
	if o.fn == nil {
		c.errs = append(c.errs, errors.New("workspace environment function is nil"))
		return
	}
	c.workspaceEnv = o.fn
}

// envFor is the environment the runner adds for ws: WithEnv's, then
// WithWorkspaceEnv's.
func (c *runnerConfig) envFor(ws Workspace) (map[string]string, error) {
	env := maps.Clone(c.env)
	if c.workspaceEnv == nil {
		return env, nil
	}
	extra, err := c.workspaceEnv(ws)
	if err != nil {
		return nil, fmt.Errorf("environment of workspace %s: %w", ws.Dir, err)
	}
	for k, v := range extra {
		if refusedEnv(k, v) {
			return nil, fmt.Errorf("environment of workspace %s: variable %s cannot be set", ws.Dir, k)
		}
		env[k] = v
	}
	return env, nil
}

// reserved are the environment variables the runner sets itself, or
// refuses to set.
var reserved = map[string]bool{
	"HOME":                true,
	"TF_CLI_CONFIG_FILE":  true,
	"TF_PLUGIN_CACHE_DIR": true,
	"CHECKPOINT_DISABLE":  true,
	jobEnv:                true,
}

// SecretsOption adds strings to redact.
type SecretsOption struct{ secrets []string }

// WithSecrets redacts each of secrets (empty strings are ignored) from
// everything the runner returns or logs: plan text, logs, outputs and
// errors. Given to New it applies to every job; given to a run, to that
// job. Later calls add to earlier ones.
func WithSecrets(secrets ...string) *SecretsOption {
	return &SecretsOption{append([]string(nil), secrets...)}
}

func (o *SecretsOption) configureRunner(c *runnerConfig) {
	c.secrets = append(c.secrets, o.secrets...)
}

func (o *SecretsOption) configureRun(c *runConfig) {
	c.secrets = append(c.secrets, o.secrets...)
}

// TimeoutOption sets how long a job may run.
type TimeoutOption struct{ d time.Duration }

// WithTimeout limits a job (from the moment it holds its workspace lock and
// a slot, to the end of its last command) to d; default 30 minutes. Given
// to New it is the default of every job; given to a run, it overrides it
// for that job. When it expires terraform is interrupted as on a cancelled
// context.
func WithTimeout(d time.Duration) *TimeoutOption { return &TimeoutOption{d} }

func (o *TimeoutOption) configureRunner(c *runnerConfig) {
	if o.d <= 0 {
		c.errs = append(c.errs, fmt.Errorf("timeout %v is not positive", o.d))
		return
	}
	c.timeout = o.d
}

func (o *TimeoutOption) configureRun(c *runConfig) {
	if o.d > 0 {
		c.timeout = o.d
	}
}

// WaitDelayOption sets the grace period of an interrupted command.
type WaitDelayOption struct{ d time.Duration }

// WithWaitDelay sets how long a command interrupted by cancellation (which
// sends terraform SIGINT, so it can release locks and write state) may take
// to exit before it is killed; default 30 seconds.
func WithWaitDelay(d time.Duration) *WaitDelayOption { return &WaitDelayOption{d} }

func (o *WaitDelayOption) configureRunner(c *runnerConfig) {
	if o.d <= 0 {
		c.errs = append(c.errs, fmt.Errorf("wait delay %v is not positive", o.d))
		return
	}
	c.waitDelay = o.d
}

// ParallelismOption bounds the jobs that run at once.
type ParallelismOption struct{ n int }

// WithParallelism lets at most n jobs (on different workspaces) run at once
// on this Runner; default 2. At most max(n-1, 1) of them are Background
// jobs.
func WithParallelism(n int) *ParallelismOption { return &ParallelismOption{n} }

func (o *ParallelismOption) configureRunner(c *runnerConfig) {
	if o.n < 1 {
		c.errs = append(c.errs, fmt.Errorf("parallelism %d is less than 1", o.n))
		return
	}
	c.parallelism = o.n
}

// WorkdirRootOption sets where job directories are made.
type WorkdirRootOption struct{ dir string }

// WithWorkdirRoot makes each job's directory under dir, which must exist;
// default os.TempDir().
func WithWorkdirRoot(dir string) *WorkdirRootOption { return &WorkdirRootOption{dir} }

func (o *WorkdirRootOption) configureRunner(c *runnerConfig) { c.workdirRoot = o.dir }

// LockerOption sets the workspace Locker.
type LockerOption struct{ l Locker }

// WithLocker takes workspace locks from l, e.g. the store, whose locks hold
// across replicas. Default: a MemoryLocker, which holds within the Runner.
func WithLocker(l Locker) *LockerOption { return &LockerOption{l} }

func (o *LockerOption) configureRunner(c *runnerConfig) {
	if o.l == nil {
		c.errs = append(c.errs, errors.New("locker is nil"))
		return
	}
	c.locker = o.l
}

// LoggerOption sets the logger.
type LoggerOption struct{ l zerolog.Logger }

// WithLogger writes progress lines to l: the start and end of every job
// and the end of every command (Info), failures (Error), and the start of
// every command (Debug). Default: none. Nothing logged carries a secret.
func WithLogger(l zerolog.Logger) *LoggerOption { return &LoggerOption{l} }

func (o *LoggerOption) configureRunner(c *runnerConfig) { c.logger = o.l }

// Hooks are called around every job, e.g. to measure or report progress.
// A hook runs on the job's goroutine: the job waits for it.
type Hooks struct {
	// OnStart is called when the job holds its workspace lock and a slot,
	// before it prepares its directory.
	OnStart func(Job)
	// OnEnd is called when the job has finished, its processes have exited
	// and its directory is removed; err is what the job returns.
	OnEnd func(j Job, err error)
}

// HooksOption sets the Hooks.
type HooksOption struct{ h Hooks }

// WithHooks calls h around every job.
func WithHooks(h Hooks) *HooksOption { return &HooksOption{h} }

func (o *HooksOption) configureRunner(c *runnerConfig) { c.hooks = o.h }

// VarsOption passes input variables to a job.
type VarsOption struct{ vars map[string]string }

// WithVars sets root module input variables for a job's plan. It is meant
// for secrets (the rendered workspace carries everything else): the values
// are written to a var file with mode 0600 in the job's directory, never on
// a command line, and each value of 6 characters or more is redacted like a
// configured secret. Later calls add to earlier ones.
func WithVars(vars map[string]string) *VarsOption { return &VarsOption{maps.Clone(vars)} }

func (o *VarsOption) configureRun(c *runConfig) {
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	maps.Copy(c.vars, o.vars)
}

// check validates the settings that are not checked option by option.
func (c *runnerConfig) check() error {
	errs := c.errs
	if c.binary == "" {
		errs = append(errs, errors.New("no terraform binary"))
	} else if fi, err := os.Stat(c.binary); err != nil {
		errs = append(errs, fmt.Errorf("terraform binary: %w", err))
	} else if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		errs = append(errs, fmt.Errorf("terraform binary %s is not an executable file", c.binary))
	}
	if c.cliConfig != "" {
		if _, err := os.Stat(c.cliConfig); err != nil {
			errs = append(errs, fmt.Errorf("CLI config: %w", err))
		}
	}
	if fi, err := os.Stat(c.workdirRoot); err != nil {
		errs = append(errs, fmt.Errorf("workdir root: %w", err))
	} else if !fi.IsDir() {
		errs = append(errs, fmt.Errorf("workdir root %s is not a directory", c.workdirRoot))
	}
	return errors.Join(errs...)
}

// absolutize makes the configured paths absolute: commands run in other
// directories.
func (c *runnerConfig) absolutize() error {
	for _, p := range []*string{&c.binary, &c.cliConfig, &c.workdirRoot} {
		if *p == "" || filepath.IsAbs(*p) {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// BackgroundOption makes a job a background one.
type BackgroundOption struct{}

// Background runs a job (a Plan, PlanDestroy or Validate; Apply and Destroy
// refuse it) with low priority, e.g. a scheduled drift check, so that it
// never delays foreground jobs, which are the default:
//
//   - A background job takes a slot only when one is free and no
//     foreground job is waiting for one: foreground waiters always go
//     first. Background waiters are served in order of arrival.
//   - At most max(parallelism-1, 1) background jobs run at once, so with a
//     parallelism of 2 or more a slot is always left for foreground work.
//   - When a foreground job waits for a slot and every slot is taken with
//     at least one background job among them, the newest background job is
//     preempted: its context is cancelled with cause ErrPreempted (its
//     terraform gets SIGINT, as on any cancellation; a plan writes no
//     state), and its slot goes to the foreground job as soon as it has
//     stopped. The preempted job returns an error for which IsPreempted
//     (errors.Is(err, ErrPreempted)) holds; run it again later.
//
// Like every job, a background job takes its workspace's lock before it
// waits for a slot: while it waits, and while it runs, jobs on that
// workspace wait for the lock behind it (they do not count as waiting for a
// slot, so they preempt nothing). Other workspaces are not delayed. Give a
// background job a context with a deadline if that wait must be bounded.
func Background() *BackgroundOption { return &BackgroundOption{} }

func (o *BackgroundOption) configureRun(c *runConfig) { c.background = true }

// ApproveOption makes Apply or Destroy apply only an approved plan.
type ApproveOption struct{ fn func(*Plan) error }

// Approve has Apply or Destroy call fn with the job's Plan once the plan
// file is written and read back, and apply that plan file only when fn
// returns nil. When fn returns an error nothing is applied: Apply returns
// an error wrapping both ErrNotApproved and fn's error, with an ApplyResult
// holding the Plan and the job's log. A caller can so show a plan, have a
// person confirm it, and later apply only when the new plan is the same as
// the confirmed one (comparing Changes, say). fn runs on the job's
// goroutine with the workspace lock and a slot held, under the job's
// timeout: it should decide at once, not wait for a person. The Plan's Log
// and Duration are empty (the ApplyResult has the job's). Default: every
// plan is applied. Plan, PlanDestroy and Validate refuse it, as does a nil
// fn.
func Approve(fn func(*Plan) error) *ApproveOption { return &ApproveOption{fn} }

func (o *ApproveOption) configureRun(c *runConfig) {
	if o.fn == nil {
		c.errs = append(c.errs, errors.New("approve function is nil"))
		return
	}
	c.approve = o.fn
}
