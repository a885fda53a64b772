// Command clustro-load is the load suite of issue 16: it runs each
// measurement against a real `clustro serve` (a binary it is given, on a
// fresh SQLite store in a temporary directory) and prints one table of
// latency (p50, p99, max), answers delivered, the server's peak resident
// memory (VmHWM of /proc/<pid>/status) and GitHub calls per Sync pass, with
// the machine it ran on. Linux only.
//
//	make build && go run ./cmd/clustro-load -clustro bin/clustro
//	go run ./cmd/clustro-load -clustro bin/clustro -scenarios idle,api -api-sizes 10,10000
//
// The scenarios (-scenarios, comma-separated; default all):
//
//   - idle: serve with the webhook and the API on, at rest.
//   - sync: serve against the GitHub emulator (gitops/githubtest) with N
//     requests in pr_open whose pull requests exist there; serve runs Sync
//     once a minute (not configurable), so this waits for two passes (about
//     two minutes, run alongside the other scenarios) and counts the
//     emulator's calls in each.
//   - slash: bot/slashload's scenario (/pg list, 1,000 databases), run as is.
//   - api: GET /api/v1/databases and /api/v1/catalog/entities, limit=100,
//     page after page, on stores of N ready databases.
//   - webhook: signed pull_request deliveries at a fixed rate for pull
//     requests ClustroPG did not open (each becomes a github_event job that
//     is handled and ignored), with N jobs already queued (due tomorrow);
//     reports the acknowledgement latency and the jobs done per second at
//     that rate, then of a burst sent as fast as serve accepts it (the
//     workers' own pace). Jobs done are read from /metrics
//     (clustro_jobs_total), scraped every 250 ms.
//
// It is a program, not a test: `go test ./...` never runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // stop serve on either
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clustro-load:", err)
		os.Exit(1)
	}
}

// scenarioNames are the scenarios, in the order the table lists them.
var scenarioNames = []string{"idle", "sync", "slash", "api", "webhook"}

// options are the flags.
type options struct {
	clustro   string
	scenarios []string
	keep      bool

	syncSizes []int

	slashRate     float64
	slashDuration time.Duration
	slashSeed     int

	apiSizes   []int
	apiSamples int

	webhookRate     float64
	webhookDuration time.Duration
	webhookQueued   []int
	webhookBurst    int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clustro-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.clustro, "clustro", "bin/clustro", "the clustro binary to serve (make build)")
	scenarios := fs.String("scenarios", strings.Join(scenarioNames, ","), "scenarios to run, comma-separated: "+strings.Join(scenarioNames, ", "))
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (stores and serve logs)")
	syncSizes := fs.String("sync-sizes", "10,100,1000", "sync: open requests, one serve each")
	fs.Float64Var(&o.slashRate, "slash-rate", 200, "slash: signed /pg list commands per second")
	fs.DurationVar(&o.slashDuration, "slash-duration", 30*time.Second, "slash: how long to send")
	fs.IntVar(&o.slashSeed, "slash-seed", 1000, "slash: databases stored first")
	apiSizes := fs.String("api-sizes", "10,1000,10000", "api: ready databases stored, one serve each")
	fs.IntVar(&o.apiSamples, "api-samples", 300, "api: pages read per endpoint and size")
	fs.Float64Var(&o.webhookRate, "webhook-rate", 200, "webhook: signed deliveries per second")
	fs.DurationVar(&o.webhookDuration, "webhook-duration", 20*time.Second, "webhook: how long to send")
	fs.IntVar(&o.webhookBurst, "webhook-burst", 2000, "webhook: then this many deliveries as fast as serve takes them, for the workers' pace (0: none)")
	webhookQueued := fs.String("webhook-queued", "0,3000,15000", "webhook: jobs queued (not due) before serve starts, one serve each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var errs []error
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(scenarioNames, s) {
			errs = append(errs, fmt.Errorf("-scenarios: no scenario %q (want %s)", s, strings.Join(scenarioNames, ", ")))
		}
		o.scenarios = append(o.scenarios, s)
	}
	for _, f := range []struct {
		name string
		in   string
		out  *[]int
	}{{"-sync-sizes", *syncSizes, &o.syncSizes}, {"-api-sizes", *apiSizes, &o.apiSizes}, {"-webhook-queued", *webhookQueued, &o.webhookQueued}} {
		ns, err := ints(f.in)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
		*f.out = ns
	}
	if o.slashRate <= 0 || o.webhookRate <= 0 || o.slashDuration <= 0 || o.webhookDuration <= 0 || o.apiSamples <= 0 {
		errs = append(errs, errors.New("rates, durations and -api-samples must be positive"))
	}
	if runtime.GOOS != "linux" {
		errs = append(errs, errors.New("clustro-load reads /proc/<pid>/status: Linux only"))
	}
	bin, err := filepath.Abs(o.clustro)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("-clustro: %w (make build)", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	o.clustro = bin

	dir, err := os.MkdirTemp("", "clustro-load-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	s := &suite{o: o, dir: dir, log: stderr}
	began := time.Now()

	// First every scenario prepares its stores (and sync its emulators'
	// pull requests), all at once, with nothing measured meanwhile.
	measures := map[string]measure{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range o.scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := s.prepare(ctx, name)
			mu.Lock()
			measures[name] = m
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.logf("prepared in %s", time.Since(began).Round(time.Second))

	// Sync waits for serve's own passes, a minute apart: it runs alongside
	// the others, whose load it hardly adds to between passes.
	rows := map[string][]row{}
	if m, ok := measures["sync"]; ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := m(ctx)
			mu.Lock()
			rows["sync"] = r
			mu.Unlock()
		}()
	}
	for _, name := range o.scenarios {
		if name == "sync" || ctx.Err() != nil {
			continue
		}
		r := measures[name](ctx)
		mu.Lock()
		rows[name] = r
		mu.Unlock()
	}
	wg.Wait()

	var all []row
	for _, name := range scenarioNames {
		all = append(all, rows[name]...)
	}
	fmt.Fprintf(stdout, "\nclustro-load: %s; clustro serve on SQLite; %s in all\n\n", loadrun.Machine(), time.Since(began).Round(time.Second))
	writeTable(stdout, all)
	return ctx.Err()
}

// suite is one run's settings and working directory.
type suite struct {
	o   options
	dir string
	log io.Writer // progress and the tools' own reports

	mu sync.Mutex // serialises progress lines
	n  int        // names scratch directories
}

// scratch returns a new directory under the run's.
func (s *suite) scratch(name string) (string, error) {
	s.mu.Lock()
	s.n++
	d := filepath.Join(s.dir, fmt.Sprintf("%02d-%s", s.n, name))
	s.mu.Unlock()
	return d, os.MkdirAll(d, 0o700)
}

func (s *suite) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// measure takes a prepared scenario's measurements.
type measure func(ctx context.Context) []row

// prepare readies a scenario: stores seeded, emulators filled.
func (s *suite) prepare(ctx context.Context, name string) measure {
	switch name {
	case "idle":
		return s.idleScenario
	case "slash":
		return s.slashScenario // slashload seeds its own store
	case "api":
		return s.apiScenario(ctx)
	case "webhook":
		return s.webhookScenario(ctx)
	case "sync":
		return s.syncScenario(ctx)
	}
	return func(context.Context) []row { return nil }
}

// failed is the row of a measurement that could not be taken.
func failed(name string, err error) row {
	return row{name: name, note: "not measured: " + err.Error()}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
