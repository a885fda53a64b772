// Command slashload sends signed slash commands to a `clustro serve` at a
// fixed rate and reports how fast they are acknowledged (Slack gives an
// app 3 s), how long their answers take to reach the response_url, and
// what the server's goroutines and memory did meanwhile.
//
// Against a server you run (its response_urls point at slashload's own
// receiver, so the server must reach 127.0.0.1):
//
//	CLUSTRO_SLACK_SIGNING_SECRET=... go run ./bot/slashload -url http://localhost:8080 -rate 200 -duration 30s [-pid <serve's pid>]
//
// Or the scenario of issue 16, with a server slashload starts on a fresh
// SQLite store it seeds with 1,000 databases first (Slack's Web API and
// the response_urls are slashload's receiver):
//
//	go build -o /tmp/clustro ./cmd/clustro
//	go run ./bot/slashload -serve /tmp/clustro -seed 1000 -text list -rate 200 -duration 30s
//
// The load is open: a request leaves every 1/rate seconds whether or not
// earlier ones were answered, so a slow server shows as latency, not as a
// lower rate. "/pg help" is answered in the acknowledgement from the
// policy alone (no Slack call, no store); "/pg list" is acknowledged empty
// and answered on the response_url (or, when the bot is busy, answered
// "busy" in the acknowledgement).
//
// It reports the acknowledgement latency (p50, p90, p99, max), the answers
// delivered on response_urls and their delay after their command (p50,
// p99, max), the server's goroutines (go_goroutines from /metrics, polled)
// and its peak resident memory (VmHWM of /proc/<pid>/status, with -serve or
// -pid).
package main

import (
	"context"
	"encoding/json"
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
	"syscall"
	"time"

	"github.com/clustropg/clustro/bot"
	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/internal/loadrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // stop serve on either
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "slashload:", err)
		os.Exit(1)
	}
}

// result is one request's outcome.
type result struct {
	n      int
	sent   time.Time
	took   time.Duration
	status int
	ack    string // the acknowledgement's text; "" for an empty 200
	err    error
}

// options are the flags.
type options struct {
	base, text, secret, serveBin, logLevel string
	rate                                   float64
	duration, timeout, drain               time.Duration
	seed, pid                              int
	keep                                   bool
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slashload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.base, "url", "http://localhost:8080", "base URL of clustro serve (ignored with -serve)")
	fs.Float64Var(&o.rate, "rate", 200, "requests per second")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	fs.StringVar(&o.text, "text", "help", "the command's text (after /pg)")
	fs.StringVar(&o.secret, "secret", "", "the Slack signing secret (default $CLUSTRO_SLACK_SIGNING_SECRET; with -serve, one is made up)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait, after the last command, for the answers on response_urls")
	fs.StringVar(&o.serveBin, "serve", "", "a clustro binary: run `<it> serve` on a fresh SQLite store and load it")
	fs.IntVar(&o.seed, "seed", 0, "with -serve: store this many databases before serve starts")
	fs.StringVar(&o.logLevel, "log-level", "warn", "with -serve: serve's log level")
	fs.BoolVar(&o.keep, "keep", false, "with -serve: keep the store and serve's log")
	fs.IntVar(&o.pid, "pid", 0, "without -serve: the pid of clustro serve, to read its peak memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.secret == "" {
		o.secret = getenv("CLUSTRO_SLACK_SIGNING_SECRET")
	}
	if o.secret == "" && o.serveBin != "" {
		o.secret = fmt.Sprintf("slashload-%d", time.Now().UnixNano())
	}
	if o.secret == "" {
		return errors.New("no signing secret: pass -secret or set CLUSTRO_SLACK_SIGNING_SECRET")
	}
	if o.rate <= 0 || o.duration <= 0 {
		return errors.New("-rate and -duration must be positive")
	}
	if o.seed != 0 && o.serveBin == "" {
		return errors.New("-seed needs -serve (slashload seeds the store of the server it starts)")
	}
	total := int(o.rate * o.duration.Seconds())
	recv, err := newReceiver(total)
	if err != nil {
		return err
	}
	defer recv.close()

	if o.serveBin != "" {
		dir, err := os.MkdirTemp("", "slashload-")
		if err != nil {
			return err
		}
		if o.keep {
			fmt.Fprintf(stdout, "store and serve's log in %s\n", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		if o.seed > 0 {
			began := time.Now()
			if err := seed(ctx, loadrun.StorePath(dir), o.seed); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "seeded %d databases in %s\n", o.seed, time.Since(began).Round(time.Millisecond))
		}
		srv, err := startServe(ctx, o.serveBin, o.secret, recv.url+"/api/", o.logLevel, dir)
		if err != nil {
			return err
		}
		defer srv.Stop()
		o.base, o.pid = srv.URL, srv.Pid()
	}
	return load(ctx, o, total, recv, stdout)
}

