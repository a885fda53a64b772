package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParseCheckMode(t *testing.T) {
	for _, m := range []CheckMode{CheckOff, CheckDirect, CheckPortForward} {
		got, err := ParseCheckMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseCheckMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseCheckMode("ssh"); err == nil {
		t.Error(`ParseCheckMode("ssh") succeeded`)
	}
}

func TestDirectAddress(t *testing.T) {
	tests := []struct {
		name string
		host string
		port int
		want string
	}{
		{"the secret's address", "127.0.0.1", 5433, "127.0.0.1:5433"},
		{"CloudNativePG's short service name", "ledger-rw", 5432, "ledger-rw.billing-prod.svc.cluster.local:5432"},
		{"no host or port", "", 0, "ledger-rw.billing-prod.svc.cluster.local:5432"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := testConnection()
			conn.SecretHost, conn.SecretPort = tt.host, tt.port
			if got := directAddress(conn); got != tt.want {
				t.Errorf("directAddress = %q, want %q", got, tt.want)
			}
		})
	}
}

func pod(name string, phase corev1.PodPhase, ready, deleting bool) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func TestPickPod(t *testing.T) {
	tests := []struct {
		name string
		pods []corev1.Pod
		want string // "" for an error
	}{
		{"none", nil, ""},
		{"pending", []corev1.Pod{pod("a-1", corev1.PodPending, false, false)}, ""},
		{"running, not ready", []corev1.Pod{pod("a-1", corev1.PodRunning, false, false)}, ""},
		{"being deleted", []corev1.Pod{pod("a-1", corev1.PodRunning, true, true)}, ""},
		{"first ready by name", []corev1.Pod{pod("a-3", corev1.PodRunning, true, false), pod("a-1", corev1.PodRunning, false, false), pod("a-2", corev1.PodRunning, true, false)}, "a-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pickPod(tt.pods)
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("pickPod = %s, want an error", p.Name)
			case tt.want != "" && (err != nil || p.Name != tt.want):
				t.Errorf("pickPod = %v, %v; want %s", p, err, tt.want)
			}
		})
	}
}

func TestTargetPort(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a-1"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name:  "postgres",
		Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9187}, {Name: "postgresql", ContainerPort: 5432}},
	}}}}
	svc := func(ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Ports: ports}}
	}
	tests := []struct {
		name    string
		svc     *corev1.Service
		want    int
		wantErr bool
	}{
		{"named target", svc(corev1.ServicePort{Port: 5432, TargetPort: intstr.FromString("postgresql")}), 5432, false},
		{"numbered target", svc(corev1.ServicePort{Port: 5432, TargetPort: intstr.FromInt32(6432)}), 6432, false},
		{"no target: the port", svc(corev1.ServicePort{Port: 5432}), 5432, false},
		{"the 5432 port among others", svc(corev1.ServicePort{Port: 9187, TargetPort: intstr.FromString("metrics")}, corev1.ServicePort{Port: 5432, TargetPort: intstr.FromInt32(5432)}), 5432, false},
		{"unknown name", svc(corev1.ServicePort{Port: 5432, TargetPort: intstr.FromString("pg")}), 0, true},
		{"no ports", svc(), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := targetPort(tt.svc, p)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("targetPort = %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
