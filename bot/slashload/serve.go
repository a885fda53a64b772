package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// seed stores n databases in the SQLite store at path, spread over the
// policy's environments and 20 teams: each created and taken to ready, and
// every fourth with a resize asked since (its pull request open), so a
// database may have more than one request, as in a store that has lived.
func seed(ctx context.Context, path string, n int) error {
	cfg, err := config.Load("", nil)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	envs := cfg.Policy.EnvironmentNames()
	ev := request.Event{Actor: "slashload", Origin: "seed"}
	for i := range n {
		r, err := cfg.Policy.Resolve(request.DatabaseRequest{
			Spec:      request.Spec{Name: fmt.Sprintf("db%04d", i), Team: fmt.Sprintf("team%02d", i%20), Environment: envs[i%len(envs)]},
			Requester: request.Requester{ID: fmt.Sprintf("ULOAD%05d", i%1000), Name: "load"},
			Origin:    request.Origin{Kind: request.OriginSlack, SlackTeam: "TLOAD", SlackChannel: "CLOADTEST"}})
		if err != nil {
			return fmt.Errorf("seed database %d: %w", i, err)
		}
		rec, _, err := st.CreateRequest(ctx, store.NewRequest{Request: r, Event: ev})
		if err != nil {
			return fmt.Errorf("seed database %d: %w", i, err)
		}
		for _, s := range []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Ready} {
			if _, err := st.Transition(ctx, rec.ID(), s, ev); err != nil {
				return fmt.Errorf("seed database %d: %w", i, err)
			}
		}
		if i%4 != 0 {
			continue
		}
		ch := r
		ch.ID, ch.Kind, ch.Instances = "", request.Resize, r.Instances+1
		next, _, err := st.CreateRequest(ctx, store.NewRequest{Request: ch, Event: ev})
		if err != nil {
			return fmt.Errorf("seed change %d: %w", i, err)
		}
		if _, err := st.Transition(ctx, next.ID(), request.PROpen, ev); err != nil {
			return fmt.Errorf("seed change %d: %w", i, err)
		}
	}
	return nil
}

// server is a `clustro serve` slashload started.
type server struct {
	cmd  *exec.Cmd
	url  string
	log  string // its log file
	done chan error
}

// startServe runs `bin serve` on a free local port with the store at
// storePath and Slack configured with secret, its Web API at apiURL (the
// receiver), and waits until /healthz answers.
func startServe(ctx context.Context, bin, storePath, secret, apiURL, logLevel, dir string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLUSTRO_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"CLUSTRO_STORE="+storePath,
		"CLUSTRO_LISTEN="+addr,
		"CLUSTRO_LOG_LEVEL="+logLevel,
		"CLUSTRO_SLACK_BOT_TOKEN=xoxb-slashload",
		"CLUSTRO_SLACK_SIGNING_SECRET="+secret,
		"CLUSTRO_SLACK_API_URL="+apiURL,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, log: logPath, done: make(chan error, 1)}
	go func() {
		s.done <- cmd.Wait()
		logFile.Close()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("clustro serve exited before answering /healthz (%v); see %s", err, logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("clustro serve did not answer /healthz within 30 s; see %s", logPath)
		}
	}
}

// stop interrupts serve and waits for it (killed after 15 s).
func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// procStatus reads a field of /proc/<pid>/status in kB ("VmHWM", "VmRSS").
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New(field + " not in /proc/<pid>/status")
}

// sampler polls the server's /metrics (go_goroutines,
// process_resident_memory_bytes) and keeps the peaks.
type sampler struct {
	peakGoroutines, startGoroutines float64
	peakRSS                         float64
	samples                         int
}

func (sm *sampler) run(ctx context.Context, metricsURL string, every time.Duration) {
	client := &http.Client{Timeout: 5 * time.Second}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if g, rss, ok := scrape(client, metricsURL); ok {
			if sm.samples == 0 {
				sm.startGoroutines = g
			}
			sm.samples++
			sm.peakGoroutines = max(sm.peakGoroutines, g)
			sm.peakRSS = max(sm.peakRSS, rss)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func scrape(client *http.Client, url string) (goroutines, rss float64, ok bool) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return 0, 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, found := strings.Cut(sc.Text(), " ")
		if !found {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			goroutines, ok = v, true
		case "process_resident_memory_bytes":
			rss = v
		}
	}
	return goroutines, rss, ok
}
