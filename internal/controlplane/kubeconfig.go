package controlplane

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// contextName names the cluster, user and context in the kubeconfig.
const contextName = "clustro"

// writeKubeconfig writes a kubeconfig for server whose certificate authority
// is the API server's self-signed certificate file (Terraform's kubernetes
// backend ignores insecure-skip-tls-verify) and returns the matching
// rest.Config, read back from the file so that the two cannot disagree.
func writeKubeconfig(path, server, caFile, token string) (*rest.Config, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: contextName, Namespace: "default"}
	cfg.CurrentContext = contextName
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("read back kubeconfig %s: %w", path, err)
	}
	// Tests create objects in bursts; client-go's default 5 QPS would throttle them.
	rc.QPS, rc.Burst = 100, 200
	return rc, nil
}
