package terraform

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNoBinary is returned by Find, and by New when no binary was given and
// Find finds none.
var ErrNoBinary = errors.New("neither terraform nor tofu is on PATH")

// ErrInvalidConfig is the Err of the *Error that Validate returns for a
// workspace whose configuration terraform rejects.
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrNotApproved is wrapped by the error of an Apply or Destroy whose plan
// the Approve function refused; nothing was applied.
var ErrNotApproved = errors.New("plan not approved")

// Error is a terraform command that failed. Its fields are safe to show:
// Output and the message of Err are redacted.
type Error struct {
	// Command is the terraform subcommand, e.g. "plan" or "apply".
	Command string
	// Workspace is the workspace's directory in the repository.
	Workspace string
	// Output is the end of what the command printed, redacted.
	Output string
	// Err is why it failed: context.Canceled or context.DeadlineExceeded
	// when the job was cancelled or timed out, the command's
	// *exec.ExitError when terraform exited non-zero, ErrInvalidConfig from
	// Validate, or another (redacted) error.
	Err error
}

// Error says which command failed on which workspace, and why, followed by
// the end of its output.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "terraform %s %s: ", e.Command, e.Workspace)
	if e.Cancelled() {
		b.WriteString("cancelled: ")
	}
	b.WriteString(e.Err.Error())
	if e.Output != "" {
		b.WriteString("\n")
		b.WriteString(e.Output)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Cancelled reports whether the command was stopped because the job's
// context was cancelled or its timeout expired.
func (e *Error) Cancelled() bool {
	return errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded)
}
