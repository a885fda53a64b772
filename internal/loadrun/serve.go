package loadrun

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Server is a `clustro serve` child process that answered /healthz.
type Server struct {
	// Addr is where it listens, host:port on 127.0.0.1.
	Addr string
	// URL is http://Addr.
	URL string
	// Log is the file its stdout and stderr go to: dir/serve.log.
	Log string

	cmd  *exec.Cmd
	done chan struct{}
}

// StorePath is the SQLite store a Server started in dir opens: seed it
// before Start.
func StorePath(dir string) string { return filepath.Join(dir, "clustro.db") }

// Start runs `bin serve` in dir and waits (up to 30 s) until /healthz
// answers 200. Its environment is PATH, HOME=dir, CLUSTRO_LISTEN on a free
// local port, CLUSTRO_STORE=StorePath(dir) and CLUSTRO_LOG_LEVEL=warn,
// then env (KEY=VALUE), which overrides any of them. Its output goes to
// dir/serve.log. If it exits first, or ctx ends, Start returns an error
// (with the end of its log) and leaves no process behind.
func Start(ctx context.Context, bin, dir string, env ...string) (*Server, error) {
	bin, err := filepath.Abs(bin) // serve runs in dir
	if err != nil {
		return nil, err
	}
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
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"CLUSTRO_LISTEN=" + addr, "CLUSTRO_STORE=" + StorePath(dir), "CLUSTRO_LOG_LEVEL=warn"}, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &Server{Addr: addr, URL: "http://" + addr, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("clustro serve exited before answering /healthz (%v); %s ends:\n%s", cmd.ProcessState, logPath, s.Tail())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("clustro serve did not answer /healthz within 30 s; %s ends:\n%s", logPath, s.Tail())
		}
	}
}

// Pid is the process's id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Memory reads the process's resident memory now and at its peak.
func (s *Server) Memory() (Memory, error) { return ReadMemory(s.Pid()) }

// Stop sends SIGTERM (serve stops taking work and lets running jobs
// finish) and waits for the process, killed if it has not exited in 15 s.
// Calling it again returns at once.
func (s *Server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Tail is the last 4,000 bytes of the process's log.
func (s *Server) Tail() string {
	b, _ := os.ReadFile(s.Log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
