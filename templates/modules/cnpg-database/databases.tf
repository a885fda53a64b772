# Extra databases, declared with CloudNativePG's Database resource.
resource "kubectl_manifest" "database" {
  for_each          = toset(var.databases)
  server_side_apply = true
  force_conflicts   = true
  yaml_body = yamlencode({
    apiVersion = "postgresql.cnpg.io/v1"
    kind       = "Database"
    metadata = {
      name      = "${var.name}-db-${replace(each.value, "_", "-")}"
      namespace = var.namespace
      labels    = local.labels
    }
    spec = {
      name    = each.value
      owner   = "app"
      ensure  = "present"
      cluster = { name = var.name }
    }
  })

  depends_on = [kubectl_manifest.cluster]
}
