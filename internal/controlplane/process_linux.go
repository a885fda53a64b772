package controlplane

import "syscall"

// processGroupAttr puts the child in its own process group, and has the
// kernel kill it should this process die without calling Stop.
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
