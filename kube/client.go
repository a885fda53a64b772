package kube

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// clusterResource is CloudNativePG's Cluster.
var clusterResource = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}

// Client reads CloudNativePG Clusters and their Secrets.
type Client struct {
	cfg  *rest.Config
	dyn  dynamic.Interface
	core kubernetes.Interface
}

// Option configures New.
type Option interface {
	configureClient(*clientConfig)
}

type clientConfig struct {
	userAgent string
}

type userAgentOption string

func (o userAgentOption) configureClient(c *clientConfig) { c.userAgent = string(o) }

// UserAgent sets the User-Agent of requests to the API server
// (default: client-go's).
func UserAgent(ua string) Option { return userAgentOption(ua) }

// New returns a Client for the API server of cfg.
func New(cfg *rest.Config, opts ...Option) (*Client, error) {
	if cfg == nil {
		return nil, fmt.Errorf("kube: new client: no rest.Config")
	}
	var c clientConfig
	for _, o := range opts {
		o.configureClient(&c)
	}
	cfg = rest.CopyConfig(cfg)
	if c.userAgent != "" {
		cfg.UserAgent = c.userAgent
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: new dynamic client: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: new client: %w", err)
	}
	return &Client{cfg: cfg, dyn: dyn, core: core}, nil
}

// LoadConfig returns the client configuration of the kubeconfig at path,
// in context when it is not empty (else the kubeconfig's current context).
// With path empty it uses the in-cluster configuration when running in a
// pod, and otherwise the usual kubeconfig rules ($KUBECONFIG, ~/.kube/config).
func LoadConfig(path, context string) (*rest.Config, error) {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	if path != "" {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, overrides).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kube: load kubeconfig %s%s: %w", path, inContext(context), err)
		}
		return cfg, nil
	}
	if context == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		} else if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("kube: in-cluster configuration: %w", err)
		}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kube: load kubeconfig%s: %w", inContext(context), err)
	}
	return cfg, nil
}

// InClusterConfig returns the configuration of the service account of the
// pod this process runs in; outside a pod it fails, never falling back to a
// kubeconfig.
func InClusterConfig() (*rest.Config, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("kube: in-cluster configuration: %w", err)
	}
	return cfg, nil
}

func inContext(context string) string {
	if context == "" {
		return ""
	}
	return " context " + context
}
