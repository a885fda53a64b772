//go:build unix && !linux

package main

import (
	"os"
	"syscall"
)

// processGroupAttr puts serve in its own process group: Ctrl-C reaches the
// demo only, which stops serve before the fakes.
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
