package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServeEnv: serve sees the demo's settings, PATH, HOME and TMPDIR, and
// nothing else of the caller's environment: a CLUSTRO_* variable in the
// shell does not change the demo.
func TestServeEnv(t *testing.T) {
	caller := map[string]string{"PATH": "/usr/bin", "HOME": "/home/ada", "CLUSTRO_CONFIG": "/etc/clustro.yaml",
		"CLUSTRO_STORE": "postgres://prod", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
	got := serveEnv(serveOptions{getenv: func(k string) string { return caller[k] },
		env: map[string]string{"CLUSTRO_STORE": "/demo/clustro.db", "CLUSTRO_GRAFANA_URL": "https://grafana.example.com"}})
	want := []string{"PATH=/usr/bin", "HOME=/home/ada", "CLUSTRO_GRAFANA_URL=https://grafana.example.com",
		"CLUSTRO_STORE=/demo/clustro.db", "CLUSTRO_LISTEN=127.0.0.1:0"}
	if !slices.Equal(got, want) {
		t.Errorf("serveEnv =\n  %q\nwant\n  %q", got, want)
	}
}

// TestServeExitingEarly: a serve that exits before it listens is an error
// at once (not after the timeout), and what it said stays in its log.
func TestServeExitingEarly(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "clustro")
	script := "#!/bin/sh\necho 'clustro: config: CLUSTRO_STORE: no such thing' >&2\nexit 2\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "clustro.log")
	_, err := startServe(context.Background(), serveOptions{bin: bin, dir: dir, getenv: os.Getenv, logPath: logPath})
	if err == nil || !strings.Contains(err.Error(), "exited before listening (exit status 2)") {
		t.Errorf("startServe: %v; want it to say serve exited before listening", err)
	}
	if log, _ := os.ReadFile(logPath); !strings.Contains(string(log), "CLUSTRO_STORE: no such thing") {
		t.Errorf("the log lacks what serve said: %q", log)
	}
}
