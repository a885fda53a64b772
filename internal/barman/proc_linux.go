package barman

import (
	"os/exec"
	"syscall"
)

// childAttr puts a long-running child in its own process group and has the
// kernel kill it should this process die without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killChild kills a child started with childAttr and its process group.
func killChild(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Process.Kill()
}
