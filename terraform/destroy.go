package terraform

import "context"

// Destroy destroys everything ws manages: init, `plan -destroy -out` to a
// file, then `apply` of exactly that plan file. Like Apply, it returns the
// result with the error when the job ran and failed.
func (r *Runner) Destroy(ctx context.Context, ws Workspace, opts ...RunOption) (*ApplyResult, error) {
	return r.apply(ctx, ws, OpDestroy, opts)
}
