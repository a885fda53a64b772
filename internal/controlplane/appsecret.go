package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/clustropg/clustro/request"
)

// appSecretData is what CloudNativePG writes into <cluster>-app
// (pkg/specs/secrets.go), except that every host and port is the local
// server's (the shared one, or the cluster's own), so that tests can connect: in a real cluster host is
// <cluster>-rw, port 5432, and the fqdn-* keys use
// <cluster>-rw.<namespace>.svc.cluster.local.
func appSecretData(host string, port int, db, user, password string) map[string][]byte {
	hostPort := net.JoinHostPort(host, strconv.Itoa(port))
	uri := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: hostPort, Path: db}
	jdbc := url.URL{Scheme: "jdbc:postgresql", Host: hostPort, Path: db}
	q := jdbc.Query()
	q.Set("user", user)
	q.Set("password", password)
	jdbc.RawQuery = q.Encode()
	return map[string][]byte{
		"username":      []byte(user),
		"user":          []byte(user),
		"password":      []byte(password),
		"dbname":        []byte(db),
		"host":          []byte(host),
		"port":          []byte(strconv.Itoa(port)),
		"pgpass":        fmt.Appendf(nil, "%s:%d:%s:%s:%s\n", host, port, db, user, password),
		"uri":           []byte(uri.String()),
		"jdbc-uri":      []byte(jdbc.String()),
		"fqdn-uri":      []byte(uri.String()),
		"fqdn-jdbc-uri": []byte(jdbc.String()),
	}
}

// ensureAppSecret writes the cluster's <cluster>-app Secret for the server
// at host:port, keeping the password of an existing one, and returns the
// password.
func (o *Operator) ensureAppSecret(ctx context.Context, cluster *unstructured.Unstructured, host string, port int, db, user string) (string, error) {
	ns, name := cluster.GetNamespace(), cluster.GetName()
	secretName := request.NamesFor(name, "").AppSecret
	secrets := o.core.CoreV1().Secrets(ns)
	existing, err := secrets.Get(ctx, secretName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("read secret %s/%s: %w", ns, secretName, err)
	}
	found := err == nil
	password := ""
	if found {
		password = string(existing.Data["password"])
	}
	if password == "" {
		if password, err = newPassword(); err != nil {
			return "", err
		}
	}
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      secretName,
			Namespace: ns,
			Labels: map[string]string{
				"cnpg.io/cluster":              name,
				"cnpg.io/userType":             "app",
				"cnpg.io/reload":               "true",
				"app.kubernetes.io/managed-by": "cloudnative-pg",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: clusterGVR.GroupVersion().String(),
				Kind:       "Cluster",
				Name:       name,
				UID:        cluster.GetUID(),
				Controller: ptr.To(true),
			}},
		},
		Type: corev1.SecretTypeBasicAuth,
		Data: appSecretData(host, port, db, user, password),
	}
	if !found {
		if _, err := secrets.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("create secret %s/%s: %w", ns, secretName, err)
		}
		o.logf("operator: created secret %s/%s", ns, secretName)
		return password, nil
	}
	if maps.EqualFunc(existing.Data, want.Data, bytes.Equal) && maps.Equal(existing.Labels, want.Labels) &&
		len(existing.OwnerReferences) == 1 && existing.OwnerReferences[0].UID == cluster.GetUID() {
		return password, nil
	}
	existing = existing.DeepCopy()
	existing.Data, existing.Labels, existing.OwnerReferences = want.Data, want.Labels, want.OwnerReferences
	if _, err := secrets.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
		return "", fmt.Errorf("update secret %s/%s: %w", ns, secretName, err)
	}
	return password, nil
}

// deleteAppSecret deletes the cluster's app Secret, as the garbage collector
// would (no kube-controller-manager runs here).
func (o *Operator) deleteAppSecret(ctx context.Context, ns, cluster string) error {
	secretName := request.NamesFor(cluster, "").AppSecret
	s, err := o.core.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read secret %s/%s: %w", ns, secretName, err)
	}
	if s.Labels["cnpg.io/cluster"] != cluster {
		return nil // not ours
	}
	err = o.core.CoreV1().Secrets(ns).Delete(ctx, secretName, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete secret %s/%s: %w", ns, secretName, err)
	}
	return nil
}

// passwordChars are URL- and shell-safe.
const passwordChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newPassword is 64 random characters, like CloudNativePG's generated ones.
func newPassword() (string, error) {
	const n = 64
	// Bytes at or above the largest multiple of len(passwordChars) are
	// skipped, so that every character is equally likely.
	limit := 256 - 256%len(passwordChars)
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, passwordChars[int(b)%len(passwordChars)])
			}
		}
	}
	return string(out), nil
}
