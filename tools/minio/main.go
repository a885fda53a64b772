// Command minio is the MinIO server built from the Go module proxy, so the
// offline test stack has an S3-compatible object store for barman-cloud.
package main

import (
	"os"

	minio "github.com/minio/minio/cmd"
)

func main() { minio.Main(os.Args) }
