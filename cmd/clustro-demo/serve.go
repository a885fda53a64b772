package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/cli"
)

// clustro serve runs as a child process: the demo shows the binary that is
// shipped, and clustro links none of the demo's fakes.

// serveOptions say how to run `clustro serve`.
type serveOptions struct {
	bin    string // the clustro binary
	dir    string // its working directory
	config string // its --config file, or ""
	// env are its CLUSTRO_* settings; CLUSTRO_LISTEN is 127.0.0.1:0, a
	// port of its choosing, which it logs.
	env map[string]string
	// getenv is where PATH, HOME and TMPDIR come from: serve sees nothing
	// else of this process's environment.
	getenv  func(string) string
	logPath string // its log (JSON lines), appended to
}

// serveProcess is a running `clustro serve`, in its own process group.
type serveProcess struct {
	url  string // its base URL
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited and its log is written
	err  error         // from Wait, once done is closed
}

// startServe runs `clustro serve`, reads the address it listens on from
// its log and waits until /healthz answers.
func startServe(ctx context.Context, o serveOptions) (*serveProcess, error) {
	logFile, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve log: %w", err)
	}
	args := []string{"serve"}
	if o.config != "" {
		args = append(args, "--config", o.config)
	}
	cmd := exec.Command(o.bin, args...)
	cmd.Dir = o.dir
	cmd.Env = serveEnv(o)
	cmd.Stdout = logFile
	cmd.SysProcAttr = processGroupAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start clustro serve: %w", err)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start clustro serve: %w", err)
	}
	p := &serveProcess{cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		copyLog(logFile, stderr, listening)
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()

	var addr string
	select {
	case addr = <-listening:
	case <-p.done:
		return nil, fmt.Errorf("clustro serve exited before listening (%v)", p.err)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	case <-time.After(demoServeTimeout):
		p.stop()
		return nil, fmt.Errorf("clustro serve did not log the address it listens on within %s", demoServeTimeout)
	}
	p.url = "http://" + addr
	if err := p.waitHealthy(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// serveEnv is serve's whole environment: PATH, HOME and TMPDIR, and the
// settings, so that no CLUSTRO_* variable of the caller's changes it.
func serveEnv(o serveOptions) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v := o.getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	keys := make([]string, 0, len(o.env))
	for k := range o.env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+o.env[k])
	}
	return append(env, "CLUSTRO_LISTEN=127.0.0.1:0")
}

// copyLog copies serve's log lines to the file, sending on listening the
// address of its "clustro serve listening" line.
func copyLog(to *os.File, from io.Reader, listening chan<- string) {
	r := bufio.NewReader(from)
	sent := false
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			to.Write(line)
			var l struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
			}
			if !sent && json.Unmarshal(line, &l) == nil && l.Message == "clustro serve listening" && l.Addr != "" {
				listening <- l.Addr
				sent = true
			}
		}
		if err != nil {
			return
		}
	}
}

// waitHealthy polls /healthz until it answers, serve stops, or the deadline.
func (p *serveProcess) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(demoServeTimeout)
	for {
		if answers(p.url + "/healthz") {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("clustro serve exited before answering /healthz (%v)", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clustro serve did not answer /healthz within %s", demoServeTimeout)
		}
	}
}

// serveStopGrace is how long serve has to stop after SIGTERM (its own
// shutdown grace is 5s in the demo) before its process group is killed.
const serveStopGrace = 30 * time.Second

// stop asks serve to stop (SIGTERM: it finishes or interrupts its jobs)
// and waits; after serveStopGrace it kills serve's process group.
func (p *serveProcess) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := terminate(p.cmd.Process); err != nil {
		killGroup(p.cmd.Process)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(serveStopGrace):
	}
	killGroup(p.cmd.Process)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
	return fmt.Errorf("clustro serve did not stop within %s of SIGTERM: killed", serveStopGrace)
}

// answers reports whether a GET of u answers 200 within a second.
func answers(u string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// findClustro is the clustro binary to run as serve: the --clustro flag,
// else clustro next to this program (`make build` puts both in bin/),
// else clustro on PATH.
func findClustro(flag string) (string, error) {
	if flag != "" {
		if !isExecutable(flag) {
			return "", cli.Usagef("--clustro %s is not an executable file", flag)
		}
		return filepath.Abs(flag)
	}
	where := "next to clustro-demo"
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		if p := filepath.Join(dir, "clustro"); isExecutable(p) {
			return p, nil
		}
		where = "in " + dir
	}
	if p, err := exec.LookPath("clustro"); err == nil {
		return filepath.Abs(p)
	}
	return "", fmt.Errorf("no clustro binary %s nor on PATH: run `make demo`, which builds bin/clustro and bin/clustro-demo; "+
		"or build it (go build -o bin/clustro ./cmd/clustro) and pass --clustro bin/clustro", where)
}

// isExecutable reports whether p is a file someone may execute.
func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0
}

// shortPath is p relative to the working directory when it is below it.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
