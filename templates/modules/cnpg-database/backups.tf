# Continuous backups through the Barman Cloud plugin (the in-tree
# barmanObjectStore is deprecated since CloudNativePG 1.26).
resource "kubectl_manifest" "object_store" {
  count             = local.backups ? 1 : 0
  server_side_apply = true
  force_conflicts   = true
  yaml_body = yamlencode({
    apiVersion = "barmancloud.cnpg.io/v1"
    kind       = "ObjectStore"
    metadata = {
      name      = local.object_store_name
      namespace = var.namespace
      labels    = local.labels
    }
    spec = {
      retentionPolicy = var.backup_retention
      configuration = {
        destinationPath = local.destination_path
        endpointURL     = local.platform.object_store.endpoint_url
        s3Credentials   = local.s3_credentials
        wal = {
          compression = local.platform.object_store.wal_compression
        }
      }
    }
  })

  depends_on = [kubectl_manifest.namespace]
}

resource "kubectl_manifest" "scheduled_backup" {
  count             = local.backups ? 1 : 0
  server_side_apply = true
  force_conflicts   = true
  yaml_body = yamlencode({
    apiVersion = "postgresql.cnpg.io/v1"
    kind       = "ScheduledBackup"
    metadata = {
      name      = "${var.name}-${var.backup_schedule}"
      namespace = var.namespace
      labels    = local.labels
    }
    spec = {
      schedule             = local.backup_cron[var.backup_schedule]
      immediate            = true
      backupOwnerReference = "self"
      method               = "plugin"
      pluginConfiguration = {
        name = "barman-cloud.cloudnative-pg.io"
      }
      cluster = {
        name = var.name
      }
    }
  })

  depends_on = [kubectl_manifest.cluster, kubectl_manifest.object_store]
}
