# Managed by ClustroPG: one database, one workspace, one state.
# Reviewers may change the values of size, instances, storage, postgres_version,
# backup_schedule, backup_hour, backup_retention, logical_backup and databases.
# Anything else is refused before plan (clustro verify).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    kubectl = {
      source  = "gavinbunney/kubectl"
      version = "1.19.0"
    }
  }

  backend "kubernetes" {
    namespace     = "clustro-system"
    secret_suffix = "scratch-0301.growth.dev"
  }
}

provider "kubectl" {
  apply_retry_count = 3
}

module "database" {
  source = "../../../../modules/cnpg-database"

  name                = "scratch-0301"
  team                = "growth"
  environment         = "dev"
  namespace           = "growth-dev"
  size                = "S"
  instances           = 1
  postgres_version    = 17
  backup_schedule     = "none"
  logical_backup      = false
  databases           = []
  restore_source      = "scratch"
  restore_target_time = "2026-03-01T09:30:00Z"
}

output "namespace" {
  value = module.database.namespace
}

output "cluster_name" {
  value = module.database.cluster_name
}

output "rw_host" {
  value = module.database.rw_host
}

output "ro_host" {
  value = module.database.ro_host
}

output "app_secret_name" {
  value = module.database.app_secret_name
}

output "grafana_url" {
  value = module.database.grafana_url
}
