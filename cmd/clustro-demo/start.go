package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/internal/pgtest"
	"github.com/clustropg/clustro/internal/toolchain"
	"github.com/clustropg/clustro/templates"
)

// start starts the control plane, PostgreSQL and the operator stand-in,
// the Slack fake, the GitHub emulator and clustro serve.
func (d *demo) start(ctx context.Context) error {
	d.step = "looking for clustro and the toolchain"
	tools, err := d.findTools()
	if err != nil {
		return err
	}
	secrets, err := newDemoSecrets()
	if err != nil {
		return err
	}
	clusterL, err := openLocked(filepath.Join(d.dir, "cluster.log"))
	if err != nil {
		return err
	}
	d.onStop("", clusterL.Close)

	d.step = "starting the control plane"
	t := time.Now()
	d.cp, err = controlplane.Start(ctx, controlplane.Options{BinDir: tools.binDir, Logf: clusterL.Logf})
	if err != nil {
		return err
	}
	d.onStop("the control plane", d.cp.Stop)
	if err := d.cp.EnsureNamespace(ctx, "clustro-system"); err != nil {
		return err
	}
	crds := "the real CloudNativePG CRDs from " + d.cp.CRDSource()
	if d.cp.CRDSource() == "embedded" {
		crds = "minimal CloudNativePG CRDs (set CLUSTRO_CNPG_CRDS for the real ones)"
	}
	fmt.Fprintf(d.out, "  control plane ready in %s: etcd + kube-apiserver at %s, %s; kubeconfig %s\n",
		since(t), d.cp.RESTConfig().Host, crds, d.cp.Kubeconfig())

	d.step = "starting PostgreSQL"
	t = time.Now()
	d.pg, err = pgtest.StartServer("")
	if err != nil {
		return err
	}
	d.onStop("PostgreSQL", func() {
		if err := d.pg.Stop(); err != nil {
			fmt.Fprintf(d.e.stderr, "clustro-demo: %v\n", err)
		}
	})
	pgURL, _ := url.Parse(d.pg.DSN())
	fmt.Fprintf(d.out, "  PostgreSQL 15 ready in %s at %s\n", since(t), pgURL.Host)

	if d.restore {
		if err := d.startObjectStore(ctx); err != nil {
			return err
		}
	}

	d.step = "starting the CloudNativePG stand-in"
	opts := controlplane.OperatorOptions{PostgresDSN: d.pg.DSN(), Logf: clusterL.Logf}
	if d.restore {
		opts.WorkDir = filepath.Join(d.dir, "clusters")
	}
	op, err := d.cp.RunOperator(ctx, opts)
	if err != nil {
		return err
	}
	d.onStop("the CloudNativePG stand-in", op.Stop)
	fmt.Fprintf(d.out, "  CloudNativePG stand-in running: each Cluster gets a database and role in that PostgreSQL (log: %s)\n", filepath.Join(d.shown, "cluster.log"))
	if d.restore {
		fmt.Fprintf(d.out, "  (a Cluster with the Barman Cloud plugin gets its own PostgreSQL in %s instead, archiving its WAL to MinIO with barman-cloud)\n", filepath.Join(d.shown, "clusters"))
	}

	d.slack = slacktest.New(nil)
	d.slack.BotToken = secrets.botToken
	d.onStop("the Slack fake", d.slack.Close)
	d.signer = d.slack.Signer(secrets.signing)
	fmt.Fprintf(d.out, "  Slack fake at %s: channel #%s, user @%s\n", d.slack.URL, demoChannelName, demoUserName)

	objectStore := ""
	if d.minio != nil {
		objectStore = d.minio.Endpoint()
	}
	cfgPath, err := writeServeConfig(d.dir, objectStore)
	if err != nil {
		return err
	}

	d.step = "starting the GitHub emulator"
	files, err := demoRepoFiles(cfgPath)
	if err != nil {
		return err
	}
	d.gh, err = githubtest.New(githubtest.Options{Owner: demoOwner, Repo: demoRepo, Files: files,
		Token: secrets.githubToken, WebhookSecret: secrets.webhook, Reviewer: demoReviewer})
	if err != nil {
		return err
	}
	d.onStop("the GitHub emulator", d.gh.Close)
	fmt.Fprintf(d.out, "  GitHub emulator at %s/%s/%s, seeded with %s and a README\n", d.gh.URL(), demoOwner, demoRepo, templates.ModuleDir)

	d.step = "starting clustro serve"
	t = time.Now()
	d.serveLog = filepath.Join(d.dir, "clustro.log")
	d.serve, err = startServe(ctx, serveOptions{bin: tools.clustro, dir: d.dir, config: cfgPath, getenv: d.e.getenv, logPath: d.serveLog,
		env: map[string]string{
			"CLUSTRO_STORE":                 filepath.Join(d.dir, "clustro.db"),
			"CLUSTRO_SHUTDOWN_GRACE":        "5s",
			"CLUSTRO_READY_TIMEOUT":         "3m",
			"CLUSTRO_DRIFT_INTERVAL":        "2m", // a hand edit shows up within minutes, not the hour of the default
			"CLUSTRO_WATCH_RESYNC":          "30s",
			"CLUSTRO_SLACK_BOT_TOKEN":       secrets.botToken,
			"CLUSTRO_SLACK_SIGNING_SECRET":  secrets.signing,
			"CLUSTRO_SLACK_API_URL":         d.slack.APIURL(),
			"CLUSTRO_GITHUB_TOKEN":          secrets.githubToken,
			"CLUSTRO_GITHUB_REPO":           demoOwner + "/" + demoRepo,
			"CLUSTRO_GITHUB_API_URL":        d.gh.URL() + "/",
			"CLUSTRO_GITHUB_WEBHOOK_SECRET": secrets.webhook,
			"CLUSTRO_KUBECONFIG":            d.cp.Kubeconfig(),
			"CLUSTRO_TERRAFORM_CLI_CONFIG":  tools.cliConfig,
			"CLUSTRO_TERRAFORM":             tools.terraform,
			"CLUSTRO_GRAFANA_URL":           demoGrafana,
			"CLUSTRO_CONNECTION_CHECK":      "direct",
			"CLUSTRO_API_TOKENS":            "demo:read+request:" + secrets.apiToken,
		}})
	if err != nil {
		return err
	}
	d.onStop("clustro serve", func() {
		if err := d.serve.stop(); err != nil {
			fmt.Fprintf(d.e.stderr, "clustro-demo: %v\n", err)
		}
	})
	d.url = d.serve.url
	fmt.Fprintf(d.out, "  clustro serve (%s) ready in %s at %s (logs: %s); the emulator's webhook points at /webhooks/github\n",
		shortPath(tools.clustro), since(t), d.url, filepath.Join(d.shown, "clustro.log"))
	d.gh.SetWebhook(d.url+"/webhooks/github", secrets.webhook)

	d.state = demoState{PID: os.Getpid(), Dir: d.dir, URL: d.url, SlackSigningSecret: secrets.signing, SlackURL: d.slack.URL,
		Channel: demoChannel, ChannelName: demoChannelName, UserID: demoUserID, UserName: demoUserName,
		APIToken: secrets.apiToken, GitHubURL: d.gh.URL(), GitHubToken: secrets.githubToken, GitHubRepo: demoOwner + "/" + demoRepo,
		Kubeconfig: d.cp.Kubeconfig(), PostgresDSN: d.pg.DSN()}
	if err := writeDemoState(statePath(d.dir), d.state); err != nil {
		return err
	}
	d.step = ""
	return nil
}

