package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clustropg/clustro/config"
)

// TestRestoreObjectStoreConfig: with --restore, serve's config file points
// the object store at MinIO with the Secret the demo creates, and the
// module in the emulated repository is rendered with it; without, the
// file has no object store.
func TestRestoreObjectStoreConfig(t *testing.T) {
	const endpoint = "http://127.0.0.1:9999"
	p, err := writeServeConfig(t.TempDir(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Cluster.ObjectStore
	if s.EndpointURL != endpoint || s.CredentialsSecret != demoBackupSecret || s.AccessKeyIDKey != demoAccessKeyIDKey ||
		s.SecretAccessKeyKey != demoSecretAccessKeyKey || !strings.HasPrefix(s.DestinationPath, "s3://"+demoBucket) {
		t.Errorf("object store config = %+v", s)
	}
	files, err := demoRepoFiles(p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range files {
		found = found || strings.Contains(string(b), endpoint)
	}
	if !found {
		t.Error("the module in the repository does not name MinIO's endpoint")
	}

	plain, err := writeServeConfig(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(plain); err != nil || strings.Contains(string(b), "objectStore") {
		t.Errorf("without --restore the config names an object store (%v):\n%s", err, b)
	}
	if filepath.Base(plain) != "clustro.yaml" {
		t.Errorf("config file %s", plain)
	}
}
