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
        bootstrap = {
          initdb = {
            database = "app"
            owner    = "app"
          }
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

  depends_on = [kubectl_manifest.namespace]
}
