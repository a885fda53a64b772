package templates

// ModuleREADME is the README `clustro bootstrap` writes next to the module.
const ModuleREADME = `# cnpg-database

A PostgreSQL cluster on Kubernetes through the CloudNativePG operator, as
ClustroPG requests it. Written by ` + "`clustro bootstrap`" + `: change the platform
config and run it again rather than editing these files.

Creates, with the gavinbunney/kubectl provider: the namespace (once, never
deleted), the CloudNativePG ` + "`Cluster`" + `, and when asked a Barman Cloud plugin
` + "`ObjectStore`" + ` with WAL archiving and a ` + "`ScheduledBackup`" + ` (six-field cron,
seconds first), a ` + "`PodMonitor`" + `, a nightly pg_dump ` + "`CronJob`" + ` and one
CloudNativePG ` + "`Database`" + ` per extra database.

Inputs mirror the request: name, team, environment, namespace, size,
instances, postgres_version, storage, backup_schedule, backup_hour,
backup_retention, logical_backup, databases. ` + "`platform.tf`" + ` holds the sizing
table, the images, the object store and Grafana, generated from the platform
config. Outputs: namespace, cluster_name, rw_host, ro_host, app_secret_name,
grafana_url.
`

// RepoREADME is the README `clustro bootstrap` adds to an infra repository
// that has none.
const RepoREADME = `# Infrastructure

Databases are requested through ClustroPG (Slack ` + "`/pg new`" + ` or Backstage) and
arrive here as pull requests: one workspace per database in
` + "`databases/<env>/<team>/<name>/`" + `, using ` + "`modules/cnpg-database`" + `. ClustroPG plans
each pull request, applies it when it is merged, and refuses any change to a
workspace beyond the values reviewers may edit (size, instances, storage,
postgres_version, backups, logical_backup, databases).
`
