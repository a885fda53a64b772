package terraform

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// Plan is the plan of a workspace. Every string in it is redacted.
type Plan struct {
	// Workspace is the workspace's directory in the repository.
	Workspace string
	// HasChanges is terraform's verdict (plan -detailed-exitcode): true
	// when applying the plan would change resources or outputs.
	HasChanges bool
	Summary    Summary
	// Changes lists the resource instances the plan changes, in
	// terraform's order.
	Changes []ResourceChange
	// Text is the human-readable plan (`terraform show` of the plan file,
	// without color). Terraform prints "(sensitive value)" for sensitive
	// values; secrets are redacted besides.
	Text string
	// Log is what the job's commands printed, and Duration how long the
	// job took. Both are set by Runner.Plan; in an ApplyResult they are
	// empty and the ApplyResult has the whole job's.
	Log      string
	Duration time.Duration
}

// Plan plans ws: init, then `plan -out` to a file in the job's directory,
// which it reads back with `show -json` (for Summary and Changes) and
// `show` (for Text).
//
// A job first waits for the workspace's lock, then for a slot (see
// Background for how slots are shared); a cancelled wait returns an error
// wrapping ctx.Err(). A terraform command
// that fails, is cancelled or times out returns an *Error. The same holds
// for Apply, Destroy and Validate.
func (r *Runner) Plan(ctx context.Context, ws Workspace, opts ...RunOption) (*Plan, error) {
	var p *Plan
	log, dur, _, err := r.do(ctx, ws, OpPlan, opts, func(ctx context.Context, j *job) error {
		if err := j.init(ctx, true); err != nil {
			return err
		}
		var err error
		p, err = j.plan(ctx, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Log, p.Duration = log, dur
	return p, nil
}

// PlanDestroy plans the destruction of ws (`plan -destroy`), for the review
// of a pull request that deletes a database. Destroy applies such a plan.
func (r *Runner) PlanDestroy(ctx context.Context, ws Workspace, opts ...RunOption) (*Plan, error) {
	var p *Plan
	log, dur, _, err := r.do(ctx, ws, OpPlan, opts, func(ctx context.Context, j *job) error {
		if err := j.init(ctx, true); err != nil {
			return err
		}
		var err error
		p, err = j.plan(ctx, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Log, p.Duration = log, dur
	return p, nil
}

// plan writes the job's plan file, a destroy plan when destroy is set, and
// reads it back. The values the plan marks sensitive are redacted from
// then on.
func (j *job) plan(ctx context.Context, destroy bool) (*Plan, error) {
	opts := []tfexec.PlanOption{tfexec.Out(j.planFile)}
	command := "plan"
	if destroy {
		opts = append(opts, tfexec.Destroy(true))
		command = "plan -destroy"
	}
	if j.varFile != "" {
		opts = append(opts, tfexec.VarFile(j.varFile))
	}
	var hasChanges bool
	err := j.exec(ctx, command, false, func() (err error) {
		hasChanges, err = j.tf.Plan(ctx, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}

	var pj *tfjson.Plan
	err = j.exec(ctx, "show -json", true, func() (err error) {
		pj, err = j.tf.ShowPlanFile(ctx, j.planFile)
		return err
	})
	if err != nil {
		return nil, err
	}
	j.red.addDerived(sensitiveValues(pj)...)
	summary, changes := summarize(pj)
	summary.DestroyMode = destroy
	j.summary = summary.String()

	var text string
	err = j.exec(ctx, "show", true, func() (err error) {
		text, err = j.tf.ShowPlanFileRaw(ctx, j.planFile)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Plan{
		Workspace:  j.Workspace,
		HasChanges: hasChanges,
		Summary:    summary,
		Changes:    changes,
		Text:       j.red.String(text),
	}, nil
}
