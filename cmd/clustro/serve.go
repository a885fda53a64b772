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
	"k8s.io/client-go/rest"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/bot"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/server"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
	"github.com/clustropg/clustro/terraform"
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
	renderer, err := templates.New(cfg.Templates())
	if err != nil {
		return err
	}
	// One Kubernetes client per environment's cluster serves the pipeline
	// (readiness, checks) and the Slack DM (credentials); without them, the
	// pipeline cannot run.
	clients, kubeErr := kubeClients(cfg)
	if kubeErr == nil {
		clusters := cfg.EnvironmentClusters()
		for _, env := range cfg.Policy.EnvironmentNames() {
			log.Info().Str("environment", env).Stringer("cluster", clusters[env]).Msg("environment's cluster")
		}
	}
	pipe, webhook, err := buildPipeline(e, cfg, st, renderer, clients, kubeErr, metrics, log)
	if err != nil {
		return err
	}
	pipe.Register(eng)
	// The pipeline queues notices; Slack (or the log) delivers them.
	deliver := pipeline.LogNotices(log.With().Str("component", "notices").Logger())
	var slackBot *bot.Bot
	if on, _ := cfg.Slack.Enabled(); on {
		var creds bot.Credentials
		if kubeErr == nil {
			creds = credentialsByEnvironment(clients)
		} else {
			log.Warn().Err(kubeErr).Msg("no Kubernetes access: ready databases are announced without the credentials DM")
		}
		slackBot, err = bot.New(bot.Deps{Store: st, Pipeline: pipe, Policy: &cfg.Policy, Config: cfg.Slack,
			Workers: cfg.Slack.Workers, Queue: cfg.Slack.Queue,
			Credentials: creds, Log: log.With().Str("component", "slack").Logger()})
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		deliver = slackBot.Notify
	}
	eng.Handle(pipeline.JobNotify, pipeline.NotifyHandler(st, deliver))

	limits := server.Limits{BodyBudget: cfg.Server.BodyBudget.Bytes(), ReadTimeout: cfg.Server.ReadTimeout.D(), MaxConnections: cfg.Server.MaxConnections}
	deps := server.Deps{Log: log, Store: st, Registry: reg, Metrics: metrics, Limits: limits}
	deps.Slack = server.Integration{Name: "slack", MaxBody: bot.MaxBody}
	if on, missing := cfg.Slack.Enabled(); !on {
		deps.Slack.Missing = missing
	} else {
		if cfg.Slack.SigningSecret.IsSet() {
			deps.Slack.Handler = slackBot.Handler()
		} else {
			deps.Slack.Missing = "CLUSTRO_SLACK_SIGNING_SECRET (Socket Mode is on; the HTTP routes need the signing secret)"
		}
	}
	deps.GitHub = server.Integration{Name: "github", Handler: webhook, MaxBody: gitops.MaxPayload}
	if on, missing := cfg.GitHub.Enabled(); !on {
		deps.GitHub.Missing = missing
	}
	deps.API = server.Integration{Name: "api"}
	if on, missing := cfg.API.Enabled(); on {
		deps.API.Handler = api.New(api.Deps{Store: st, Pipeline: pipe, Policy: &cfg.Policy, Catalog: cfg.Catalog,
			Grafana: cfg.Grafana, Namespace: cfg.Policy.NamespaceFor, Tokens: cfg.API.Tokens,
			Log: log.With().Str("component", "api").Logger()})
	} else {
		deps.API.Missing = missing
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	ln = limits.Listener(ln)
	srv := limits.HTTPServer(server.New(deps))
	log.Info().Str("addr", ln.Addr().String()).Object("server", &cfg.Server).
		Bool("slack", deps.Slack.On()).Bool("github", deps.GitHub.On()).Bool("api", deps.API.On()).Msg("clustro serve listening")

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
	if webhook != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe.SyncEvery(engCtx, cfg.GitHub.SyncInterval.D()) // catches deliveries GitHub never redelivers
		}()
	}
	if slackBot != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slackBot.Run(engCtx) // Socket Mode when an app token is set
		}()
	}
	if eng.HasHandlers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eng.Run(engCtx)
		}()
	}
	// Day two: the health watch of ready databases, and the drift check on
	// workers of its own (a drift check never holds a request's worker).
	if cfg.Watch.Health && kubeErr == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe.Watch(engCtx, clients, pipeline.WatchOptions{Resync: cfg.Watch.Resync.D(), Observer: metrics})
		}()
	}
	if interval := cfg.Watch.DriftInterval.D(); interval > 0 && webhook != nil {
		driftEng := engine.New(st,
			engine.Workers(cfg.Watch.DriftWorkers),
			engine.Lease(cfg.Server.JobLease.D()),
			engine.Grace(cfg.Server.ShutdownGrace.D()),
			engine.Logger(log.With().Str("component", "drift").Logger()),
			engine.Observe(metrics),
		)
		pipe.RegisterDrift(driftEng, metrics)
		wg.Add(2)
		go func() {
			defer wg.Done()
			driftEng.Run(engCtx)
		}()
		go func() {
			defer wg.Done()
			pipe.DriftEvery(engCtx, interval)
		}()
	}
	defer pipe.Close()

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

