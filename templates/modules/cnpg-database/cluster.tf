# Created when missing and never deleted: several databases share a namespace.
resource "kubectl_manifest" "namespace" {
  count      = local.platform.create_namespace ? 1 : 0
  apply_only = true
  yaml_body = yamlencode({
    apiVersion = "v1"
    kind       = "Namespace"
    metadata = {
      name = var.namespace
      labels = {
        "app.kubernetes.io/managed-by" = "clustropg"
        "clustropg.io/team"            = var.team
      }
    }
  })
}

# force_conflicts: the reviewed code owns the fields it sets. A hand edit
# (kubectl edit, patch) takes a field's ownership; without it the next
# apply, and the reconcile meant to undo the edit, would fail on the
# conflict instead of putting the reviewed value back.
resource "kubectl_manifest" "cluster" {
  server_side_apply = true
  force_conflicts   = true
  wait              = true
  yaml_body = yamlencode({
    apiVersion = "postgresql.cnpg.io/v1"
    kind       = "Cluster"
    metadata = {
      name      = var.name
      namespace = var.namespace
      labels    = local.labels
    }
    spec = merge(
      {
        instances = var.instances
        imageName = local.image
        postgresql = {
          parameters = local.preset.parameters
        }
        storage    = local.storage
        walStorage = local.wal_storage
        resources = {
          requests = {
            cpu    = local.preset.cpu_request
            memory = local.preset.memory_request
          }
          limits = {
            cpu    = local.preset.cpu_limit
            memory = local.preset.memory_limit
          }
        }
      },
      # A new database starts empty (initdb) or, for a restore, from the
      # source's backups (recovery), with the same app database and owner.
      local.restore ? {} : {
        bootstrap = {
          initdb = {
            database = "app"
            owner    = "app"
          }
        }
      },
      local.restore ? {
        bootstrap = {
          recovery = merge(
            {
              source   = "origin"
              database = "app"
              owner    = "app"
            },
            var.restore_target_time == null ? {} : {
              recoveryTarget = {
                targetTime = var.restore_target_time
              }
            },
          )
        }
      } : {},
      # The source, read through the Barman Cloud plugin. This database's
      # own WAL archiving (plugins, below) writes to its own ObjectStore and
      # serverName, never to the source's.
      local.restore ? {
        externalClusters = [{
          name = "origin"
          plugin = {
            name = "barman-cloud.cloudnative-pg.io"
            parameters = {
              barmanObjectName = local.barman.source.object_store
              serverName       = local.barman.source.server_name
            }
          }
        }]
      } : {},
      local.backups ? {
        plugins = [{
          name          = "barman-cloud.cloudnative-pg.io"
          isWALArchiver = true
          parameters = {
            barmanObjectName = local.object_store_name
          }
        }]
      } : {},
    )
  })

  lifecycle {
    precondition {
      condition     = var.restore_target_time == null || var.restore_source != null
      error_message = "restore_target_time is set without restore_source: a target time belongs to a restore."
    }
    precondition {
      condition     = var.restore_source != var.name
      error_message = "restore_source names this database: a restore makes a new database next to its source and never overwrites one."
    }
  }

  depends_on = [kubectl_manifest.namespace]
}
