# Logical backups: a nightly pg_dump of the app database and every extra
# database, uploaded to the object store next to the continuous backups.
# pg_dump runs in the operand image of the cluster's version; the upload
# runs in an S3 client image, sharing an emptyDir.
locals {
  dump_databases = join(" ", concat(["app"], var.databases))
  dump_prefix    = "${local.destination_path}/${var.name}/logical"
}

resource "kubectl_manifest" "logical_backup" {
  count             = var.logical_backup ? 1 : 0
  server_side_apply = true
  force_conflicts   = true
  yaml_body = yamlencode({
    apiVersion = "batch/v1"
    kind       = "CronJob"
    metadata = {
      name      = "${var.name}-pgdump"
      namespace = var.namespace
      labels    = local.labels
    }
    spec = {
      schedule                   = "30 ${var.backup_hour} * * *"
      concurrencyPolicy          = "Forbid"
      successfulJobsHistoryLimit = 3
      failedJobsHistoryLimit     = 3
      jobTemplate = {
        spec = {
          backoffLimit = 2
          template = {
            metadata = { labels = local.labels }
            spec = {
              restartPolicy = "OnFailure"
              volumes       = [{ name = "dump", emptyDir = {} }]
              initContainers = [{
                name    = "pg-dump"
                image   = local.image
                command = ["/bin/sh", "-c", "set -e; for db in ${local.dump_databases}; do pg_dump -Fc -h ${var.name}-r -U \"$PGUSER\" -d \"$db\" -f /dump/$db.dump; done"]
                env = [
                  { name = "PGUSER", valueFrom = { secretKeyRef = { name = "${var.name}-app", key = "username" } } },
                  { name = "PGPASSWORD", valueFrom = { secretKeyRef = { name = "${var.name}-app", key = "password" } } },
                ]
                volumeMounts = [{ name = "dump", mountPath = "/dump" }]
              }]
              containers = [{
                name    = "upload"
                image   = local.platform.logical_backup.upload_image
                command = ["/bin/sh", "-c", "aws --endpoint-url \"$ENDPOINT\" s3 cp --recursive /dump \"${local.dump_prefix}/$(date -u +%Y-%m-%dT%H%M%SZ)/\""]
                env = [
                  { name = "ENDPOINT", value = local.platform.object_store.endpoint_url },
                  { name = "AWS_ACCESS_KEY_ID", valueFrom = { secretKeyRef = local.s3_credentials.accessKeyId } },
                  { name = "AWS_SECRET_ACCESS_KEY", valueFrom = { secretKeyRef = local.s3_credentials.secretAccessKey } },
                ]
                volumeMounts = [{ name = "dump", mountPath = "/dump" }]
              }]
            }
          }
        }
      }
    }
  })

  depends_on = [kubectl_manifest.cluster]
}
