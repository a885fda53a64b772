package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// slashScenario runs bot/slashload's scenario of issue 16 as it stands (it
// starts its own serve on a store it seeds) and reads its report: the
// acknowledgement latency, the answers delivered on response_urls and
// their delay, serve's peak RSS.
func (s *suite) slashScenario(ctx context.Context) []row {
	ackRow := row{name: fmt.Sprintf("/pg list ack, %.0f/s for %s, %d databases", s.o.slashRate, s.o.slashDuration, s.o.slashSeed)}
	answerRow := row{name: "/pg list answer on response_url, after its command"}
	dir, err := s.scratch("slash")
	if err != nil {
		return []row{failed(ackRow.name, err)}
	}
	bin := filepath.Join(dir, "slashload")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/clustropg/clustro/bot/slashload")
	if out, err := build.CombinedOutput(); err != nil {
		return []row{failed(ackRow.name, fmt.Errorf("go build ./bot/slashload: %w\n%s", err, out))}
	}
	s.logf("slash: running bot/slashload (%s, then a drain)", s.o.slashDuration)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-serve", s.o.clustro, "-seed", strconv.Itoa(s.o.slashSeed), "-text", "list",
		"-rate", strconv.FormatFloat(s.o.slashRate, 'f', -1, 64), "-duration", s.o.slashDuration.String())
	cmd.Dir = dir
	cmd.Stdout = io.MultiWriter(&out, s.log)
	cmd.Stderr = s.log
	if err := cmd.Run(); err != nil {
		return []row{failed(ackRow.name, fmt.Errorf("bot/slashload: %w", err))}
	}
	report := out.String()

	if m := find(report, `ack latency: p50 (\S+)\s+p90 \S+\s+p99 (\S+)\s+max (\S+)`); m != nil {
		ackRow.p50, ackRow.p99, ackRow.max = duration(m[1]), duration(m[2]), duration(m[3])
	} else {
		ackRow.note = "slashload printed no ack latency"
	}
	if m := find(report, `sent (\d+) in .*?: (\d+) answered 200`); m != nil {
		ackRow.delivered = fmt.Sprintf("%s/%s acked 200", m[2], m[1])
	}
	if m := find(report, `answered in the ack: (\d+) × "([^"]*)"`); m != nil {
		ackRow.note = fmt.Sprintf("%s answered %q in the ack", m[1], truncate(m[2], 40))
	}
	if m := find(report, `peak RSS \(VmHWM\) ([\d.]+) MB`); m != nil {
		ackRow.rss = m[1] + " MB"
		answerRow.rss = ackRow.rss
	}
	delivered := find(report, `answers on response_url: (\d+) of (\d+) delivered`)
	delay := find(report, `answer delay after its command: p50 (\S+)\s+p99 (\S+)\s+max (\S+)\s+\(over 3 s: (\d+)\)`)
	switch {
	case delivered == nil:
		answerRow.note = "slashload reported no answers on response_urls"
	case delay == nil:
		answerRow.delivered = fmt.Sprintf("%s/%s", delivered[1], delivered[2])
	default:
		got, _ := strconv.Atoi(delivered[1])
		late, _ := strconv.Atoi(delay[4])
		answerRow.p50, answerRow.p99, answerRow.max = duration(delay[1]), duration(delay[2]), duration(delay[3])
		answerRow.delivered = fmt.Sprintf("%d/%s within 3 s", got-late, delivered[2])
	}
	if m := find(report, `answers awaited at once .*?peak: (\d+)`); m != nil {
		answerRow.note = fmt.Sprintf("peak %s answers awaited at once", m[1])
	}
	return []row{ackRow, answerRow}
}

func find(s, pattern string) []string {
	return regexp.MustCompile(pattern).FindStringSubmatch(s)
}

// duration reformats a Go duration as the table prints it.
func duration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return ms(d)
}
