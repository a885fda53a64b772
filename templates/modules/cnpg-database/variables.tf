# Inputs mirror ClustroPG's request. Sizes, images, the object store and
# Grafana come from platform.tf, generated from the platform config: a
# request never chooses where backups go or which credentials they use.

variable "name" {
  description = "Database (CNPG Cluster) name."
  type        = string
}

variable "team" {
  description = "Owning team."
  type        = string
}

variable "environment" {
  description = "Environment (dev, staging, prod, ...)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the cluster."
  type        = string
}

variable "size" {
  description = "Sizing preset: S, M, L or XL."
  type        = string

  validation {
    condition     = contains(["S", "M", "L", "XL"], var.size)
    error_message = "The size must be one of S, M, L, XL."
  }
}

variable "instances" {
  description = "Number of PostgreSQL instances (1 primary + replicas)."
  type        = number

  validation {
    condition     = var.instances >= 1 && var.instances <= 9
    error_message = "The number of instances must be between 1 and 9."
  }
}

variable "postgres_version" {
  description = "PostgreSQL major version."
  type        = number
}

variable "storage" {
  description = "Data volume size per instance; null keeps the preset's."
  type        = string
  default     = null
}

variable "backup_schedule" {
  description = "Continuous backups: none, hourly, daily or weekly."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "hourly", "daily", "weekly"], var.backup_schedule)
    error_message = "The backup schedule must be one of none, hourly, daily, weekly."
  }
}

variable "backup_hour" {
  description = "Hour of day (UTC) of daily and weekly base backups and of the pg_dump."
  type        = number
  default     = 3

  validation {
    condition     = var.backup_hour >= 0 && var.backup_hour <= 23
    error_message = "The backup hour must be between 0 and 23."
  }
}

variable "backup_retention" {
  description = "How long backups are kept (Barman Cloud retention policy, e.g. 14d)."
  type        = string
  default     = "14d"
}

variable "logical_backup" {
  description = "Also run a nightly pg_dump of every database into the object store."
  type        = bool
  default     = false
}

variable "databases" {
  description = "Extra databases, owned by the app user."
  type        = list(string)
  default     = []
}
