package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// seed stores n databases in the SQLite store at path, spread over the
// policy's environments and 20 teams: each created and taken to ready, and
// every fourth with a resize asked since (its pull request open), so a
// database may have more than one request, as in a store that has lived.
func seed(ctx context.Context, path string, n int) error {
	ev := request.Event{Actor: "slashload", Origin: "seed"}
	origin := request.Origin{Kind: request.OriginSlack, SlackTeam: "TLOAD", SlackChannel: "CLOADTEST"}
	return loadrun.Seed(ctx, path, func(st store.Store, policy *request.Policy) error {
		for i := range n {
			r, err := loadrun.Database(policy, fmt.Sprintf("db%04d", i), i, origin)
			if err == nil {
				err = loadrun.CreateReady(ctx, st, r, ev)
			}
			if err != nil {
				return fmt.Errorf("seed database %d: %w", i, err)
			}
			if i%4 != 0 {
				continue
			}
			ch := r
			ch.ID, ch.Kind, ch.Instances = "", request.Resize, r.Instances+1
			next, _, err := st.CreateRequest(ctx, store.NewRequest{Request: ch, Event: ev})
			if err != nil {
				return fmt.Errorf("seed change %d: %w", i, err)
			}
			if _, err := st.Transition(ctx, next.ID(), request.PROpen, ev); err != nil {
				return fmt.Errorf("seed change %d: %w", i, err)
			}
		}
		return nil
	})
}

// startServe runs `bin serve` on a free local port with its store and log
// in dir and Slack configured with secret, its Web API at apiURL (the
// receiver), and waits until /healthz answers.
func startServe(ctx context.Context, bin, secret, apiURL, logLevel, dir string) (*loadrun.Server, error) {
	return loadrun.Start(ctx, bin, dir,
		"CLUSTRO_LOG_LEVEL="+logLevel,
		"CLUSTRO_SLACK_BOT_TOKEN=xoxb-slashload",
		"CLUSTRO_SLACK_SIGNING_SECRET="+secret,
		"CLUSTRO_SLACK_API_URL="+apiURL,
	)
}

// sampler polls the server's /metrics (go_goroutines,
// process_resident_memory_bytes) and keeps the peaks.
type sampler struct {
	peakGoroutines, startGoroutines float64
	peakRSS                         float64
	samples                         int
}

func (sm *sampler) run(ctx context.Context, metricsURL string, every time.Duration) {
	client := &http.Client{Timeout: 5 * time.Second}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if g, rss, ok := scrape(client, metricsURL); ok {
			if sm.samples == 0 {
				sm.startGoroutines = g
			}
			sm.samples++
			sm.peakGoroutines = max(sm.peakGoroutines, g)
			sm.peakRSS = max(sm.peakRSS, rss)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func scrape(client *http.Client, url string) (goroutines, rss float64, ok bool) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return 0, 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, found := strings.Cut(sc.Text(), " ")
		if !found {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			goroutines, ok = v, true
		case "process_resident_memory_bytes":
			rss = v
		}
	}
	return goroutines, rss, ok
}
