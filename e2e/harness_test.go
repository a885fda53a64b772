package e2e

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/internal/pgtest"
	"github.com/clustropg/clustro/internal/syncbuf"
	"github.com/clustropg/clustro/internal/toolchain/toolchaintest"
	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
	"github.com/clustropg/clustro/terraform"
)

// Secrets set on purpose, to prove they never leak.
const (
	webhookSecret = "e2e-webhook-secret-9f3a"
	githubToken   = "ghp_e2eTokenNeverLogged0123456789"
)

// world is everything one end-to-end test runs against.
type world struct {
	t        testing.TB
	ctx      context.Context
	cp       *controlplane.ControlPlane
	op       *controlplane.Operator
	gh       *githubtest.Server
	store    store.Store
	renderer *templates.Renderer
	pipe     *pipeline.Pipeline
	kube     *kube.Client
	dyn      dynamic.Interface
	notices  *recorder
	logs     *syncbuf.Buffer
	cfg      *config.Config
	applied  *durations
	// storeDSN is where the store is: a replica opens it again.
	storeDSN string
}

var (
	sharedOnce sync.Once
	sharedCP   *controlplane.ControlPlane
	sharedPG   *pgtest.Server
	sharedErr  error
)

// newWorld starts (once per package) the control plane and PostgreSQL, and
// per test: an emulator, a store, the pipeline and its engine.
func newWorld(t *testing.T, readyTimeout time.Duration) *world { return newWorldTB(t, readyTimeout) }

// newWorldB is newWorld for benchmarks.
func newWorldB(b *testing.B) *world { return newWorldTB(b, time.Minute) }

func newWorldTB(t testing.TB, readyTimeout time.Duration) *world {
	t.Helper()
	return newWorldWith(t, worldOptions{readyTimeout: readyTimeout})
}

// startShared starts, once per package, the control plane and PostgreSQL
// the tests share.
func startShared(t testing.TB) {
	t.Helper()
	sharedOnce.Do(func() {
		sharedCP, sharedErr = controlplane.Start(context.Background(), controlplane.Options{})
		if sharedErr == nil {
			sharedPG, sharedErr = pgtest.StartServer("")
		}
	})
	if sharedErr != nil {
		t.Fatalf("start the offline control plane (run `make tools`): %v", sharedErr)
	}
}

// worldOptions change what newWorldWith builds.
type worldOptions struct {
	readyTimeout time.Duration
	// workspaceEnv and clusters, when set, give each environment a cluster
	// of its own (terraform.WithWorkspaceEnv, pipeline.KubeClusters.Clients);
	// by default every environment is on the shared control plane.
	workspaceEnv func(terraform.Workspace) (map[string]string, error)
	clusters     map[string]*kube.Client
	// postgres keeps the store in a fresh database of the shared
	// PostgreSQL server instead of SQLite (storeDSN says where).
	postgres bool
	// config is a platform configuration file read over the defaults.
	config string
}

