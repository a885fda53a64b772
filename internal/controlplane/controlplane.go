package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// DefaultReadyTimeout bounds the wait for the API server to become ready.
const DefaultReadyTimeout = 60 * time.Second

// Options configure Start. The zero value finds everything by convention.
type Options struct {
	// BinDir holds the etcd and kube-apiserver binaries. Default:
	// $CLUSTRO_TOOLS/bin, else .tools/bin in the repository.
	BinDir string
	// CRDDir holds the CustomResourceDefinitions to install (*.yaml, *.yml,
	// *.json). Default: $CLUSTRO_CNPG_CRDS, else ../shared/cnpg/crds next to
	// the repository when it exists, else the embedded minimal CRDs.
	CRDDir string
	// MinimalCRDs installs the embedded minimal CRDs even when the real
	// ones are available.
	MinimalCRDs bool
	// ReadyTimeout bounds the wait for the API server; default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Logf, when set, receives progress and teardown problems.
	Logf func(format string, args ...any)
}

// ControlPlane is a running etcd and kube-apiserver with the CRDs installed.
type ControlPlane struct {
	dir        string
	kubeconfig string
	cfg        *rest.Config
	crds       []string
	crdSource  string
	etcd       *process
	apiserver  *process
	logf       func(format string, args ...any)
	stopOnce   sync.Once
}

// Start starts etcd and kube-apiserver on free ports of 127.0.0.1 in a
// temporary directory, waits until the API server is ready, writes a
// kubeconfig and installs the CRDs. ctx bounds the start only: the control
// plane runs until Stop. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	bin, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	crdDir, err := crdDir(opts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "clustro-controlplane-")
	if err != nil {
		return nil, fmt.Errorf("start control plane: make directory: %w", err)
	}
	cp := &ControlPlane{dir: dir, logf: opts.Logf}
	if cp.logf == nil {
		cp.logf = func(string, ...any) {}
	}
	started := false
	defer func() {
		if !started {
			cp.Stop()
		}
	}()

	creds, err := writeCredentials(dir)
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	etcdURL, err := cp.startEtcd(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	if err := cp.startAPIServer(ctx, bin, etcdURL, creds, timeout); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	if err := cp.installCRDs(ctx, crdDir); err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	started = true
	return cp, nil
}

// Kubeconfig is the path of a kubeconfig for the control plane's admin
// (system:masters), with the API server's certificate as its authority.
func (cp *ControlPlane) Kubeconfig() string { return cp.kubeconfig }

// RESTConfig is a client configuration for the admin; each call returns a copy.
func (cp *ControlPlane) RESTConfig() *rest.Config { return rest.CopyConfig(cp.cfg) }

// Dir is the control plane's working directory (data, certificates, logs),
// removed by Stop.
func (cp *ControlPlane) Dir() string { return cp.dir }

// CRDs are the names of the CustomResourceDefinitions Start installed.
func (cp *ControlPlane) CRDs() []string { return append([]string(nil), cp.crds...) }

// CRDSource is the directory the CRDs came from, or "embedded" for the
// project's minimal CRDs.
func (cp *ControlPlane) CRDSource() string { return cp.crdSource }

