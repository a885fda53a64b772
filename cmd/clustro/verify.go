package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/clustropg/clustro/templates"
)

func verifyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check a workspace against the allowlist and print the request it describes",
		Long: `Verify parses DIR (databases/<env>/<team>/<name>) without evaluating anything and
accepts only what clustro render could have written, with the values a reviewer
may edit. It prints the request as JSON, or every violation as file:line and
exits with status 1.`,
		Args: cobra.ExactArgs(1),
	}
	cfgPath := configFlag(cmd, e)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		tc, err := templates.New(cfg.Templates())
		if err != nil {
			return cli.Usagef("%v", err)
		}
		spec, err := tc.Verify(args[0])
		var vs templates.Violations
		if errors.As(err, &vs) {
			fmt.Fprintf(e.stderr, "%s: refused, %d violation(s):\n%s\n", args[0], len(vs), vs.Error())
			return cli.Exit(1)
		}
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(spec, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	return cmd
}
