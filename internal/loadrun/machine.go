package loadrun

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Machine describes where the figures were taken: the CPU model, the
// cores, the memory and the Go version, as in "AMD EPYC 7B13, 2 cores,
// 8 GiB, go1.24.4".
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	memory := ""
	if kb, err := procField("/proc/meminfo", "MemTotal"); err == nil {
		memory = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores%s, %s", model, runtime.NumCPU(), memory, runtime.Version())
}