func newWorldWith(t testing.TB, o worldOptions) *world {
	t.Helper()
	readyTimeout := o.readyTimeout
	startShared(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, cp: sharedCP, notices: &recorder{}, logs: &syncbuf.Buffer{}, applied: &durations{}}
	log := zerolog.New(w.logs).With().Timestamp().Logger()

	op, err := sharedCP.RunOperator(ctx, controlplane.OperatorOptions{PostgresDSN: sharedPG.DSN(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Stop)
	w.op = op
	if err := sharedCP.EnsureNamespace(ctx, "clustro-system"); err != nil {
		t.Fatal(err)
	}

	cfgFile := ""
	if o.config != "" {
		cfgFile = filepath.Join(t.TempDir(), "clustro.yaml")
		if err := os.WriteFile(cfgFile, []byte(o.config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(cfgFile, func(k string) string {
		return map[string]string{"CLUSTRO_GRAFANA_URL": "https://grafana.example.com", "CLUSTRO_GITHUB_REPO": "acme/infra"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	w.renderer, err = templates.New(cfg.Templates())
	if err != nil {
		t.Fatal(err)
	}
	module, err := w.renderer.Module()
	if err != nil {
		t.Fatal(err)
	}
	seed := map[string][]byte{"README.md": []byte("# infra\n")}
	for name, b := range module {
		seed[path.Join(templates.ModuleDir, name)] = b
	}

	w.storeDSN = filepath.Join(t.TempDir(), "clustro.db")
	if o.postgres {
		w.storeDSN, err = sharedPG.CreateDatabase(ctx, "clustro_"+strings.ToLower(rand.Text()[:12]))
		if err != nil {
			t.Fatal(err)
		}
	}
	w.store, err = store.Open(ctx, w.storeDSN, store.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.store.Close() })

	// The pipeline is made below, before any pull request (and delivery) exists.
	receive := func(ctx context.Context, ev gitops.Event) (string, bool, error) { return w.pipe.Receive(ctx, ev) }
	hook := httptest.NewServer(withLogger(log, gitops.WebhookHandler([]byte(webhookSecret), "acme/infra", receive)))
	t.Cleanup(hook.Close)
	w.gh = githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra", Files: seed, Token: githubToken,
		WebhookURL: hook.URL, WebhookSecret: webhookSecret, Associations: map[string]string{"reviewer": "MEMBER"}})
	gc, err := gitops.NewClient(gitops.Options{APIURL: w.gh.URL() + "/", Repo: "acme/infra", Auth: gitops.Auth{Token: githubToken}})
	if err != nil {
		t.Fatal(err)
	}

	bin, cli := toolchaintest.Terraform(t)
	clusterEnv := terraform.Option(terraform.WithEnv(map[string]string{"KUBE_CONFIG_PATH": sharedCP.Kubeconfig()}))
	if o.workspaceEnv != nil {
		clusterEnv = terraform.WithWorkspaceEnv(o.workspaceEnv)
	}
	runner, err := terraform.New(terraform.WithBinary(bin), terraform.WithCLIConfig(cli), clusterEnv,
		terraform.WithSecrets(webhookSecret, githubToken), terraform.WithLocker(w.store),
		terraform.WithLogger(log), terraform.WithTimeout(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	w.kube, err = kube.New(sharedCP.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	w.dyn, err = dynamic.NewForConfig(sharedCP.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	// One control plane serves every environment unless the test gives each its own.
	clusters := pipeline.KubeClusters{Clients: map[string]*kube.Client{}, Timeout: readyTimeout, Mode: kube.CheckDirect}
	for _, env := range cfg.Policy.EnvironmentNames() {
		clusters.Clients[env] = w.kube
	}
	if o.clusters != nil {
		clusters.Clients = o.clusters
	}
	w.pipe = pipeline.New(pipeline.Deps{
		Store: w.store, Renderer: w.renderer, GitHub: gc, Runner: runner, Clusters: clusters,
		Observer: w.applied, Log: log,
	}, pipeline.Config{Secrets: []string{webhookSecret, githubToken}})
	eng := engine.New(w.store, engine.Poll(20*time.Millisecond), engine.Workers(4), engine.Lease(30*time.Second), engine.Logger(log))
	w.pipe.Register(eng)
	eng.Handle(pipeline.JobNotify, pipeline.NotifyHandler(w.store, w.notices.Notify))
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("clustro logs:\n%s", w.logs.String())
			for _, n := range w.notices.all() {
				t.Logf("notice %s: %s", n.Kind, n.Text)
			}
		}
	})
	return w
}

// waitState waits for a request to reach state (failing fast if it fails).
func (w *world) waitState(id string, want request.State, within time.Duration) store.Record {
	w.t.Helper()
	deadline := time.Now().Add(within)
	var rec store.Record
	for time.Now().Before(deadline) {
		var err error
		rec, err = w.store.GetRequest(w.ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if rec.State == want {
			return rec
		}
		if rec.State == request.Failed && want != request.Failed {
			w.t.Fatalf("request %s failed while waiting for %s: %+v", id, want, rec.Failure)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("request %s is %s after %s, want %s", id, rec.State, within, want)
	return rec
}

// waitFor polls cond.
func (w *world) waitFor(what string, within time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	clusterGVR         = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}
	scheduledBackupGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "scheduledbackups"}
	databaseGVR        = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "databases"}
	objectStoreGVR     = schema.GroupVersionResource{Group: "barmancloud.cnpg.io", Version: "v1", Resource: "objectstores"}
	podMonitorGVR      = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "podmonitors"}
	cronJobGVR         = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
)

func (w *world) get(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	w.t.Helper()
	var c dynamic.ResourceInterface = w.dyn.Resource(gvr)
	if ns != "" {
		c = w.dyn.Resource(gvr).Namespace(ns)
	}
	u, err := c.Get(w.ctx, name, metav1.GetOptions{})
	if err != nil {
		w.t.Fatalf("read back %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return u
}

func (w *world) exists(gvr schema.GroupVersionResource, ns, name string) bool {
	_, err := w.dyn.Resource(gvr).Namespace(ns).Get(w.ctx, name, metav1.GetOptions{})
	return err == nil
}

// recorder delivers notices by keeping every one.
type recorder struct {
	mu sync.Mutex
	ns []request.Notice
}

func (r *recorder) Notify(_ context.Context, _ store.Record, n request.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ns = append(r.ns, n)
	return nil
}

func (r *recorder) all() []request.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request.Notice(nil), r.ns...)
}

func (r *recorder) find(kind string) []request.Notice {
	var out []request.Notice
	for _, n := range r.all() {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// durations records terraform and readiness durations (pipeline.Observer).
type durations struct {
	mu        sync.Mutex
	terraform map[string][]time.Duration
}

func (d *durations) ObserveTerraform(cmd string, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.terraform == nil {
		d.terraform = map[string][]time.Duration{}
	}
	d.terraform[cmd] = append(d.terraform[cmd], took)
}

func (d *durations) ObserveReadiness(time.Duration) {}

// count is how many times cmd ran to completion.
func (d *durations) count(cmd string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.terraform[cmd])
}

func (d *durations) last(cmd string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.terraform[cmd]
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

func withLogger(log zerolog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(log.WithContext(r.Context())))
	})
}

func controlplaneFail(reason string) controlplane.Behavior { return controlplane.Fail(reason) }
