// Package kube is ClustroPG's client-go adapter for what happens after
// terraform apply: wait until a CloudNativePG Cluster is healthy
// (WaitReady), read its <cluster>-app Secret into connection details
// (Connection) and, optionally, connect once to prove it (CheckConnection);
// and, day two, follow every Cluster's health and primary as it changes
// (WatchClusters, a shared informer that re-lists and re-watches by itself
// after errors and hands each Cluster to a handler again at every resync);
// and backups: list a Cluster's Backups (Backups), ask for one through the
// Barman Cloud plugin (CreateBackup) and read what can be restored
// (RecoveryWindow, from the plugin's ObjectStore or the Cluster's status).
//
// The CloudNativePG Go API is not a dependency: Clusters are read through
// the dynamic client as unstructured objects. Passwords never appear in
// what this package formats, logs, marshals or returns as an error: they
// are held as Sensitive values, revealed only on request.
package kube
