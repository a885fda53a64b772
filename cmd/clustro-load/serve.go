package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serveProc is a `clustro serve` under load.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan struct{}
}

// unreachableKubeconfig is a Kubernetes API that does not answer: with
// GitHub on, the pipeline needs a client to start, and nothing in these
// scenarios reaches it.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: clustro-load-not-a-token}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`

// startServe runs `bin serve` in dir on the store dir/clustro.db with env
// (CLUSTRO_* settings) and waits until /healthz answers.
func startServe(ctx context.Context, bin, dir string, env map[string]string) (*serveProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"CLUSTRO_LISTEN=" + addr, "CLUSTRO_STORE=" + filepath.Join(dir, "clustro.db"), "CLUSTRO_LOG_LEVEL=warn"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &serveProc{cmd: cmd, url: "http://" + addr, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("clustro serve exited before answering /healthz:\n%s", s.tail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("clustro serve did not answer /healthz within 30 s:\n%s", s.tail())
		}
	}
}

// githubEnv turns the GitHub integration on: the repository, a token, the
// API at apiURL and a webhook secret, with a Kubernetes API that does not
// answer.
func githubEnv(dir, apiURL, repo, token, secret string) (map[string]string, error) {
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(unreachableKubeconfig), 0o600); err != nil {
		return nil, err
	}
	return map[string]string{
		"CLUSTRO_KUBECONFIG":            kubeconfig,
		"CLUSTRO_GITHUB_REPO":           repo,
		"CLUSTRO_GITHUB_TOKEN":          token,
		"CLUSTRO_GITHUB_API_URL":        apiURL,
		"CLUSTRO_GITHUB_WEBHOOK_SECRET": secret,
	}, nil
}

// randomHex is n random bytes in hex: secrets and tokens made up per run.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *serveProc) pid() int { return s.cmd.Process.Pid }

// hwm is serve's peak resident memory so far (VmHWM), in kB.
func (s *serveProc) hwm() (int64, error) {
	return procField(fmt.Sprintf("/proc/%d/status", s.pid()), "VmHWM")
}

// rss is serve's peak resident memory as a table cell.
func (s *serveProc) rss() string {
	kb, err := s.hwm()
	if err != nil {
		return "gone: " + err.Error()
	}
	return mb(kb)
}

// stop interrupts serve and waits for it (killed after 15 s).
func (s *serveProc) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// tail is the end of serve's log.
func (s *serveProc) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// metric sums the samples of a metric in serve's /metrics whose labels
// contain every one of labels (`kind="github_event"`).
func (s *serveProc) metric(client *http.Client, name string, labels ...string) (float64, error) {
	resp, err := client.Get(s.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(series, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && match {
			sum += v
		}
	}
	return sum, sc.Err()
}
