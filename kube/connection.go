package kube

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clustropg/clustro/request"
)

// PostgresPort is the port of a CloudNativePG Cluster's services.
const PostgresPort = 5432

// Connection is how to reach a Cluster's application database, built from
// its <cluster>-app Secret. The password and the URI are Sensitive: they
// never show in %v, JSON or logs; String gives a redacted summary.
type Connection struct {
	Namespace string `json:"namespace"`
	Cluster   string `json:"cluster"`
	// RWHost and ROHost are the in-cluster DNS names of the primary (-rw)
	// and replica (-ro) services, e.g. ledger-rw.billing-prod.svc.cluster.local.
	RWHost string `json:"rwHost"`
	ROHost string `json:"roHost"`
	// Port is the services' port, 5432.
	Port     int       `json:"port"`
	Database string    `json:"database"`
	User     string    `json:"user"`
	Password Sensitive `json:"password"`
	// URI is postgresql://user:password@<RWHost>:5432/<database>.
	URI Sensitive `json:"uri"`
	// SecretName is the Secret everything was read from (<cluster>-app).
	SecretName string `json:"secretName"`
	// SecretHost and SecretPort are the Secret's own host and port keys:
	// what CheckDirect connects to by default.
	SecretHost string `json:"secretHost"`
	SecretPort int    `json:"secretPort"`
	// Hint is the kubectl command that prints the URI, for people.
	Hint string `json:"hint"`
}

// String summarises the connection without its password, e.g.
// "postgresql://app@ledger-rw.billing-prod.svc.cluster.local:5432/app (password in secret billing-prod/ledger-app)".
func (c Connection) String() string {
	u := url.URL{Scheme: "postgresql", User: url.User(c.User), Host: net.JoinHostPort(c.RWHost, strconv.Itoa(c.Port)), Path: c.Database}
	return fmt.Sprintf("%s (password in secret %s/%s)", u.String(), c.Namespace, c.SecretName)
}

// GoString is String: %#v must not show the password either.
func (c Connection) GoString() string { return "kube.Connection{" + c.String() + "}" }

// Credentials reads the URI and password of a ready Cluster from its app
// secret, revealed: for the one place that sends them, the requester's
// direct message. Everything else takes a Connection, whose secrets do not
// print.
func (c *Client) Credentials(ctx context.Context, namespace, name string) (uri, password string, err error) {
	conn, err := c.Connection(ctx, namespace, name)
	if err != nil {
		return "", "", err
	}
	return conn.URI.Reveal(), conn.Password.Reveal(), nil
}

// Connection reads the Cluster's <cluster>-app Secret (written by
// CloudNativePG) and returns the in-cluster connection details.
func (c *Client) Connection(ctx context.Context, namespace, name string) (Connection, error) {
	names := request.NamesFor(name, "")
	secret, err := c.core.CoreV1().Secrets(namespace).Get(ctx, names.AppSecret, metav1.GetOptions{})
	if err != nil {
		return Connection{}, fmt.Errorf("read the app secret of cluster %s/%s: %w", namespace, name, err)
	}
	get := func(k string) string { return string(secret.Data[k]) }
	conn := Connection{
		Namespace:  namespace,
		Cluster:    name,
		RWHost:     serviceHost(names.RW, namespace),
		ROHost:     serviceHost(names.RO, namespace),
		Port:       PostgresPort,
		Database:   get("dbname"),
		User:       get("username"),
		Password:   Sensitive(get("password")),
		SecretName: names.AppSecret,
		SecretHost: get("host"),
		Hint:       fmt.Sprintf("kubectl get secret %s -n %s -o jsonpath='{.data.uri}' | base64 -d", names.AppSecret, namespace),
	}
	if conn.User == "" {
		conn.User = get("user")
	}
	var missing []string
	for _, f := range []struct{ key, value string }{{"dbname", conn.Database}, {"username", conn.User}, {"password", conn.Password.Reveal()}} {
		if f.value == "" {
			missing = append(missing, f.key)
		}
	}
	if len(missing) > 0 {
		return Connection{}, fmt.Errorf("app secret %s/%s of cluster %s lacks %v", namespace, names.AppSecret, name, missing)
	}
	conn.SecretPort = PostgresPort
	if p := get("port"); p != "" {
		if conn.SecretPort, err = strconv.Atoi(p); err != nil {
			return Connection{}, fmt.Errorf("app secret %s/%s: port %q is not a number", namespace, names.AppSecret, p)
		}
	}
	u := url.URL{
		Scheme: "postgresql",
		User:   url.UserPassword(conn.User, conn.Password.Reveal()),
		Host:   net.JoinHostPort(conn.RWHost, strconv.Itoa(conn.Port)),
		Path:   conn.Database,
	}
	conn.URI = Sensitive(u.String())
	return conn, nil
}

// serviceHost is a service's in-cluster DNS name.
func serviceHost(service, namespace string) string {
	return service + "." + namespace + ".svc.cluster.local"
}
