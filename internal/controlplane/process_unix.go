//go:build unix && !linux

package controlplane

import "syscall"

// processGroupAttr puts the child in its own process group.
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
