package terraform

import (
	"context"
	"fmt"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// Validate checks ws's configuration: `init -backend=false` (providers are
// installed, the backend is not touched, so it needs no cluster or bucket),
// then `validate`. An invalid configuration is an *Error wrapping
// ErrInvalidConfig, its Output listing terraform's diagnostics.
func (r *Runner) Validate(ctx context.Context, ws Workspace, opts ...RunOption) error {
	_, _, _, err := r.do(ctx, ws, OpValidate, opts, func(ctx context.Context, j *job) error {
		if err := j.init(ctx, false); err != nil {
			return err
		}
		var out *tfjson.ValidateOutput
		err := j.exec(ctx, "validate", true, func() (err error) {
			out, err = j.tf.Validate(ctx)
			return err
		})
		if err != nil {
			return err
		}
		diags := formatDiagnostics(out.Diagnostics)
		j.log.WriteString(diags)
		if !out.Valid {
			return &Error{Command: "validate", Workspace: j.Workspace, Output: tail(j.red.String(diags)), Err: ErrInvalidConfig}
		}
		return nil
	})
	return err
}

// formatDiagnostics writes diagnostics much as terraform prints them.
func formatDiagnostics(diags []tfjson.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		severity := "Error"
		if d.Severity == tfjson.DiagnosticSeverityWarning {
			severity = "Warning"
		}
		fmt.Fprintf(&b, "%s: %s\n", severity, d.Summary)
		if d.Range != nil {
			fmt.Fprintf(&b, "  on %s line %d\n", d.Range.Filename, d.Range.Start.Line)
		}
		if d.Detail != "" {
			fmt.Fprintf(&b, "%s\n", d.Detail)
		}
	}
	return b.String()
}