// demoTools are the binaries and files the demo runs, found before
// anything starts.
type demoTools struct {
	clustro   string // the clustro binary, run as serve
	binDir    string // etcd and kube-apiserver
	cliConfig string // terraform's CLI config with the provider mirror
	terraform string // the terraform or tofu binary
}

// findTools finds clustro and what `make tools` built.
func (d *demo) findTools() (demoTools, error) {
	var t demoTools
	var err error
	if t.clustro, err = findClustro(d.clustroBin); err != nil {
		return t, err
	}
	if t.binDir, err = toolchain.BinDir(d.e.getenv); err != nil {
		return t, err
	}
	if t.cliConfig, err = toolchain.CLIConfig(d.e.getenv); err != nil {
		return t, err
	}
	if t.terraform, err = toolchain.Terraform(d.e.getenv); err != nil {
		return t, err
	}
	return t, nil
}

// writeServeConfig writes serve's platform config over the defaults: API
// requests of team shop (the curl example of --keep) report in #shop;
// with an object store endpoint (--restore), backups go to that MinIO.
func writeServeConfig(dir, objectStore string) (string, error) {
	p := filepath.Join(dir, "clustro.yaml")
	b := fmt.Sprintf("# Written by clustro-demo for its clustro serve (the rest is in its environment).\n"+
		"slack:\n  teamChannels:\n    %s: %s\n", demoTeamChannelName, demoTeamChannel)
	if objectStore != "" {
		b += fmt.Sprintf("cluster:\n  objectStore:\n    destinationPath: s3://%s\n    endpointURL: %s\n"+
			"    credentialsSecret: %s\n    accessKeyIdKey: %s\n    secretAccessKeyKey: %s\n",
			demoBucket, objectStore, demoBackupSecret, demoAccessKeyIDKey, demoSecretAccessKeyKey)
	}
	if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
		return "", fmt.Errorf("serve config: %w", err)
	}
	return p, nil
}

