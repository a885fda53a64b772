package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/clustropg/clustro/internal/loadrun"
)

// randomHex is n random bytes in hex: secrets and tokens made up per run.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// rss is serve's peak resident memory (VmHWM) as a table cell.
func rss(srv *loadrun.Server) string {
	m, err := srv.Memory()
	if err != nil {
		return "gone: " + err.Error()
	}
	return mb(m.HWM >> 10)
}

// metric sums the samples of a metric in serve's /metrics whose labels
// contain every one of labels (`kind="github_event"`).
func metric(client *http.Client, srv *loadrun.Server, name string, labels ...string) (float64, error) {
	resp, err := client.Get(srv.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(series, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && match {
			sum += v
		}
	}
	return sum, sc.Err()
}
