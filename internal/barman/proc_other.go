//go:build !linux

package barman

import (
	"os/exec"
	"syscall"
)

// childAttr has nothing to add outside Linux.
func childAttr() *syscall.SysProcAttr { return nil }

// killChild kills the child.
func killChild(cmd *exec.Cmd) { cmd.Process.Kill() }
