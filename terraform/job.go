package terraform

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/syncbuf"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/rs/zerolog"
)

// Operation is what a job does.
type Operation string

// The operations of a Runner.
const (
	OpPlan     Operation = "plan"
	OpApply    Operation = "apply"
	OpDestroy  Operation = "destroy"
	OpValidate Operation = "validate"
)

// Job describes one run of a Runner on one workspace, for Hooks.
type Job struct {
	// ID is unique to the job.
	ID string
	// Workspace is the workspace's directory in the repository.
	Workspace string
	Operation Operation
	// Background is set for a job run with Background.
	Background bool
}

// jobEnv carries the job's ID in the environment of every command, so that
// reap can find the processes the job left behind.
const jobEnv = "CLUSTRO_TF_JOB"

// job is the state of one running job: its directory, its own
// *tfexec.Terraform (never shared: commands set its stdout and stderr), its
// redactor and its raw log.
type job struct {
	Job
	run      runConfig
	dir      string // the job's directory, removed at the end
	planFile string
	varFile  string // "" when the job has no variables
	tf       *tfexec.Terraform
	red      *redactor
	log      strings.Builder // unredacted: redact before it leaves the job
	logger   zerolog.Logger
	summary  string // the plan's summary line, for the last log line
}

// do runs fn as a job on ws: it takes the workspace lock, then a slot,
// prepares the job's directory, runs fn under the job's timeout, and
// cleans up. It returns the job's redacted log, its duration, and fn's
// error. ran reports whether fn was called.
func (r *Runner) do(ctx context.Context, ws Workspace, op Operation, opts []RunOption, fn func(context.Context, *job) error) (log string, dur time.Duration, ran bool, err error) {
	ws, err = ws.check()
	if err != nil {
		return "", 0, false, fmt.Errorf("terraform %s: %w", op, err)
	}
	var rc runConfig
	for _, o := range opts {
		o.configureRun(&rc)
	}
	if err := rc.check(op); err != nil {
		return "", 0, false, fmt.Errorf("terraform %s %s: %w", op, ws.Dir, err)
	}
	j := &job{
		Job: Job{ID: rand.Text(), Workspace: ws.Dir, Operation: op, Background: rc.background},
		run: rc,
		red: newRedactor(slices.Concat(r.cfg.secrets, rc.secrets)...),
	}
	for _, v := range rc.vars {
		j.red.addDerived(v)
	}
	j.logger = r.cfg.logger.With().Str("workspace", ws.Dir).Str("operation", string(op)).Str("job", j.ID).Logger()

	unlock, err := r.cfg.locker.LockWorkspace(ctx, ws.Dir)
	if err != nil {
		return "", 0, false, fmt.Errorf("terraform %s %s: lock workspace: %w", op, ws.Dir, err)
	}
	defer func() {
		if err := unlock(); err != nil {
			j.logger.Error().Str("error", j.red.String(err.Error())).Msg("unlock workspace")
		}
	}()
	// The workspace lock is taken before the slot: a job waiting for a slot
	// holds its workspace, delaying that workspace's other jobs only.
	var preempt func()
	if rc.background {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		preempt = func() {
			j.logger.Info().Msg("background job preempted by a foreground job")
			cancel(ErrPreempted)
		}
	}
	release, err := r.slots.acquire(ctx, rc.background, preempt)
	if err != nil {
		return "", 0, false, fmt.Errorf("terraform %s %s: wait for a slot: %w", op, ws.Dir, err)
	}
	defer release()

	timeout := r.cfg.timeout
	if rc.timeout > 0 {
		timeout = rc.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	if r.cfg.hooks.OnStart != nil {
		r.cfg.hooks.OnStart(j.Job)
	}
	j.logger.Info().Msg("terraform job started")
	err = r.prepare(j, ws, rc)
	if err == nil {
		ran = true
		err = fn(ctx, j)
	}
	j.cleanup()
	dur = time.Since(start)
	if err != nil {
		j.logger.Error().Dur("duration", dur).Str("error", err.Error()).Msg("terraform job failed")
	} else {
		j.logger.Info().Dur("duration", dur).Str("summary", j.summary).Msg("terraform job finished")
	}
	if r.cfg.hooks.OnEnd != nil {
		r.cfg.hooks.OnEnd(j.Job, err)
	}
	return j.red.String(j.log.String()), dur, ran, err
}

// prepare makes the job's directory: a copy of the workspace and its local
// modules, an empty HOME, the var file; and the job's *tfexec.Terraform,
// whose environment it builds from scratch.
func (r *Runner) prepare(j *job, ws Workspace, rc runConfig) error {
	wsEnv, err := r.cfg.envFor(ws)
	if err != nil {
		return fmt.Errorf("terraform %s %s: %w", j.Operation, ws.Dir, err)
	}
	dir, err := os.MkdirTemp(r.cfg.workdirRoot, "clustro-tf-")
	if err != nil {
		return fmt.Errorf("terraform %s %s: make job directory: %w", j.Operation, ws.Dir, err)
	}
	j.dir = dir
	tree := filepath.Join(dir, "tree")
	if err := copyWorkspace(ws.Root, ws.Dir, tree); err != nil {
		return fmt.Errorf("terraform %s %s: copy workspace: %w", j.Operation, ws.Dir, err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return fmt.Errorf("terraform %s %s: make home: %w", j.Operation, ws.Dir, err)
	}
	j.planFile = filepath.Join(dir, "plan.tfplan")
	if len(rc.vars) > 0 {
		j.varFile = filepath.Join(dir, "secrets.tfvars.json")
		b, err := json.Marshal(rc.vars)
		if err != nil {
			return fmt.Errorf("terraform %s %s: encode variables: %w", j.Operation, ws.Dir, err)
		}
		if err := os.WriteFile(j.varFile, b, 0o600); err != nil {
			return fmt.Errorf("terraform %s %s: write var file: %w", j.Operation, ws.Dir, err)
		}
	}

	tf, err := tfexec.NewTerraform(filepath.Join(tree, filepath.FromSlash(ws.Dir)), r.cfg.binary)
	if err != nil {
		return fmt.Errorf("terraform %s %s: %w", j.Operation, ws.Dir, err)
	}
	// TF_IN_AUTOMATION=1 is set by terraform-exec itself, which refuses it
	// here.
	env := map[string]string{
		"PATH":               r.path,
		"HOME":               home,
		"CHECKPOINT_DISABLE": "1",
		jobEnv:               j.ID,
	}
	if r.cfg.cliConfig != "" {
		env["TF_CLI_CONFIG_FILE"] = r.cfg.cliConfig
	}
	maps.Copy(env, wsEnv)
	if err := tf.SetEnv(env); err != nil {
		return fmt.Errorf("terraform %s %s: %w", j.Operation, ws.Dir, err)
	}
	// SetWaitDelay fails only on Windows, where terraform cannot be
	// interrupted gracefully and is killed at once.
	_ = tf.SetWaitDelay(r.cfg.waitDelay)
	j.tf = tf
	return nil
}

// cleanup kills what the job's commands left running and removes its
// directory. Failures are logged: the job's result stands.
func (j *job) cleanup() {
	n, err := reap(j.ID)
	if err != nil {
		j.logger.Error().Str("error", err.Error()).Msg("find leftover processes")
	}
	if n > 0 {
		j.logger.Warn().Int("processes", n).Msg("killed processes left behind by terraform")
	}
	if j.dir != "" {
		if err := os.RemoveAll(j.dir); err != nil {
			j.logger.Error().Str("error", err.Error()).Msg("remove job directory")
		}
	}
}

// exec runs one terraform command through call, adding what it prints to
// the job's log. With quiet its stdout is left out: it is JSON holding
// sensitive values in the clear. A failure is returned as an *Error.
func (j *job) exec(ctx context.Context, command string, quiet bool, call func() error) error {
	var out syncbuf.Buffer
	if quiet {
		j.tf.SetStdout(nil)
	} else {
		j.tf.SetStdout(&out)
	}
	j.tf.SetStderr(&out)
	defer func() {
		j.tf.SetStdout(nil)
		j.tf.SetStderr(nil)
	}()

	start := time.Now()
	j.logger.Debug().Str("command", command).Msg("terraform command started")
	err := call()
	output := out.String()
	fmt.Fprintf(&j.log, "$ terraform %s\n%s", command, output)
	if output != "" && !strings.HasSuffix(output, "\n") {
		j.log.WriteByte('\n')
	}
	if err != nil {
		e := &Error{
			Command:   command,
			Workspace: j.Workspace,
			Output:    tail(j.red.String(output)),
			Err:       j.cause(ctx, err),
		}
		j.logger.Info().Str("command", command).Dur("duration", time.Since(start)).Str("error", e.Err.Error()).Msg("terraform command failed")
		return e
	}
	j.logger.Info().Str("command", command).Dur("duration", time.Since(start)).Msg("terraform command finished")
	return nil
}

// cause is what an *Error wraps for err, a command's failure: the context's
// error when the job was cancelled or timed out (wrapped with ErrPreempted
// when a foreground job preempted it), the *exec.ExitError when
// terraform exited non-zero (terraform-exec's own error repeats stderr,
// unredacted), or else err, redacted.
func (j *job) cause(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(context.Cause(ctx), ErrPreempted) {
			return fmt.Errorf("%w: %w", ErrPreempted, ctxErr)
		}
		return ctxErr
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit
	}
	if msg := j.red.String(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
