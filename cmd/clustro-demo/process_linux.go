package main

import (
	"os"
	"syscall"
)

// processGroupAttr puts serve in its own process group (Ctrl-C reaches the
// demo only, which stops serve before the fakes), and has the kernel stop
// it should the demo die without stopping it.
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
