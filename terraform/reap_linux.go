//go:build linux

package terraform

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// reapWait bounds how long reap waits for the processes it killed to die.
const reapWait = 5 * time.Second

// reap kills the processes a job left behind and waits for them to die.
// terraform-exec interrupts terraform alone, not its process group, so a
// process a provisioner or provider started and terraform did not stop
// (a shell's child, say) would outlive the job. Every command of the job,
// and whatever it starts, carries the job's ID in its environment: reap
// kills the processes that still do. It returns how many it killed.
func reap(id string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	marker := []byte(jobEnv + "=" + id)
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, marker) {
				pids = append(pids, pid)
				break
			}
		}
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL) // it may have exited since
	}
	deadline := time.Now().Add(reapWait)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return len(pids), nil
}

// alive reports whether pid is a process that has not yet exited (a zombie
// has).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// contain anything.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}
