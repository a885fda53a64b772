package config

import (
	"fmt"
	"slices"
	"time"
)

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

var kubernetesEnvVars = []envVar{
	{"CLUSTRO_KUBECONFIG", "kubernetes.kubeconfig: kubeconfig path (default: in-cluster config)", func(c *Config, v string) error { c.Kubernetes.Kubeconfig = v; return nil }},
	{"CLUSTRO_READY_TIMEOUT", "kubernetes.readyTimeout: wait for a ready cluster (default 15m)", func(c *Config, v string) error { return c.Kubernetes.ReadyTimeout.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_CONNECTION_CHECK", "kubernetes.connectionCheck: direct, port-forward or off (default direct)", func(c *Config, v string) error { c.Kubernetes.ConnectionCheck = v; return nil }},
}

// checkKubernetes reports problems with the kubernetes section.
func (c *Config) checkKubernetes() []string {
	var problems []string
	if c.Kubernetes.ReadyTimeout.D() < time.Second {
		problems = append(problems, fmt.Sprintf("kubernetes.readyTimeout (CLUSTRO_READY_TIMEOUT): %s is below 1s", c.Kubernetes.ReadyTimeout.D()))
	}
	if !slices.Contains([]string{"direct", "port-forward", "off"}, c.Kubernetes.ConnectionCheck) {
		problems = append(problems, fmt.Sprintf("kubernetes.connectionCheck (CLUSTRO_CONNECTION_CHECK): %q; allowed: direct, port-forward, off", c.Kubernetes.ConnectionCheck))
	}
	return problems
}