// demoSecrets are the throwaway secrets of one run.
type demoSecrets struct {
	botToken, signing, githubToken, webhook, apiToken string
}

// newDemoSecrets makes fresh random secrets.
func newDemoSecrets() (demoSecrets, error) {
	var s demoSecrets
	for _, p := range []*string{&s.botToken, &s.signing, &s.githubToken, &s.webhook, &s.apiToken} {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return s, fmt.Errorf("random secret: %w", err)
		}
		*p = hex.EncodeToString(b)
	}
	s.botToken = "xoxb-demo-" + s.botToken
	s.githubToken = "ghp_demo" + s.githubToken
	s.apiToken = "demo-" + s.apiToken
	return s, nil
}

// demoRepoFiles is the infra repository's first commit: a README and the
// module, rendered as clustro bootstrap would with serve's config file.
func demoRepoFiles(cfgPath string) (map[string][]byte, error) {
	cfg, err := config.Load(cfgPath, func(k string) string {
		return map[string]string{"CLUSTRO_GRAFANA_URL": demoGrafana, "CLUSTRO_GITHUB_REPO": demoOwner + "/" + demoRepo}[k]
	})
	if err != nil {
		return nil, err
	}
	r, err := templates.New(cfg.Templates())
	if err != nil {
		return nil, err
	}
	module, err := r.Module()
	if err != nil {
		return nil, fmt.Errorf("render the module: %w", err)
	}
	files := map[string][]byte{"README.md": []byte("# infra\n\nDatabases asked through ClustroPG live in `databases/<env>/<team>/<name>`; " +
		"the module they call is `" + templates.ModuleDir + "`.\n")}
	for name, b := range module {
		files[path.Join(templates.ModuleDir, name)] = b
	}
	return files, nil
}

// lockedFile is a log file several goroutines write lines to.
type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

// openLocked opens (appends to) a log file.
func openLocked(p string) (*lockedFile, error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &lockedFile{f: f}, nil
}

// Logf writes one timestamped line.
func (l *lockedFile) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		fmt.Fprintf(l.f, "%s %s\n", time.Now().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	}
}

// Close closes the file; later lines are dropped.
func (l *lockedFile) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
