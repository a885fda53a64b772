// Package controlplane runs an offline Kubernetes control plane, etcd and
// kube-apiserver built by `make tools`, for ClustroPG's tests, the e2e
// harness and the demo. It installs the CloudNativePG CustomResourceDefinitions
// (the real ones from ../shared/cnpg/crds when present, otherwise minimal
// embedded ones) and writes a kubeconfig that terraform, kubectl and
// client-go accept.
//
// No kube-controller-manager, scheduler or kubelet runs: there is no garbage
// collection, no namespace deletion, no pods. Because no CloudNativePG
// operator runs either, RunOperator starts a stand-in that plays its part
// against a real local PostgreSQL: it creates a database and role per
// Cluster, writes the <cluster>-app Secret, reports the Cluster healthy (or
// slow, failing or degraded, as a test asks) with its instance names and
// primary as CloudNativePG does, fails it over to another instance on
// request (Operator.Failover), and emits Events as it goes.
//
// It also plays the Barman Cloud plugin, with a hybrid of servers:
//
//   - A Cluster without a WAL archiver plugin entry or bootstrap.recovery
//     is a role and a database in the one shared server of
//     OperatorOptions.PostgresDSN (fast: nothing to start).
//   - A Cluster whose spec.plugins has barman-cloud.cloudnative-pg.io with
//     isWALArchiver, or that recovers from a backup, gets its own
//     PostgreSQL 15 server (internal/barman) in a directory under
//     OperatorOptions.WorkDir, on its own port, which its app Secret names
//     and its Database objects are made in. It is stopped, and its
//     directory removed, when the Cluster is deleted or the stand-in stops
//     (its data does not outlive the stand-in). The choice is made when
//     the stand-in first provisions the Cluster: one given a WAL archiver
//     entry later keeps the shared server and its data, and reports
//     ContinuousArchiving False saying why (its Backups fail).
//
// An archiving Cluster's server archives its WAL with
// barman-cloud-wal-archive to the ObjectStore its plugin entry names
// (destinationPath, endpointURL, and the credentials of the Secret the
// ObjectStore names), under the plugin's serverName parameter (by default
// the Cluster's name). Its ContinuousArchiving condition turns True once
// a segment is archived, False with the archiver's error when archiving
// fails, or with the reason while the ObjectStore or its Secret cannot be
// read (the server runs without archiving meanwhile, and is restarted on
// its port with archiving once they can). Backup objects with method plugin run barman-cloud-backup in
// the background (status phase started, running, then completed with
// backupId, beginWal, endWal, beginLSN, endLSN, startedAt, stoppedAt,
// serverName and destinationPath, or failed with error); after one,
// the Cluster shows firstRecoverabilityPoint and lastSuccessfulBackup and
// the ObjectStore status.serverRecoveryWindow. ScheduledBackups create
// Backups named <scheduledbackup>-<YYYYMMDDhhmmss> on their six-field
// schedule (see cronSchedule for the forms understood) and at once with
// spec.immediate; Operator.RunScheduledBackup makes one now.
//
// A Cluster with bootstrap.recovery.source naming an externalClusters
// entry with the plugin (barmanObjectName, serverName) is restored from
// that ObjectStore with barman-cloud-restore to recoveryTarget.targetTime
// (or backupID, or the end of the archive) into its own server; the
// restored application database is renamed after the new Cluster and
// given to its role, whose password is its new app Secret's. A restore
// that fails keeps the Cluster in phase "Setting up primary", not ready,
// with the error as phaseReason and a Warning Event. A recovered Cluster
// with a WAL archiver entry archives its own WAL once promoted (never into
// the server it recovered from). A new run of the stand-in starts new,
// empty servers for the Clusters it finds (recovering ones restore again);
// those it found ready stay ready meanwhile.
//
// Start and the stand-in return once ready; both run until Stop. Processes
// run in their own process group, which Stop kills.
package controlplane
