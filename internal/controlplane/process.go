package controlplane

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// process is a child process in its own process group, logging to a file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	err     error         // from Wait, valid once done is closed
}

// startProcess starts bin with args in dir, stdout and stderr to logPath.
func startProcess(name, bin string, args []string, dir, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: create log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = processGroupAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process group and waits for the process to end.
func (p *process) stop() error {
	if p == nil {
		return nil
	}
	var err error
	if !p.exited() {
		if kerr := killGroup(p.cmd.Process.Pid); kerr != nil {
			err = fmt.Errorf("kill %s: %w", p.name, kerr)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			if err == nil {
				err = fmt.Errorf("kill %s: still running 10s after SIGKILL", p.name)
			}
		}
	}
	p.logFile.Close()
	return err
}

// tail is the end of the process's log, for error messages.
func (p *process) tail(lines int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s log: %v)", p.name, err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// exitError describes how the process ended, with the tail of its log.
func (p *process) exitError() error {
	return fmt.Errorf("%s exited (%v); last lines of its log:\n%s", p.name, p.err, p.tail(30))
}

// portInUse reports whether the process's log says it could not bind its port.
func (p *process) portInUse() bool {
	return strings.Contains(p.tail(50), "address already in use")
}
