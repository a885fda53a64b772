package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/clustropg/clustro/templates"
)

func bootstrapCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Open a pull request that adds or updates the CloudNativePG module in the infra repository",
		Long: `Bootstrap compares modules/cnpg-database on the infra repository's base branch
with the module this clustro embeds (its platform.tf generated from the platform
config) and, when they differ or the module is missing, opens a pull request
that makes them equal, with a README for the module (and one for the repository
if it has none). Run it after installing ClustroPG and after each change to
the sizing table, images, object store or Grafana settings.

It uses the GitHub settings of serve (CLUSTRO_GITHUB_*).`,
		Args: cobra.NoArgs,
	}
	cfgPath := configFlag(cmd, e)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		if on, missing := cfg.GitHub.Enabled(); !on && missing != "CLUSTRO_GITHUB_WEBHOOK_SECRET" {
			return cli.Usagef("bootstrap needs GitHub: set %s", missing)
		}
		r, err := templates.New(cfg.Templates())
		if err != nil {
			return cli.Usagef("%v", err)
		}
		files, err := r.Module()
		if err != nil {
			return err
		}
		files["README.md"] = []byte(templates.ModuleREADME)
		gh, err := githubClient(cfg, nil)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		res, err := gh.Bootstrap(cmd.Context(), templates.ModuleDir, files, map[string][]byte{"README.md": []byte(templates.RepoREADME)})
		if err != nil {
			return err
		}
		if res.PR.Number == 0 {
			fmt.Fprintf(e.stdout, "%s is up to date on %s: nothing to do\n", templates.ModuleDir, gh.Repo())
			return nil
		}
		fmt.Fprintf(e.stdout, "pull request #%d: %s\n", res.PR.Number, res.PR.URL)
		for _, p := range res.Changed {
			fmt.Fprintf(e.stdout, "  %s\n", p)
		}
		return nil
	}
	return cmd
}
