package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/request"
)

// KubeClusters is Clusters on a Kubernetes API (package kube).
type KubeClusters struct {
	Client *kube.Client
	// Timeout caps the wait for a ready cluster (default kube.DefaultWaitTimeout).
	Timeout time.Duration
	// Mode is how the credentials are checked before a database is ready.
	Mode kube.CheckMode
}

// WaitReady waits for the CloudNativePG Cluster, reporting each new phase.
func (k KubeClusters) WaitReady(ctx context.Context, namespace, name string, progress func(string)) error {
	opts := []kube.WaitOption{kube.OnProgress(func(s kube.Status) {
		if s.Found && s.Phase != "" {
			progress(fmt.Sprintf("%s (%d/%d instances ready)", s.Phase, s.ReadyInstances, s.Instances))
		}
	})}
	if k.Timeout > 0 {
		opts = append(opts, kube.Timeout(k.Timeout))
	}
	_, err := k.Client.WaitReady(ctx, namespace, name, opts...)
	return err
}

// Check reads the app secret and connects once with its credentials.
func (k KubeClusters) Check(ctx context.Context, namespace, name string) (request.ReadyInfo, error) {
	conn, err := k.Client.Connection(ctx, namespace, name)
	if err != nil {
		return request.ReadyInfo{}, err
	}
	if err := k.Client.CheckConnection(ctx, conn, k.Mode); err != nil {
		return request.ReadyInfo{}, err
	}
	return request.ReadyInfo{
		Namespace: namespace, Cluster: name, RWHost: conn.RWHost, ROHost: conn.ROHost, Port: conn.Port,
		Database: conn.Database, User: conn.User, Secret: conn.SecretName, SecretHint: conn.Hint,
	}, nil
}
