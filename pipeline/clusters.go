package pipeline

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/terraform"
)

// KubeClusters is Clusters on the Kubernetes API of each environment's
// cluster (package kube). A database is only ever looked for on its own
// environment's cluster.
type KubeClusters struct {
	// Clients is the client of each environment's cluster, by environment;
	// an environment it does not list is an error.
	Clients map[string]*kube.Client
	// Timeout caps the wait for a ready cluster (default kube.DefaultWaitTimeout).
	Timeout time.Duration
	// Mode is how the credentials are checked before a database is ready.
	Mode kube.CheckMode
}

// For is the client of env's cluster.
func (k KubeClusters) For(env string) (*kube.Client, error) {
	if c, ok := k.Clients[env]; ok && c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("environment %s has no cluster (kubernetes.clusters)", env)
}

// WaitReady waits for the CloudNativePG Cluster, reporting each new phase.
func (k KubeClusters) WaitReady(ctx context.Context, env, namespace, name string, progress func(string)) error {
	c, err := k.For(env)
	if err != nil {
		return err
	}
	opts := []kube.WaitOption{kube.OnProgress(func(s kube.Status) {
		if s.Found && s.Phase != "" {
			progress(fmt.Sprintf("%s (%d/%d instances ready)", s.Phase, s.ReadyInstances, s.Instances))
		}
	})}
	if k.Timeout > 0 {
		opts = append(opts, kube.Timeout(k.Timeout))
	}
	_, err = c.WaitReady(ctx, namespace, name, opts...)
	return err
}

// Check reads the app secret and connects once with its credentials.
func (k KubeClusters) Check(ctx context.Context, env, namespace, name string) (request.ReadyInfo, error) {
	c, err := k.For(env)
	if err != nil {
		return request.ReadyInfo{}, err
	}
	conn, err := c.Connection(ctx, namespace, name)
	if err != nil {
		return request.ReadyInfo{}, err
	}
	if err := c.CheckConnection(ctx, conn, k.Mode); err != nil {
		return request.ReadyInfo{}, err
	}
	return request.ReadyInfo{
		Namespace: namespace, Cluster: name, RWHost: conn.RWHost, ROHost: conn.ROHost, Port: conn.Port,
		Database: conn.Database, User: conn.User, Secret: conn.SecretName, SecretHint: conn.Hint,
	}, nil
}

// Backups reads the base backups of a cluster and its recovery window.
func (k KubeClusters) Backups(ctx context.Context, env, namespace, name string) (request.BackupSet, error) {
	c, err := k.For(env)
	if err != nil {
		return request.BackupSet{}, err
	}
	list, err := c.Backups(ctx, namespace, name)
	if err != nil {
		return request.BackupSet{}, err
	}
	w, err := c.RecoveryWindow(ctx, namespace, name)
	if err != nil {
		return request.BackupSet{}, err
	}
	set := request.BackupSet{Base: make([]request.BaseBackup, 0, len(list)), Window: request.RecoveryWindow{
		First: w.First, Last: w.Last(time.Now().UTC()), Archiving: w.Archiving, ArchivingReason: strings.TrimPrefix(w.ArchivingReason+": "+w.ArchivingMessage, ": "),
		LastBackup: w.LastBackup, LastFailedBackup: w.LastFailedBackup,
	}}
	for _, b := range list {
		set.Base = append(set.Base, baseBackup(b))
	}
	return set, nil
}

// TakeBackup creates (or reads again) the on-demand Backup named backup.
func (k KubeClusters) TakeBackup(ctx context.Context, env, namespace, name, backup string) (request.BaseBackup, error) {
	c, err := k.For(env)
	if err != nil {
		return request.BaseBackup{}, err
	}
	b, err := c.CreateBackup(ctx, namespace, name, backup)
	if err != nil {
		return request.BaseBackup{}, err
	}
	return baseBackup(b), nil
}

func baseBackup(b kube.Backup) request.BaseBackup {
	return request.BaseBackup{Name: b.Name, Phase: b.Phase, Started: b.Started, Stopped: b.Stopped, ID: b.ID, Error: b.Error,
		OnDemand: b.OnDemand}
}

// ClusterEnv adapts envOf, the terraform environment of an environment's
// cluster, to terraform.WithWorkspaceEnv: a workspace at
// databases/<env>/<team>/<name> (the pipeline verifies that its files say
// the same environment before it runs) gets env's variables only.
func ClusterEnv(envOf func(env string) (map[string]string, error)) func(terraform.Workspace) (map[string]string, error) {
	return func(ws terraform.Workspace) (map[string]string, error) {
		env, err := WorkspaceEnvironment(ws.Dir)
		if err != nil {
			return nil, err
		}
		return envOf(env)
	}
}

// WorkspaceEnvironment is the environment of the workspace at dir,
// databases/<env>/<team>/<name> (templates.WorkspaceDir).
func WorkspaceEnvironment(dir string) (string, error) {
	parts := strings.Split(path.Clean(dir), "/")
	if len(parts) != 4 || parts[0] != "databases" || parts[1] == "" {
		return "", fmt.Errorf("workspace %s is not at databases/<env>/<team>/<name>: no environment, no cluster", dir)
	}
	return parts[1], nil
}
