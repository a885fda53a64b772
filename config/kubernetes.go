package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Kubernetes is how `clustro serve` reaches the clusters' API: which
// cluster each environment's databases live on, and how long it waits for
// them.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig path (CLUSTRO_KUBECONFIG); empty uses the
	// in-cluster config. It is the default cluster: every environment not
	// listed in Clusters uses it (its current context).
	Kubeconfig string `json:"kubeconfig"`
	// Clusters maps environments to clusters of their own, so that prod
	// and dev never share credentials. Once it lists any environment, an
	// environment it does not list needs Kubeconfig set: the in-cluster
	// config is never a silent fallback.
	Clusters map[string]KubeCluster `json:"clusters"`
	// ReadyTimeout caps the wait for a cluster to become ready
	// (CLUSTRO_READY_TIMEOUT, default 15m).
	ReadyTimeout Duration `json:"readyTimeout"`
	// ConnectionCheck is how the credentials are checked before a database
	// is reported ready: direct, port-forward or off
	// (CLUSTRO_CONNECTION_CHECK, default direct).
	ConnectionCheck string `json:"connectionCheck"`
}

// KubeCluster is how one environment's cluster is reached: a kubeconfig
// and, optionally, one of its contexts; or the in-cluster config of the pod
// clustro runs in. Terraform gets the same, as environment variables
// (TerraformEnv): rendered files never name a cluster.
type KubeCluster struct {
	// Kubeconfig is a kubeconfig path; empty takes kubernetes.kubeconfig.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is a context of the kubeconfig; empty uses its current
	// context.
	Context string `json:"context,omitempty"`
	// InCluster uses the service account of the pod clustro runs in.
	InCluster bool `json:"inCluster,omitempty"`
}

// String describes the cluster for logs and errors: no credentials, only
// where they are read from.
func (k KubeCluster) String() string {
	switch {
	case k.InCluster:
		return "in-cluster config"
	case k.Context != "":
		return fmt.Sprintf("kubeconfig %s, context %s", k.Kubeconfig, k.Context)
	default:
		return "kubeconfig " + k.Kubeconfig
	}
}

// TerraformEnv is the environment that points terraform's kubernetes
// backend and the kubectl provider at this cluster: KUBE_CONFIG_PATH and
// KUBE_CTX (both read by the backend and by the provider, as config_path
// and config_context), or for the in-cluster config KUBE_IN_CLUSTER_CONFIG
// (the backend), KUBE_LOAD_CONFIG_FILE=false (the provider then falls back
// to the in-cluster config) and the KUBERNETES_SERVICE_* variables getenv
// returns, which the in-cluster config reads.
func (k KubeCluster) TerraformEnv(getenv func(string) string) map[string]string {
	if k.InCluster {
		env := map[string]string{"KUBE_IN_CLUSTER_CONFIG": "true", "KUBE_LOAD_CONFIG_FILE": "false"}
		for _, name := range []string{"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"} {
			if v := getenv(name); v != "" {
				env[name] = v
			}
		}
		return env
	}
	env := map[string]string{"KUBE_CONFIG_PATH": k.Kubeconfig}
	if k.Context != "" {
		env["KUBE_CTX"] = k.Context
	}
	return env
}

// ClusterFor is the cluster of an environment: its entry in Clusters
// (with the default kubeconfig when the entry names none), else the
// default. ok is false when the environment has none (Load refuses such a
// config for the environments of the policy).
func (k *Kubernetes) ClusterFor(env string) (c KubeCluster, ok bool) {
	if c, listed := k.Clusters[env]; listed {
		if !c.InCluster && c.Kubeconfig == "" {
			c.Kubeconfig = k.Kubeconfig
		}
		return c, c.InCluster || c.Kubeconfig != ""
	}
	if k.Kubeconfig != "" {
		return KubeCluster{Kubeconfig: k.Kubeconfig}, true
	}
	if len(k.Clusters) == 0 {
		return KubeCluster{InCluster: true}, true
	}
	return KubeCluster{}, false
}

var kubernetesEnvVars = []envVar{
	{"CLUSTRO_KUBECONFIG", "kubernetes.kubeconfig: kubeconfig path (default: in-cluster config)", func(c *Config, v string) error { c.Kubernetes.Kubeconfig = v; return nil }},
	{"CLUSTRO_READY_TIMEOUT", "kubernetes.readyTimeout: wait for a ready cluster (default 15m)", func(c *Config, v string) error { return c.Kubernetes.ReadyTimeout.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_CONNECTION_CHECK", "kubernetes.connectionCheck: direct, port-forward or off (default direct)", func(c *Config, v string) error { c.Kubernetes.ConnectionCheck = v; return nil }},
}

// checkKubernetes reports problems with the kubernetes section: every
// environment of the policy must have a cluster, and every cluster listed
// must be an environment's and say how it is reached.
func (c *Config) checkKubernetes() []string {
	var problems []string
	k := &c.Kubernetes
	if k.ReadyTimeout.D() < time.Second {
		problems = append(problems, fmt.Sprintf("kubernetes.readyTimeout (CLUSTRO_READY_TIMEOUT): %s is below 1s", k.ReadyTimeout.D()))
	}
	if !slices.Contains([]string{"direct", "port-forward", "off"}, k.ConnectionCheck) {
		problems = append(problems, fmt.Sprintf("kubernetes.connectionCheck (CLUSTRO_CONNECTION_CHECK): %q; allowed: direct, port-forward, off", k.ConnectionCheck))
	}
	envs := c.Policy.EnvironmentNames()
	for _, env := range slices.Sorted(maps.Keys(k.Clusters)) {
		kc := k.Clusters[env]
		at := "kubernetes.clusters." + env
		if _, ok := c.Policy.Environments[env]; !ok {
			problems = append(problems, fmt.Sprintf("%s: %q is not an environment of policy.environments (%s)", at, env, strings.Join(envs, ", ")))
			continue
		}
		if kc.InCluster && (kc.Kubeconfig != "" || kc.Context != "") {
			problems = append(problems, fmt.Sprintf("%s: inCluster and a kubeconfig or context exclude each other", at))
		}
	}
	for _, env := range envs {
		if _, ok := k.ClusterFor(env); ok {
			continue
		}
		if _, listed := k.Clusters[env]; listed {
			problems = append(problems, fmt.Sprintf("kubernetes.clusters.%s: environment %s has no cluster: set its kubeconfig or inCluster: true, or kubernetes.kubeconfig (CLUSTRO_KUBECONFIG)", env, env))
		} else {
			problems = append(problems, fmt.Sprintf("kubernetes.clusters: environment %s has no cluster: add kubernetes.clusters.%s, or set kubernetes.kubeconfig (CLUSTRO_KUBECONFIG) as the default", env, env))
		}
	}
	return problems
}

// EnvironmentClusters is the cluster of every environment of the policy,
// by environment.
func (c *Config) EnvironmentClusters() map[string]KubeCluster {
	out := make(map[string]KubeCluster, len(c.Policy.Environments))
	for env := range c.Policy.Environments {
		if kc, ok := c.Kubernetes.ClusterFor(env); ok {
			out[env] = kc
		}
	}
	return out
}
