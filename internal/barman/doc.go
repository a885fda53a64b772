// Package barman drives the real backup tools for tests and the operator
// stand-in: a MinIO server (built by `make tools` into .tools/bin/minio) as
// the S3 object store, PostgreSQL 15 servers that archive their WAL to it
// with barman-cloud-wal-archive, base backups with barman-cloud-backup, and
// point-in-time restores with barman-cloud-restore and
// barman-cloud-wal-restore (Debian's barman-cli-cloud and python3-boto3).
//
// A typical test:
//
//	m, _ := barman.StartMinIO(ctx, "")           // free ports, generated credentials
//	_ = m.CreateBucket(ctx, "backups")
//	dest := m.Destination("backups", "pg", "main") // s3://backups/pg, server "main"
//	inst, _ := barman.StartInstance(ctx, "", &dest) // archives its WAL to dest
//	info, _ := barman.Backup(ctx, inst, dest)
//	restored, _ := barman.Restore(ctx, dest, info.ID, t, "")
//
// The S3 credentials reach the barman tools and the server's
// archive_command through the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, which boto3 reads), never through a command line
// that ps would show, and errors never include them.
//
// PostgreSQL refuses to run as root: when we are root the servers and the
// barman tools that read or write their data directories run as the
// postgres system user through runuser, as in internal/pgtest.
package barman
