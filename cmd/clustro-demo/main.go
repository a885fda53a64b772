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
//	make demo ARGS=--restore             # then a backup and a point-in-time restore of it
//	bin/clustro-demo --keep              # leave it running; then, in another terminal:
//	bin/clustro-demo slash "/pg list"    # type a slash command in Slack
//	bin/clustro-demo merge 2             # merge a pull request as a reviewer
//
// main only wires the process to run, which tests call directly with their
// own arguments, environment and streams.
package main

import (
	"context"
	"io"

	"github.com/clustropg/clustro/internal/cli"
)

func main() { cli.Main(run) }

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
	return cli.Execute(ctx, root, args, stdin, stdout, stderr)
}
