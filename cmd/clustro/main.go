// Command clustro is ClustroPG: self-service PostgreSQL on Kubernetes,
// requested in Slack or Backstage, reviewed as Terraform pull requests and
// provisioned by CloudNativePG.
//
// main only wires the process to run, which tests call directly with their
// own arguments, environment and streams.
package main

import (
	"context"
	"io"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

func main() { cli.Main(run) }

// env is the process environment as the commands see it.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    zerolog.Logger
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr,
		log: zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).With().Timestamp().Logger()}
	root := &cobra.Command{
		Use:   "clustro",
		Short: "Self-service PostgreSQL on Kubernetes, reviewed as code",
	}
	root.AddCommand(serveCmd(e), renderCmd(e), verifyCmd(e), sizesCmd(e), bootstrapCmd(e), healthcheckCmd(e))
	return cli.Execute(ctx, root, args, stdin, stdout, stderr)
}
