package kube_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/kube"
)

func TestConnectionFromTheAppSecret(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-conn")
	readyCluster(t, c, ns, "orders")

	conn, err := c.Connection(context.Background(), ns, "orders")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := coreClient(t).CoreV1().Secrets(ns).Get(context.Background(), "orders-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	password := string(secret.Data["password"])
	tests := []struct {
		field, got, want string
	}{
		{"Namespace", conn.Namespace, ns},
		{"Cluster", conn.Cluster, "orders"},
		{"RWHost", conn.RWHost, "orders-rw.kube-conn.svc.cluster.local"},
		{"ROHost", conn.ROHost, "orders-ro.kube-conn.svc.cluster.local"},
		{"Port", fmt.Sprint(conn.Port), "5432"},
		{"Database", conn.Database, controlplane.PostgresDatabase(ns, "orders", "")},
		{"User", conn.User, controlplane.PostgresRole(ns, "orders")},
		{"Password", conn.Password.Reveal(), password},
		{"URI", conn.URI.Reveal(), "postgresql://" + conn.User + ":" + password + "@orders-rw.kube-conn.svc.cluster.local:5432/" + conn.Database},
		{"SecretName", conn.SecretName, "orders-app"},
		{"SecretHost", conn.SecretHost, string(secret.Data["host"])},
		{"SecretPort", fmt.Sprint(conn.SecretPort), string(secret.Data["port"])},
		{"Hint", conn.Hint, "kubectl get secret orders-app -n kube-conn -o jsonpath='{.data.uri}' | base64 -d"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.field, tt.got, tt.want)
		}
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", conn, conn, conn), password) {
		t.Error("a formatted Connection shows the password")
	}
}

func TestConnectionWithoutSecret(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-nosecret")
	if _, err := c.Connection(context.Background(), ns, "absent"); err == nil || !strings.Contains(err.Error(), "kube-nosecret/absent") {
		t.Errorf("Connection = %v, want an error naming the cluster", err)
	}
}

