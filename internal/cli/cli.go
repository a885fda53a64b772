// Package cli holds what ClustroPG's commands (clustro, clustro-demo) share
// about running as a process: main hands the process to a run function
// that tests call directly, and an error becomes the exit status (0 done,
// 1 failed, 2 bad input, or a status chosen for an outcome already
// reported).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Run is a command's whole life, with its arguments, environment and
// streams given, so that tests can call it as main does.
type Run func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// Main runs run with the process's arguments, environment and streams,
// cancelled on SIGINT or SIGTERM, and exits with ExitCode of its error.
func Main(run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(ExitCode(err))
}

// usageError is bad input: exit status 2, nothing done.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Usagef is bad input, described: the command exits with status 2.
func Usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is bad input (Usagef).
func IsUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

// exitError carries an exit status for an outcome already reported.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Exit is an outcome the command has already reported (such as verify's
// violations): it exits with code and prints nothing more.
func Exit(code int) error { return &exitError{code: code} }

// Reported reports whether err is an Exit, already told to the user.
func Reported(err error) bool {
	var ee *exitError
	return errors.As(err, &ee)
}

// ExitCode is the exit status for err: 0 for nil, 2 for bad input, the
// code of an Exit, else 1.
func ExitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case IsUsage(err):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// Execute runs a cobra command tree as ClustroPG's commands do: with the
// given arguments and streams, flag and argument errors as bad input, and
// every error but an Exit printed on stderr, each line prefixed with the
// command's name.
func Execute(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usagef("%v", err) })
	err := root.ExecuteContext(ctx)
	if err == nil {
		return nil
	}
	if !Reported(err) {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, root.Name()+":", line)
		}
	}
	if !IsUsage(err) && isCobraUsage(err) {
		return &usageError{err.Error()}
	}
	return err
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of arguments), which are bad input too.
func isCobraUsage(err error) bool {
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}
