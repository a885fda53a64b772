package terraform

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// ApplyResult is what an Apply or a Destroy did. Every string in it is
// redacted.
type ApplyResult struct {
	// Plan is the plan that was applied.
	Plan *Plan
	// Outputs are the root module's outputs whose values are strings and
	// not sensitive, after the apply. Destroy leaves it nil.
	Outputs map[string]string
	// RawOutputs is `terraform output -json`, with the value of every
	// sensitive output replaced by null. Destroy leaves it nil.
	RawOutputs json.RawMessage
	// Duration is how long the job took, and Log what its commands printed.
	Duration time.Duration
	Log      string
}

// Apply applies ws: init, `plan -out` to a file, then `apply` of exactly
// that plan file, and reads the outputs. With Approve, the plan file is
// applied only when the approve function accepts its Plan. When the job ran
// and failed (or its plan was not approved), the result is returned with
// the error: its Log (and Plan, when planning succeeded) are what a failure
// report needs.
func (r *Runner) Apply(ctx context.Context, ws Workspace, opts ...RunOption) (*ApplyResult, error) {
	return r.apply(ctx, ws, OpApply, opts)
}

// apply is Apply, or Destroy when op is OpDestroy.
func (r *Runner) apply(ctx context.Context, ws Workspace, op Operation, opts []RunOption) (*ApplyResult, error) {
	res := &ApplyResult{}
	log, dur, ran, err := r.do(ctx, ws, op, opts, func(ctx context.Context, j *job) error {
		if err := j.init(ctx, true); err != nil {
			return err
		}
		p, err := j.plan(ctx, op == OpDestroy)
		if err != nil {
			return err
		}
		res.Plan = p
		if j.run.approve != nil {
			if err := j.run.approve(p); err != nil {
				return fmt.Errorf("terraform %s %s: %w: %w", op, j.Workspace, ErrNotApproved, err)
			}
		}
		err = j.exec(ctx, "apply", false, func() error {
			return j.tf.Apply(ctx, tfexec.DirOrPlan(j.planFile))
		})
		if err != nil {
			return err
		}
		if op == OpDestroy {
			return nil
		}
		res.Outputs, res.RawOutputs, err = j.outputs(ctx)
		return err
	})
	if !ran {
		return nil, err
	}
	res.Log, res.Duration = log, dur
	return res, err
}

// outputs reads the root module's outputs. The strings of sensitive outputs
// are redacted from then on, and left out.
func (j *job) outputs(ctx context.Context) (map[string]string, json.RawMessage, error) {
	var metas map[string]tfexec.OutputMeta
	err := j.exec(ctx, "output -json", true, func() (err error) {
		metas, err = j.tf.Output(ctx)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	for _, m := range metas {
		if m.Sensitive {
			var v any
			if json.Unmarshal(m.Value, &v) == nil {
				var values []string
				collectStrings(v, &values)
				j.red.addDerived(values...)
			}
		}
	}
	values := map[string]string{}
	for name, m := range metas {
		if m.Sensitive {
			m.Value = json.RawMessage("null")
			metas[name] = m
			continue
		}
		var s string
		if json.Unmarshal(m.Value, &s) == nil {
			values[name] = j.red.String(s)
		}
	}
	raw, err := json.Marshal(metas)
	if err != nil {
		return nil, nil, fmt.Errorf("terraform output %s: encode outputs: %w", j.Workspace, err)
	}
	return values, json.RawMessage(j.red.String(string(raw))), nil
}
