locals {
  preset  = local.platform.sizes[var.size]
  image   = local.platform.images[tostring(var.postgres_version)]
  backups = var.backup_schedule != "none"

  labels = {
    "app.kubernetes.io/managed-by" = "clustropg"
    "clustropg.io/team"            = var.team
    "clustropg.io/environment"     = var.environment
  }

  # CloudNativePG reads SIX cron fields, seconds first: "0 0 3 * * *" is 03:00:00.
  backup_cron = {
    hourly = "0 0 * * * *"
    daily  = "0 0 ${var.backup_hour} * * *"
    weekly = "0 0 ${var.backup_hour} * * 0"
  }

  # The Barman Cloud names of a database: its ObjectStore and the serverName
  # its base backups and WAL are kept under (the plugin's default, the
  # Cluster's name). One expression names them for this database and, for a
  # restore, for its source, so that a restore reads where the source
  # writes (ClustroPG's request.NamesFor names them the same way).
  barman = {
    for role, db in { self = var.name, source = coalesce(var.restore_source, var.name) } :
    role => { object_store = "${db}-backups", server_name = db }
  }
  object_store_name = local.barman.self.object_store
  restore           = var.restore_source != null
  destination_path  = "${trimsuffix(local.platform.object_store.destination_path, "/")}/${var.environment}/${var.team}"

  s3_credentials = {
    accessKeyId = {
      name = local.platform.object_store.credentials_secret
      key  = local.platform.object_store.access_key_id_key
    }
    secretAccessKey = {
      name = local.platform.object_store.credentials_secret
      key  = local.platform.object_store.secret_access_key_key
    }
  }

  storage = merge(
    { size = coalesce(var.storage, local.preset.storage) },
    local.platform.storage_class == "" ? {} : { storageClass = local.platform.storage_class },
  )
  wal_storage = merge(
    { size = local.preset.wal_storage },
    local.platform.storage_class == "" ? {} : { storageClass = local.platform.storage_class },
  )
}