// load sends the commands, waits for their answers and reports.
func load(ctx context.Context, o options, total int, recv *receiver, stdout io.Writer) error {
	base := strings.TrimSuffix(o.base, "/")
	target := base + bot.PathCommands
	signer := slacktest.Signer{Secret: o.secret}
	client := &http.Client{Timeout: o.timeout, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
	}}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var sm sampler
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sm.run(sampleCtx, base+"/metrics", 250*time.Millisecond)
	}()

	results := make([]result, 0, total)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / o.rate)
	start := time.Now()
	fmt.Fprintf(stdout, "sending %d signed %q commands to %s at %.0f/s for %s\n", total, "/pg "+o.text, target, o.rate, o.duration)
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
			r := send(ctx, client, signer, target, o.text, recv.answerURL(n), n)
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	expect := 0
	for _, r := range results {
		if r.err == nil && r.status == http.StatusOK && r.ack == "" {
			expect++
		}
	}
	recv.expectAnswers(expect)
	if expect > 0 {
		select {
		case <-recv.all:
		case <-time.After(o.drain):
		case <-ctx.Done():
		}
	}
	stopSampling()
	<-sampled
	report(stdout, results, elapsed)
	reportAnswers(stdout, results, recv, expect, o.drain)
	reportServer(stdout, &sm, o.pid)
	return nil
}

func send(ctx context.Context, client *http.Client, signer slacktest.Signer, target, text, responseURL string, n int) result {
	req, err := signer.Command(target, slacktest.Command{
		User:        slacktest.User{ID: fmt.Sprintf("ULOAD%05d", n%1000), Name: "load"},
		Channel:     "CLOADTEST",
		Text:        text,
		TriggerID:   fmt.Sprintf("%d.%d.load", time.Now().Unix(), n),
		ResponseURL: responseURL,
	})
	if err != nil {
		return result{n: n, err: err}
	}
	req = req.WithContext(ctx)
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{n: n, sent: began, took: time.Since(began), err: err}
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	r := result{n: n, sent: began, took: took, status: resp.StatusCode}
	if len(body) > 0 {
		var ack struct{ Text string }
		if json.Unmarshal(body, &ack) != nil || ack.Text == "" {
			ack.Text = "(not a message)"
		}
		r.ack = ack.Text
	}
	return r
}

// report prints the counts and the acknowledgement latency percentiles.
func report(w io.Writer, results []result, elapsed time.Duration) {
	var ok []time.Duration
	statuses := map[int]int{}
	inAck := map[string]int{}
	errs := 0
	for _, r := range results {
		switch {
		case r.err != nil:
			errs++
		default:
			statuses[r.status]++
			if r.status == http.StatusOK {
				ok = append(ok, r.took)
				if r.ack != "" {
					inAck[clip(r.ack, 60)]++
				}
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
	texts := make([]string, 0, len(inAck))
	for t := range inAck {
		texts = append(texts, t)
	}
	slices.Sort(texts)
	for _, t := range texts {
		fmt.Fprintf(w, "answered in the ack: %d × %q\n", inAck[t], t)
	}
}

// reportAnswers prints how many of the commands acknowledged empty got
// their answer on the response_url, and how long after the command.
func reportAnswers(w io.Writer, results []result, recv *receiver, expect int, drain time.Duration) {
	if expect == 0 {
		return
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	var delays []time.Duration
	var last time.Time
	for _, r := range results {
		if at := recv.arrived[r.n]; !at.IsZero() {
			delays = append(delays, at.Sub(r.sent))
			if at.After(last) {
				last = at
			}
		}
	}
	slices.Sort(delays)
	fmt.Fprintf(w, "answers on response_url: %d of %d delivered (waited up to %s after the last command)\n", len(delays), expect, drain)
	if len(delays) == 0 {
		return
	}
	late := 0
	for _, d := range delays {
		if d > 3*time.Second {
			late++
		}
	}
	fmt.Fprintf(w, "answer delay after its command: p50 %s  p99 %s  max %s  (over 3 s: %d)\n",
		pct(delays, 50), pct(delays, 99), delays[len(delays)-1].Round(time.Microsecond), late)
	fmt.Fprintf(w, "answers awaited at once (acknowledged, not yet delivered), peak: %d\n", awaited(results, recv.arrived))
}

// awaited is the peak number of commands acknowledged empty whose answer
// had not arrived yet: the work the server held at once. With a goroutine
// per command (the bot before its pool), each of them was a goroutine.
func awaited(results []result, arrived []time.Time) int {
	type step struct {
		at time.Time
		d  int
	}
	var steps []step
	for _, r := range results {
		if r.err != nil || r.status != http.StatusOK || r.ack != "" {
			continue
		}
		steps = append(steps, step{r.sent.Add(r.took), +1})
		if at := arrived[r.n]; !at.IsZero() {
			steps = append(steps, step{at, -1})
		}
	}
	slices.SortFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	n, peak := 0, 0
	for _, s := range steps {
		n += s.d
		peak = max(peak, n)
	}
	return peak
}

// reportServer prints the server's goroutines and memory.
func reportServer(w io.Writer, sm *sampler, pid int) {
	if sm.samples > 0 {
		fmt.Fprintf(w, "server goroutines (go_goroutines, %d samples): at start %.0f, peak %.0f; peak RSS sampled %.1f MB\n",
			sm.samples, sm.startGoroutines, sm.peakGoroutines, sm.peakRSS/(1<<20))
	}
	if pid > 0 {
		m, err := loadrun.ReadMemory(pid)
		if err != nil {
			fmt.Fprintf(w, "server memory: %v\n", err)
			return
		}
		fmt.Fprintf(w, "server memory: peak RSS (VmHWM) %.1f MB, RSS now %.1f MB\n", float64(m.HWM)/(1<<20), float64(m.RSS)/(1<<20))
	}
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// pct is the p-th percentile of sorted durations (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return sorted[i].Round(time.Microsecond)
}
