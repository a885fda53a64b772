output "namespace" {
  description = "Namespace of the cluster."
  value       = var.namespace
}

output "cluster_name" {
  description = "Name of the CloudNativePG Cluster."
  value       = var.name
}

output "rw_host" {
  description = "Read-write service (the primary), in-cluster DNS name."
  value       = "${var.name}-rw.${var.namespace}.svc.cluster.local"
}

output "ro_host" {
  description = "Read-only service (the replicas), in-cluster DNS name."
  value       = "${var.name}-ro.${var.namespace}.svc.cluster.local"
}

output "app_secret_name" {
  description = "Secret holding the app user's credentials (written by the operator)."
  value       = "${var.name}-app"
}

output "grafana_url" {
  description = "Grafana dashboard of the cluster, or an empty string."
  value       = local.platform.grafana.url == "" ? "" : "${trimsuffix(local.platform.grafana.url, "/")}/d/${local.platform.grafana.dashboard_uid}/cloudnativepg?${local.platform.grafana.org_id == 0 ? "" : "orgId=${local.platform.grafana.org_id}&"}var-namespace=${var.namespace}&var-cluster=${var.name}"
}
