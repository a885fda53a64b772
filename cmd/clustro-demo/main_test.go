package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clustropg/clustro/internal/cli"
)

// buildDir holds the clustro binary the tests build for the demo to run.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var clustroBuild struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// clustroBinary builds cmd/clustro once for the package's tests, as `make
// build` does for the demo: clustro-demo runs it as serve.
func clustroBinary(t *testing.T) string {
	t.Helper()
	clustroBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "clustro-demo-test-")
		if err != nil {
			clustroBuild.err = err
			return
		}
		buildDir = dir
		bin := filepath.Join(dir, "clustro")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/clustropg/clustro/cmd/clustro")
		clustroBuild.out, clustroBuild.err = cmd.CombinedOutput()
		clustroBuild.bin = bin
	})
	if clustroBuild.err != nil {
		t.Fatalf("go build ./cmd/clustro: %v\n%s", clustroBuild.err, clustroBuild.out)
	}
	return clustroBuild.bin
}

type result struct {
	code           int
	stdout, stderr string
}

// clustroDemo runs clustro-demo with args, in an environment of env only.
func clustroDemo(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return result{cli.ExitCode(err), out.String(), errb.String()}
}
