// Command clustro-demo runs the whole ClustroPG loop on this machine,
// offline, from a Slack mention to psql on the new database; its slash and
// merge subcommands act on a demo left running with --keep.
//
// It starts the fakes (a Slack fake, the GitHub emulator, an offline
// Kubernetes control plane with a CloudNativePG stand-in, a local
// PostgreSQL) and runs the real `clustro serve` against them as a child
// process. It is a development tool, built apart from clustro so that the
// binary in the image links neither the fakes nor package testing.
//
//	make demo                            # builds bin/clustro and bin/clustro-demo, runs the demo
//	bin/clustro-demo --keep              # leave it running; then, in another terminal:
//	bin/clustro-demo slash "/pg list"    # type a slash command in Slack
//	bin/clustro-demo merge 2             # merge a pull request as a reviewer
//
// main only wires the process to run, which tests call directly with their
// own arguments, environment and streams.
package main

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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// usageError is bad input: exit status 2, nothing done.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// env is the process environment as the commands see it.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	var dir string
	root := demoCmd(e, &dir)
	root.PersistentFlags().StringVar(&dir, "dir", defaultDemoDir,
		"the demo's directory: the demo recreates it each run (store, logs, state.json); slash and merge read its state.json")
	root.AddCommand(slashCmd(e, &dir), mergeCmd(e, &dir))
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	err := root.ExecuteContext(ctx)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "clustro-demo:", line)
		}
	}
	if err != nil && isCobraUsage(err) {
		return &usageError{err.Error()}
	}
	return err
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of arguments), which are usage errors too.
func isCobraUsage(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return false
	}
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}
