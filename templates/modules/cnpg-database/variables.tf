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

variable "restore_source" {
  description = "Database of the same team and environment whose backups this new one is restored from (bootstrap.recovery); null starts an empty database."
  type        = string
  default     = null

  validation {
    condition     = var.restore_source == null || can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", var.restore_source))
    error_message = "The restore source must be a database name: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit."
  }
}

variable "restore_target_time" {
  description = "Point in time (RFC 3339, UTC) a restore recovers to; null recovers up to the latest archived WAL. Only with restore_source."
  type        = string
  default     = null

  validation {
    condition     = var.restore_target_time == null || can(formatdate("YYYY", var.restore_target_time))
    error_message = "The restore target time must be an RFC 3339 time like 2026-03-01T10:00:00Z."
  }
}
