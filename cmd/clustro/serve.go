package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/server"
	"github.com/clustropg/clustro/store"
)

func serveCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ClustroPG service: HTTP endpoints and the job workers",
		Long: `Serve listens on CLUSTRO_LISTEN (default :8080) and runs the durable job
workers on the store in CLUSTRO_STORE (default ./clustro.db; a postgres:// DSN
for several replicas). Slack and GitHub are off until configured; /readyz says
which integrations are on. SIGTERM stops taking jobs, lets running ones finish
within CLUSTRO_SHUTDOWN_GRACE, then interrupts them.`,
		Args: cobra.NoArgs,
	}
	cfgPath := configFlag(cmd, e)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loadConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		return serve(cmd.Context(), e, cfg)
	}
	return cmd
}

func serve(ctx context.Context, e *env, cfg *config.Config) error {
	level, _ := zerolog.ParseLevel(cfg.Server.LogLevel)
	log := zerolog.New(e.stderr).Level(level).With().Timestamp().Str("service", "clustro").Logger()

	st, err := store.Open(ctx, cfg.Server.Store.Value())
	if err != nil {
		return fmt.Errorf("open store %s: %w", config.StoreKind(cfg.Server.Store.Value()), err)
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg, st)
	eng := engine.New(st,
		engine.Workers(cfg.Server.Workers),
		engine.Lease(cfg.Server.JobLease.D()),
		engine.Grace(cfg.Server.ShutdownGrace.D()),
		engine.Logger(log.With().Str("component", "engine").Logger()),
		engine.Observe(metrics),
	)
	if path := e.getenv("CLUSTRO_SELFTEST_LOG"); path != "" {
		eng.Handle(selftestKind, selftest(path))
	}

	deps := server.Deps{Log: log, Store: st, Registry: reg, Metrics: metrics}
	deps.Slack = server.Integration{Name: "slack"}
	if on, missing := cfg.Slack.Enabled(); !on {
		deps.Slack.Missing = missing
	}
	deps.GitHub = server.Integration{Name: "github"}
	if on, missing := cfg.GitHub.Enabled(); !on {
		deps.GitHub.Missing = missing
	}
	deps.API = server.Integration{Name: "api", Missing: "api.tokens"}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	srv := &http.Server{Handler: server.New(deps), ReadHeaderTimeout: 10 * time.Second}
	log.Info().Str("addr", ln.Addr().String()).Object("server", &cfg.Server).
		Bool("slack", deps.Slack.On()).Bool("github", deps.GitHub.On()).Msg("clustro serve listening")

	var wg sync.WaitGroup
	httpErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
		}
	}()
	engCtx, stopEngine := context.WithCancel(ctx)
	defer stopEngine()
	if eng.HasHandlers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eng.Run(engCtx)
		}()
	}

	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down: no new jobs; running jobs get the grace period")
	case err = <-httpErr:
		log.Error().Err(err).Msg("http server failed")
	}
	stopEngine()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutCtx)
	wg.Wait()
	log.Info().Msg("clustro serve stopped")
	return err
}

// selftestKind is a job that does nothing but record when it ran. Enabled
// by CLUSTRO_SELFTEST_LOG (a file it appends to), it checks that several
// replicas on one store run each job once and never two jobs of one
// workspace at once.
const selftestKind = "selftest"

func selftest(path string) engine.Handler {
	return func(ctx context.Context, job store.Job) ([]byte, error) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("selftest log: %w", err)
		}
		defer f.Close()
		// One write per line: O_APPEND keeps lines whole across processes.
		fmt.Fprintf(f, "start %s %s %d\n", job.ID, job.Workspace, os.Getpid())
		select {
		case <-time.After(selftestSleep(job.Payload)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		fmt.Fprintf(f, "end %s %s %d\n", job.ID, job.Workspace, os.Getpid())
		return nil, nil
	}
}

// selftestSleep reads {"sleepMs": n} (capped at a minute).
func selftestSleep(payload []byte) time.Duration {
	var p struct {
		SleepMs int `json:"sleepMs"`
	}
	json.Unmarshal(payload, &p)
	return min(time.Duration(p.SleepMs)*time.Millisecond, time.Minute)
}
