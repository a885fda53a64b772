package main

import (
	"fmt"
	"io"
	"slices"
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