// EnsureNamespace creates a namespace unless it exists. (The
// NamespaceLifecycle admission plugin refuses objects in a missing
// namespace; no namespace controller runs, so deleted namespaces stay
// Terminating.)
func (cp *ControlPlane) EnsureNamespace(ctx context.Context, name string) error {
	cs, err := kubernetes.NewForConfig(cp.cfg)
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// Stop kills kube-apiserver and etcd (their whole process groups) and
// removes the working directory. Calling it again does nothing.
func (cp *ControlPlane) Stop() {
	cp.stopOnce.Do(func() {
		var errs []error
		errs = append(errs, cp.apiserver.stop(), cp.etcd.stop())
		if err := os.RemoveAll(cp.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", cp.dir, err))
		}
		if err := errors.Join(errs...); err != nil {
			cp.logf("controlplane: stop: %v", err)
		}
	})
}

// startAttempts is how often a process is started on fresh ports when
// another process took a port between picking and binding it.
const startAttempts = 3

// startEtcd starts etcd and waits until it answers /health; it returns the
// client URL.
func (cp *ControlPlane) startEtcd(ctx context.Context, bin string) (string, error) {
	var lastErr error
	for attempt := range startAttempts {
		ports, err := freePorts(2)
		if err != nil {
			return "", fmt.Errorf("start etcd: %w", err)
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		args := []string{
			"--data-dir", filepath.Join(cp.dir, "etcd"),
			"--listen-client-urls", clientURL,
			"--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL,
			"--unsafe-no-fsync", // throwaway data: skip fsync, faster on slow disks
			"--log-level", "warn",
		}
		p, err := startProcess("etcd", filepath.Join(bin, "etcd"), args, cp.dir, filepath.Join(cp.dir, "etcd.log"))
		if err != nil {
			return "", err
		}
		cp.etcd = p
		err = waitHealthy(ctx, p, 30*time.Second, func(ctx context.Context) error {
			return getOK(ctx, nil, clientURL+"/health", `"health":"true"`)
		})
		if err == nil {
			cp.logf("controlplane: etcd ready at %s", clientURL)
			return clientURL, nil
		}
		lastErr = fmt.Errorf("start etcd (attempt %d): %w", attempt+1, err)
		retry := p.exited() && p.portInUse()
		p.stop()
		os.RemoveAll(filepath.Join(cp.dir, "etcd"))
		if !retry {
			break
		}
	}
	return "", lastErr
}

// startAPIServer starts kube-apiserver with the flags of E2E-TOOLS.md,
// writes the kubeconfig and waits until /readyz answers ok.
func (cp *ControlPlane) startAPIServer(ctx context.Context, bin, etcdURL string, creds credentials, timeout time.Duration) error {
	certDir := filepath.Join(cp.dir, "certs")
	var lastErr error
	for attempt := range startAttempts {
		ports, err := freePorts(1)
		if err != nil {
			return fmt.Errorf("start kube-apiserver: %w", err)
		}
		args := []string{
			"--etcd-servers=" + etcdURL,
			"--cert-dir=" + certDir,
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--service-cluster-ip-range=10.0.0.0/24",
			"--service-account-issuer=https://localhost",
			"--service-account-key-file=" + creds.saPub,
			"--service-account-signing-key-file=" + creds.saKey,
			"--token-auth-file=" + creds.tokensFile,
			"--authorization-mode=RBAC",
			"--disable-admission-plugins=ServiceAccount",
		}
		p, err := startProcess("kube-apiserver", filepath.Join(bin, "kube-apiserver"), args, cp.dir, filepath.Join(cp.dir, "kube-apiserver.log"))
		if err != nil {
			return err
		}
		cp.apiserver = p
		server := "https://127.0.0.1:" + strconv.Itoa(ports[0])
		caFile := filepath.Join(certDir, "apiserver.crt")
		probeCfg := &rest.Config{Host: server, BearerToken: creds.token, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}}
		start := time.Now()
		err = waitHealthy(ctx, p, timeout, func(ctx context.Context) error {
			// The certificate file appears once the server has generated it;
			// until then building the client fails, and we try again.
			hc, err := rest.HTTPClientFor(probeCfg)
			if err != nil {
				return err
			}
			return getOK(ctx, hc, server+"/readyz", "ok")
		})
		if err == nil {
			cp.logf("controlplane: kube-apiserver ready at %s in %s", server, time.Since(start).Round(time.Millisecond))
			cp.kubeconfig = filepath.Join(cp.dir, "kubeconfig")
			cp.cfg, err = writeKubeconfig(cp.kubeconfig, server, caFile, creds.token)
			if err != nil {
				return fmt.Errorf("start kube-apiserver: %w", err)
			}
			return nil
		}
		lastErr = fmt.Errorf("start kube-apiserver (attempt %d): %w", attempt+1, err)
		retry := p.exited() && p.portInUse()
		if !p.exited() {
			lastErr = fmt.Errorf("%w; last lines of its log:\n%s", lastErr, p.tail(30))
		}
		p.stop()
		if !retry {
			break
		}
	}
	return lastErr
}

// freePorts picks n distinct free TCP ports on 127.0.0.1. Another process
// may take one before it is used; callers retry on "address already in use".
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
