package config

import (
	"fmt"
	"slices"
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

// Kubernetes is how `clustro serve` reaches the clusters' API.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig path (CLUSTRO_KUBECONFIG); empty uses the
	// in-cluster config. Terraform gets it as KUBE_CONFIG_PATH.
	Kubeconfig string `json:"kubeconfig"`
	// ReadyTimeout caps the wait for a cluster to become ready
	// (CLUSTRO_READY_TIMEOUT, default 15m).
	ReadyTimeout Duration `json:"readyTimeout"`
	// ConnectionCheck is how the credentials are checked before a database
	// is reported ready: direct, port-forward or off
	// (CLUSTRO_CONNECTION_CHECK, default direct).
	ConnectionCheck string `json:"connectionCheck"`
}

var runtimeEnvVars = []envVar{
	{"CLUSTRO_TERRAFORM", "terraformRun.binary: terraform or tofu binary (default: found on PATH)", func(c *Config, v string) error { c.TerraformRun.Binary = v; return nil }},
	{"CLUSTRO_TERRAFORM_CLI_CONFIG", "terraformRun.cliConfig: terraform CLI config with the provider mirror", func(c *Config, v string) error { c.TerraformRun.CLIConfig = v; return nil }},
	{"CLUSTRO_TERRAFORM_PARALLELISM", "terraformRun.parallelism: terraform runs at once (default 2)", func(c *Config, v string) error { return setInt(&c.TerraformRun.Parallelism, v) }},
	{"CLUSTRO_TERRAFORM_TIMEOUT", "terraformRun.timeout: cap on one plan or apply (default 30m)", func(c *Config, v string) error { return c.TerraformRun.Timeout.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_KUBECONFIG", "kubernetes.kubeconfig: kubeconfig path (default: in-cluster config)", func(c *Config, v string) error { c.Kubernetes.Kubeconfig = v; return nil }},
	{"CLUSTRO_READY_TIMEOUT", "kubernetes.readyTimeout: wait for a ready cluster (default 15m)", func(c *Config, v string) error { return c.Kubernetes.ReadyTimeout.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_CONNECTION_CHECK", "kubernetes.connectionCheck: direct, port-forward or off (default direct)", func(c *Config, v string) error { c.Kubernetes.ConnectionCheck = v; return nil }},
}

func (c *Config) checkRuntime() []string {
	var problems []string
	if c.TerraformRun.Parallelism < 1 || c.TerraformRun.Parallelism > 32 {
		problems = append(problems, fmt.Sprintf("terraformRun.parallelism (CLUSTRO_TERRAFORM_PARALLELISM): %d is outside 1-32", c.TerraformRun.Parallelism))
	}
	if c.TerraformRun.Timeout.D() < time.Minute {
		problems = append(problems, fmt.Sprintf("terraformRun.timeout (CLUSTRO_TERRAFORM_TIMEOUT): %s is below 1m", c.TerraformRun.Timeout.D()))
	}
	if c.Kubernetes.ReadyTimeout.D() < time.Second {
		problems = append(problems, fmt.Sprintf("kubernetes.readyTimeout (CLUSTRO_READY_TIMEOUT): %s is below 1s", c.Kubernetes.ReadyTimeout.D()))
	}
	if !slices.Contains([]string{"direct", "port-forward", "off"}, c.Kubernetes.ConnectionCheck) {
		problems = append(problems, fmt.Sprintf("kubernetes.connectionCheck (CLUSTRO_CONNECTION_CHECK): %q; allowed: direct, port-forward, off", c.Kubernetes.ConnectionCheck))
	}
	return problems
}
