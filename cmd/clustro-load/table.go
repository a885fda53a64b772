package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table. Empty fields print as "-".
type row struct {
	name          string
	p50, p99, max string
	delivered     string // answers delivered (or jobs done) of those due
	rss           string // serve's peak RSS (VmHWM)
	github        string // GitHub calls per Sync pass
	note          string
}

// latencies fills p50, p99 and max from samples.
func (r *row) latencies(samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	r.p50, r.p99, r.max = ms(quantile(s, 0.50)), ms(quantile(s, 0.99)), ms(s[len(s)-1])
}

// quantile is the nearest-rank quantile of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

// writeTable prints rows as a Markdown table, the README's.
func writeTable(w io.Writer, rows []row) {
	head := []string{"measurement", "p50", "p99", "max", "delivered", "RSS (VmHWM)", "GitHub calls per pass", "notes"}
	cells := [][]string{head}
	for _, r := range rows {
		cells = append(cells, []string{r.name, dash(r.p50), dash(r.p99), dash(r.max), dash(r.delivered), dash(r.rss), dash(r.github), r.note})
	}
	width := make([]int, len(head))
	for _, c := range cells {
		for i, v := range c {
			width[i] = max(width[i], len([]rune(v)))
		}
	}
	line := func(c []string) {
		var b strings.Builder
		for i, v := range c {
			fmt.Fprintf(&b, "| %s%s ", v, strings.Repeat(" ", width[i]-len([]rune(v))))
		}
		fmt.Fprintln(w, b.String()+"|")
	}
	line(cells[0])
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, c := range cells[1:] {
		line(c)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// machine describes where the figures were taken: CPU model, cores,
// memory, Go version.
func machine() string {
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