func TestCheckConnection(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-check")
	readyCluster(t, c, ns, "payments")
	conn, err := c.Connection(context.Background(), ns, "payments")
	if err != nil {
		t.Fatal(err)
	}
	closed := closedPort(t)
	wrongDB := conn
	wrongDB.Database = "no_such_database"

	tests := []struct {
		name       string
		conn       kube.Connection
		mode       kube.CheckMode
		opts       []kube.CheckOption
		wantReason string // "" for success
	}{
		{"off", conn, kube.CheckOff, nil, ""},
		{"direct to the secret's host", conn, kube.CheckDirect, nil, ""},
		{"direct, wrong port", conn, kube.CheckDirect, []kube.CheckOption{kube.Address(closed)}, "connect"},
		{"direct, wrong database", wrongDB, kube.CheckDirect, nil, "no_such_database"},
		{"port-forward, no service", conn, kube.CheckPortForward, nil, `services "payments-rw" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CheckConnection(context.Background(), tt.conn, tt.mode, tt.opts...)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("CheckConnection = %v", err)
				}
				return
			}
			var ce *kube.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("CheckConnection = %v, want a *kube.CheckError", err)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tt.wantReason) || ce.Mode != tt.mode {
				t.Errorf("error %q: want mode %s and reason containing %q", err, tt.mode, tt.wantReason)
			}
			assertNoPassword(t, err, conn.Password.Reveal())
		})
	}
}

// assertNoPassword checks every way an error is commonly shown.
func assertNoPassword(t *testing.T, err error, password string) {
	t.Helper()
	texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	for _, s := range texts {
		if strings.Contains(s, password) {
			t.Errorf("error text shows the password: %s", s)
		}
	}
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// No kubelet runs on the offline control plane, so a port-forward can
// only fail there; this checks that it finds the pod behind the -rw
// service, reaches the API server and fails with a reason and no password.
func TestCheckPortForwardReachesTheAPIServer(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-pf")
	readyCluster(t, c, ns, "ledgerpf")
	conn, err := c.Connection(context.Background(), ns, "ledgerpf")
	if err != nil {
		t.Fatal(err)
	}
	cs := coreClient(t)
	ctx := context.Background()
	labels := map[string]string{"cnpg.io/cluster": "ledgerpf", "cnpg.io/instanceRole": "primary"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ledgerpf-rw", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "postgres", Port: 5432, TargetPort: intstr.FromString("postgresql")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ledgerpf-1", Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName: "node-1",
			Containers: []corev1.Container{{
				Name: "postgres", Image: "ghcr.io/cloudnative-pg/postgresql:17",
				Ports: []corev1.ContainerPort{{Name: "postgresql", ContainerPort: 5432}},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	err = c.CheckConnection(ctx, conn, kube.CheckPortForward)
	if err == nil || !strings.Contains(err.Error(), "no running and ready pod") {
		t.Fatalf("CheckConnection with a pending pod = %v, want no running and ready pod", err)
	}

	pod, err = cs.CoreV1().Pods(ns).Get(ctx, "ledgerpf-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.CheckConnection(ctx, conn, kube.CheckPortForward)
	var ce *kube.CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("CheckConnection = %v, want a *kube.CheckError", err)
	}
	t.Logf("port-forward without a kubelet: %v", err)
	if ce.Address != "pod ledgerpf-1 port 5432" || !strings.Contains(err.Error(), "port-forward") {
		t.Errorf("error %q (address %q): want a port-forward failure for pod ledgerpf-1 port 5432", err, ce.Address)
	}
	assertNoPassword(t, err, conn.Password.Reveal())
}

func TestLoadConfig(t *testing.T) {
	cfg, err := kube.LoadConfig(env.cp.Kubeconfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host == "" || cfg.CAFile == "" {
		t.Errorf("config %s: want a host and the certificate authority file", cfg.Host)
	}
	if _, err := kube.LoadConfig(t.TempDir()+"/missing", ""); err == nil {
		t.Error("LoadConfig of a missing file succeeded")
	}
}

// TestLoadConfigContext picks a context of a kubeconfig holding several
// clusters, as one kubeconfig for dev and prod does.
func TestLoadConfigContext(t *testing.T) {
	kc := clientcmdapi.NewConfig()
	for _, name := range []string{"dev", "prod"} {
		kc.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + name + ".example.com:6443"}
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: name + "-token"}
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	kc.CurrentContext = "prod"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ context, host string }{{"", "https://prod.example.com:6443"}, {"dev", "https://dev.example.com:6443"}, {"prod", "https://prod.example.com:6443"}} {
		cfg, err := kube.LoadConfig(path, tc.context)
		if err != nil {
			t.Fatalf("context %q: %v", tc.context, err)
		}
		if cfg.Host != tc.host {
			t.Errorf("context %q: host %s, want %s", tc.context, cfg.Host, tc.host)
		}
	}
	if _, err := kube.LoadConfig(path, "staging"); err == nil || !strings.Contains(err.Error(), "context staging") {
		t.Errorf("a missing context: %v", err)
	}
}

func TestInClusterConfigOutsideAPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := kube.InClusterConfig(); err == nil || !strings.Contains(err.Error(), "in-cluster") {
		t.Errorf("InClusterConfig outside a pod: %v, want an error", err)
	}
}

func TestConnectionJSONHasNoPassword(t *testing.T) {
	conn := kube.Connection{Namespace: "ns", Cluster: "c", User: "app", Password: "s3cr3t-hunter2", URI: "postgresql://app:s3cr3t-hunter2@c-rw:5432/app"}
	b, err := json.Marshal(conn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cr3t") || !strings.Contains(string(b), `"password":"[redacted]"`) {
		t.Errorf("JSON %s: want the password redacted", b)
	}
}
