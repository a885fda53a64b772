package main

import (
	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/internal/cli"
)

// configFlag adds --config to a command; the default comes from CLUSTRO_CONFIG.
func configFlag(cmd *cobra.Command, e *env) *string {
	return cmd.Flags().String("config", e.getenv("CLUSTRO_CONFIG"), "platform config file (YAML) over the embedded defaults; also CLUSTRO_CONFIG")
}

func loadConfig(e *env, path string) (*config.Config, error) {
	c, err := config.Load(path, e.getenv)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return c, nil
}
