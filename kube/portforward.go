package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/clustropg/clustro/internal/syncbuf"
	"github.com/clustropg/clustro/request"
)

// checkPortForward runs select 1 through a port-forward to a running,
// ready pod behind the cluster's -rw service, as `kubectl port-forward
// svc/<cluster>-rw` does: WebSocket tunnelling first, SPDY as fallback.
//
// It needs a kubelet, so the offline test control plane (no nodes) can
// only exercise its failure paths.
func (c *Client) checkPortForward(ctx context.Context, conn Connection) error {
	service := request.NamesFor(conn.Cluster, "").RW
	pod, port, err := c.primaryPod(ctx, conn.Namespace, service)
	if err != nil {
		return checkFailed(conn, CheckPortForward, "service "+service, err)
	}
	via := fmt.Sprintf("pod %s port %d", pod, port)
	local, stop, err := c.forward(ctx, conn.Namespace, pod, port)
	if err != nil {
		return checkFailed(conn, CheckPortForward, via, err)
	}
	err = selectOne(ctx, conn, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(local))))
	if errText := stop(); err != nil && errText != "" {
		err = fmt.Errorf("%w (port-forward: %s)", err, errText)
	}
	if err != nil {
		return checkFailed(conn, CheckPortForward, via, err)
	}
	return nil
}

// primaryPod finds a running, ready pod selected by the service, and the
// pod port its PostgreSQL port leads to.
func (c *Client) primaryPod(ctx context.Context, namespace, service string) (string, int, error) {
	svc, err := c.core.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("read service: %w", err)
	}
	if len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("service %s/%s selects no pods", namespace, service)
	}
	pods, err := c.core.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", 0, fmt.Errorf("list pods of service %s/%s: %w", namespace, service, err)
	}
	pod, err := pickPod(pods.Items)
	if err != nil {
		return "", 0, fmt.Errorf("service %s/%s: %w", namespace, service, err)
	}
	port, err := targetPort(svc, pod)
	if err != nil {
		return "", 0, fmt.Errorf("service %s/%s: %w", namespace, service, err)
	}
	return pod.Name, port, nil
}

// pickPod returns the first, by name, running and ready pod that is not
// being deleted.
func pickPod(pods []corev1.Pod) (*corev1.Pod, error) {
	var ok []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(p) {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("no running and ready pod among %d selected", len(pods))
	}
	slices.SortFunc(ok, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return ok[0], nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort resolves the pod port behind the service's PostgreSQL port
// (the one numbered 5432, else the first), following a named targetPort
// to the container port of that name.
func targetPort(svc *corev1.Service, pod *corev1.Pod) (int, error) {
	if len(svc.Spec.Ports) == 0 {
		return 0, errors.New("the service has no ports")
	}
	sp := svc.Spec.Ports[0]
	for _, p := range svc.Spec.Ports {
		if p.Port == PostgresPort {
			sp = p
			break
		}
	}
	switch {
	case sp.TargetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return int(cp.ContainerPort), nil
				}
			}
		}
		return 0, fmt.Errorf("pod %s has no port named %q", pod.Name, sp.TargetPort.StrVal)
	case sp.TargetPort.IntVal != 0:
		return int(sp.TargetPort.IntVal), nil
	default:
		return int(sp.Port), nil
	}
}

// forward opens a port-forward to the pod's port on a free local port of
// 127.0.0.1. stop ends it and returns what it reported on its error stream.
func (c *Client) forward(ctx context.Context, namespace, pod string, port int) (local uint16, stop func() string, err error) {
	url := c.core.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(c.cfg)
	if err != nil {
		return 0, nil, fmt.Errorf("port-forward transport: %w", err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	if ws, err := portforward.NewSPDYOverWebsocketDialer(url, c.cfg); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}

	fctx, cancel := context.WithCancel(ctx)
	var errOut syncbuf.Buffer
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, &errOut)
	if err != nil {
		cancel()
		return 0, nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	stop = func() string {
		cancel()
		pf.Close()
		<-done
		return strings.TrimSpace(errOut.String())
	}
	select {
	case <-ready:
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("ended before it was ready")
		}
		return 0, nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	case <-ctx.Done():
		stop()
		return 0, nil, fmt.Errorf("port-forward to pod %s: %w", pod, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return 0, nil, fmt.Errorf("port-forward to pod %s: no local port (%v)", pod, err)
	}
	return ports[0].Local, stop, nil
}
