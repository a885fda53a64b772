package loadrun

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory, in bytes, as /proc/<pid>/status
// reports it.
type Memory struct {
	// RSS is the resident set now (VmRSS).
	RSS int64
	// HWM is the resident set's high-water mark since the process began
	// (VmHWM): its peak.
	HWM int64
}

// ReadMemory reads process pid's Memory from /proc/<pid>/status. A
// process that is gone, or has exited and not been waited for, is an
// error.
func ReadMemory(pid int) (Memory, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	rss, err := procField(path, "VmRSS")
	if err != nil {
		return Memory{}, err
	}
	hwm, err := procField(path, "VmHWM")
	if err != nil {
		return Memory{}, err
	}
	return Memory{RSS: rss << 10, HWM: hwm << 10}, nil
}

// procField reads a "Name:   123 kB" line of a /proc file, in kB.
func procField(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}
