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
    secret_suffix = "events.data.staging"
  }
}

provider "kubectl" {
  apply_retry_count = 3
}

module "database" {
  source = "../../../../modules/cnpg-database"

  name             = "events"
  team             = "data"
  environment      = "staging"
  namespace        = "data-staging"
  size             = "XL"
  instances        = 5
  postgres_version = 16
  storage          = "1Ti"
  backup_schedule  = "weekly"
  backup_hour      = 22
  backup_retention = "8w"
  logical_backup   = false
  databases        = []
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
