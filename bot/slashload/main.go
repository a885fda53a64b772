// Command slashload sends signed "/pg help" slash commands to a running
// `clustro serve` at a fixed rate and reports how fast they are
// acknowledged (Slack gives an app 3 s).
//
//	CLUSTRO_SLACK_SIGNING_SECRET=... go run ./bot/slashload -url http://localhost:8080 -rate 200 -duration 30s
//
// The load is open: a request leaves every 1/rate seconds whether or not
// earlier ones were answered, so a slow server shows as latency, not as a
// lower rate. "/pg help" is answered from the policy alone (no Slack call,
// no store), so the figures are the HTTP path's: signature check, parsing,
// the reply.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clustropg/clustro/bot"
	"github.com/clustropg/clustro/bot/slacktest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "slashload:", err)
		os.Exit(1)
	}
}

// result is one request's outcome.
type result struct {
	took   time.Duration
	status int
	err    error
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slashload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://localhost:8080", "base URL of clustro serve")
	rate := fs.Float64("rate", 200, "requests per second")
	duration := fs.Duration("duration", 30*time.Second, "how long to send")
	text := fs.String("text", "help", "the command's text (after /pg)")
	secret := fs.String("secret", "", "the Slack signing secret (default $CLUSTRO_SLACK_SIGNING_SECRET)")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = getenv("CLUSTRO_SLACK_SIGNING_SECRET")
	}
	if *secret == "" {
		return errors.New("no signing secret: pass -secret or set CLUSTRO_SLACK_SIGNING_SECRET")
	}
	if *rate <= 0 || *duration <= 0 {
		return errors.New("-rate and -duration must be positive")
	}
	target := strings.TrimSuffix(*base, "/") + bot.PathCommands
	signer := slacktest.Signer{Secret: *secret}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
	}}

	total := int(*rate * duration.Seconds())
	results := make([]result, 0, total)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	fmt.Fprintf(stdout, "sending %d signed %q commands to %s at %.0f/s for %s\n", total, "/pg "+*text, target, *rate, *duration)
	for i := 0; i < total; i++ {
		// Open loop: the i-th request leaves at start + i*interval.
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				i = total
				continue
			}
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			r := send(ctx, client, signer, target, *text, n)
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	report(stdout, results, time.Since(start))
	return nil
}

func send(ctx context.Context, client *http.Client, signer slacktest.Signer, target, text string, n int) result {
	req, err := signer.Command(target, slacktest.Command{
		User:        slacktest.User{ID: fmt.Sprintf("ULOAD%05d", n%1000), Name: "load"},
		Channel:     "CLOADTEST",
		Text:        text,
		TriggerID:   fmt.Sprintf("%d.%d.load", time.Now().Unix(), n),
		ResponseURL: "https://hooks.slack.invalid/commands/load",
	})
	if err != nil {
		return result{err: err}
	}
	req = req.WithContext(ctx)
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{took: time.Since(began), err: err}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{took: time.Since(began), status: resp.StatusCode}
}

// report prints the counts and the acknowledgement latency percentiles.
func report(w io.Writer, results []result, elapsed time.Duration) {
	var ok []time.Duration
	statuses := map[int]int{}
	errs := 0
	for _, r := range results {
		switch {
		case r.err != nil:
			errs++
		default:
			statuses[r.status]++
			if r.status == http.StatusOK {
				ok = append(ok, r.took)
			}
		}
	}
	slices.Sort(ok)
	fmt.Fprintf(w, "sent %d in %s (%.1f/s): %d answered 200, %d errors, statuses %v\n",
		len(results), elapsed.Round(time.Millisecond), float64(len(results))/elapsed.Seconds(), len(ok), errs, statuses)
	if len(ok) == 0 {
		return
	}
	over := 0
	for _, d := range ok {
		if d > 3*time.Second {
			over++
		}
	}
	fmt.Fprintf(w, "ack latency: p50 %s  p90 %s  p99 %s  max %s  (over Slack's 3 s: %d)\n",
		pct(ok, 50), pct(ok, 90), pct(ok, 99), ok[len(ok)-1].Round(time.Microsecond), over)
}

// pct is the p-th percentile of sorted durations (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return sorted[i].Round(time.Microsecond)
}
