package config

import (
	"fmt"
	"time"
)

// TerraformRun is how `clustro serve` runs terraform (the terraformRun
// section; templates.Terraform, the terraform section, is how workspaces
// are written).
type TerraformRun struct {
	// Binary is terraform or tofu (CLUSTRO_TERRAFORM; default: terraform,
	// else tofu, on PATH).
	Binary string `json:"binary"`
	// CLIConfig is the terraform CLI config with the provider mirror
	// (CLUSTRO_TERRAFORM_CLI_CONFIG; the container image sets it).
	CLIConfig string `json:"cliConfig"`
	// Parallelism caps terraform runs at once across workspaces
	// (CLUSTRO_TERRAFORM_PARALLELISM, default 2).
	Parallelism int `json:"parallelism"`
	// Timeout caps one plan or apply (CLUSTRO_TERRAFORM_TIMEOUT, default 30m).
	Timeout Duration `json:"timeout"`
}

var terraformRunEnvVars = []envVar{
	{"CLUSTRO_TERRAFORM", "terraformRun.binary: terraform or tofu binary (default: found on PATH)", func(c *Config, v string) error { c.TerraformRun.Binary = v; return nil }},
	{"CLUSTRO_TERRAFORM_CLI_CONFIG", "terraformRun.cliConfig: terraform CLI config with the provider mirror", func(c *Config, v string) error { c.TerraformRun.CLIConfig = v; return nil }},
	{"CLUSTRO_TERRAFORM_PARALLELISM", "terraformRun.parallelism: terraform runs at once (default 2)", func(c *Config, v string) error { return setInt(&c.TerraformRun.Parallelism, v) }},
	{"CLUSTRO_TERRAFORM_TIMEOUT", "terraformRun.timeout: cap on one plan or apply (default 30m)", func(c *Config, v string) error { return c.TerraformRun.Timeout.UnmarshalText([]byte(v)) }},
}

// checkTerraformRun reports problems with the terraformRun section.
func (c *Config) checkTerraformRun() []string {
	var problems []string
	if c.TerraformRun.Parallelism < 1 || c.TerraformRun.Parallelism > 32 {
		problems = append(problems, fmt.Sprintf("terraformRun.parallelism (CLUSTRO_TERRAFORM_PARALLELISM): %d is outside 1-32", c.TerraformRun.Parallelism))
	}
	if c.TerraformRun.Timeout.D() < time.Minute {
		problems = append(problems, fmt.Sprintf("terraformRun.timeout (CLUSTRO_TERRAFORM_TIMEOUT): %s is below 1m", c.TerraformRun.Timeout.D()))
	}
	return problems
}