// buildPipeline wires the request pipeline. Its jobs run only when GitHub
// is configured (they open pull requests); requests can still be stored
// without it, and wait in the queue.
func buildPipeline(e *env, cfg *config.Config, st store.Store, renderer *templates.Renderer, clients map[string]*kube.Client, kubeErr error, metrics *server.Metrics, log zerolog.Logger) (*pipeline.Pipeline, http.Handler, error) {
	secrets := []string{cfg.GitHub.Token.Value(), cfg.GitHub.WebhookSecret.Value(), cfg.Slack.BotToken.Value(),
		cfg.Slack.SigningSecret.Value(), cfg.Slack.AppToken.Value(), cfg.Server.Store.Value()}
	deps := pipeline.Deps{Store: st, Renderer: renderer, Observer: metrics, Log: log.With().Str("component", "pipeline").Logger()}
	on, _ := cfg.GitHub.Enabled()
	if !on {
		return pipeline.New(deps, pipeline.Config{Secrets: secrets}), nil, nil
	}
	gh, err := githubClient(cfg, func(r gitops.Rate) { metrics.ObserveGitHubRate(r.Remaining) })
	if err != nil {
		return nil, nil, fmt.Errorf("github: %w", err)
	}
	if kubeErr != nil {
		return nil, nil, kubeErr
	}
	mode, err := kube.ParseCheckMode(cfg.Kubernetes.ConnectionCheck)
	if err != nil {
		return nil, nil, err
	}
	// The cluster's variables are the workspace's own (WithWorkspaceEnv):
	// none of them is shared across environments.
	tfEnv := map[string]string{}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3"} {
		if v := e.getenv(k); v != "" {
			tfEnv[k] = v
			if k == "AWS_SECRET_ACCESS_KEY" {
				secrets = append(secrets, v)
			}
		}
	}
	opts := []terraform.Option{terraform.WithEnv(tfEnv), terraform.WithWorkspaceEnv(pipeline.ClusterEnv(clusterEnv(cfg, e.getenv))),
		terraform.WithSecrets(secrets...), terraform.WithLocker(st),
		terraform.WithParallelism(cfg.TerraformRun.Parallelism), terraform.WithTimeout(cfg.TerraformRun.Timeout.D()),
		terraform.WithLogger(log.With().Str("component", "terraform").Logger())}
	if cfg.TerraformRun.Binary != "" {
		opts = append(opts, terraform.WithBinary(cfg.TerraformRun.Binary))
	}
	if cli := cfg.TerraformRun.CLIConfig; cli != "" {
		opts = append(opts, terraform.WithCLIConfig(cli))
	}
	runner, err := terraform.New(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("terraform: %w", err)
	}
	deps.GitHub, deps.Runner = gh, runner
	deps.Clusters = pipeline.KubeClusters{Clients: clients, Timeout: cfg.Kubernetes.ReadyTimeout.D(), Mode: mode}
	pipe := pipeline.New(deps, pipeline.Config{Commenters: cfg.GitHub.Commenters, Secrets: secrets})
	return pipe, gitops.WebhookHandler([]byte(cfg.GitHub.WebhookSecret.Value()), cfg.GitHub.Repo, pipe.Receive), nil
}

// kubeClients connects to the Kubernetes API of each environment's cluster
// (kubernetes.clusters, else CLUSTRO_KUBECONFIG, else the in-cluster
// config), by environment; environments on the same cluster share a client.
func kubeClients(cfg *config.Config) (map[string]*kube.Client, error) {
	clients := map[string]*kube.Client{}
	byCluster := map[config.KubeCluster]*kube.Client{}
	for env, kc := range cfg.EnvironmentClusters() {
		if c, ok := byCluster[kc]; ok {
			clients[env] = c
			continue
		}
		var restCfg *rest.Config
		var err error
		if kc.InCluster {
			restCfg, err = kube.InClusterConfig()
		} else {
			restCfg, err = kube.LoadConfig(kc.Kubeconfig, kc.Context)
		}
		if err != nil {
			return nil, fmt.Errorf("kubernetes: environment %s (%s; set kubernetes.clusters.%s or CLUSTRO_KUBECONFIG, or run in a cluster): %w", env, kc, env, err)
		}
		c, err := kube.New(restCfg)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: environment %s: %w", env, err)
		}
		byCluster[kc], clients[env] = c, c
	}
	return clients, nil
}

// clusterEnv is the terraform environment of an environment's cluster.
func clusterEnv(cfg *config.Config, getenv func(string) string) func(env string) (map[string]string, error) {
	return func(env string) (map[string]string, error) {
		kc, ok := cfg.EnvironmentClusters()[env]
		if !ok {
			return nil, fmt.Errorf("environment %s has no cluster (kubernetes.clusters)", env)
		}
		return kc.TerraformEnv(getenv), nil
	}
}

// credentialsByEnvironment reads a ready database's credentials from the
// cluster of its environment only.
func credentialsByEnvironment(clients map[string]*kube.Client) bot.Credentials {
	return func(ctx context.Context, env, namespace, cluster string) (string, string, error) {
		c, ok := clients[env]
		if !ok {
			return "", "", fmt.Errorf("credentials of %s/%s: environment %q has no cluster", namespace, cluster, env)
		}
		return c.Credentials(ctx, namespace, cluster)
	}
}

// githubClient is the infra repository's client from the GitHub settings
// (a token, or a GitHub App).
func githubClient(cfg *config.Config, onRate func(gitops.Rate)) (*gitops.Client, error) {
	return gitops.NewClient(gitops.Options{APIURL: cfg.GitHub.APIURL, Repo: cfg.GitHub.Repo, BaseBranch: cfg.GitHub.BaseBranch, OnRate: onRate,
		Auth: gitops.Auth{Token: cfg.GitHub.Token.Value(), AppID: cfg.GitHub.AppID, InstallationID: cfg.GitHub.InstallationID, PrivateKeyFile: cfg.GitHub.PrivateKeyFile}})
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
