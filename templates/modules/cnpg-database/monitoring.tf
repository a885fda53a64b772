# The Cluster's monitoring.enablePodMonitor is deprecated: create the
# PodMonitor directly.
resource "kubectl_manifest" "pod_monitor" {
  count             = local.platform.pod_monitor ? 1 : 0
  server_side_apply = true
  force_conflicts   = true
  yaml_body = yamlencode({
    apiVersion = "monitoring.coreos.com/v1"
    kind       = "PodMonitor"
    metadata = {
      name      = var.name
      namespace = var.namespace
      labels    = local.labels
    }
    spec = {
      selector = {
        matchLabels = {
          "cnpg.io/cluster" = var.name
        }
      }
      podMetricsEndpoints = [{
        port = "metrics"
      }]
    }
  })

  depends_on = [kubectl_manifest.namespace]
}
