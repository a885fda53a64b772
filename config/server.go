package config

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Server is how `clustro serve` runs: where it listens, where it keeps its
// state, how many jobs it runs at once.
type Server struct {
	// Listen is the HTTP address (CLUSTRO_LISTEN, default ":8080").
	Listen string `json:"listen"`
	// Store is an SQLite file path or a postgres:// DSN (CLUSTRO_STORE,
	// default ./clustro.db). Several replicas need PostgreSQL.
	Store Secret `json:"store"`
	// Workers is the number of jobs run at once (CLUSTRO_WORKERS, default 4).
	Workers int `json:"workers"`
	// ShutdownGrace is how long running jobs may finish on SIGTERM before
	// terraform is interrupted (CLUSTRO_SHUTDOWN_GRACE, default 60s).
	ShutdownGrace Duration `json:"shutdownGrace"`
	// JobLease is how long a job stays leased to a worker without a
	// heartbeat: a crashed replica's jobs are taken over after it
	// (CLUSTRO_JOB_LEASE, default 30s).
	JobLease Duration `json:"jobLease"`
	// LogLevel is debug, info, warn or error (CLUSTRO_LOG_LEVEL, default info).
	LogLevel string `json:"logLevel"`
	// BodyBudget is how many bytes of request bodies the unauthenticated
	// routes (Slack, the GitHub webhook) may hold at once, across the
	// process; a request that does not fit is answered 503 at once, unread
	// (CLUSTRO_BODY_BUDGET, default 64Mi; at least 25Mi, GitHub's largest
	// delivery).
	BodyBudget ByteSize `json:"bodyBudget"`
	// ReadTimeout is how long a client has to send a whole request,
	// headers and body; a trickled body is cut then (CLUSTRO_READ_TIMEOUT,
	// default 20s; GitHub gives up on a delivery after 10s).
	ReadTimeout Duration `json:"readTimeout"`
	// MaxConnections caps the HTTP connections open at once; more wait to
	// be accepted (CLUSTRO_MAX_CONNECTIONS, default 1024).
	MaxConnections int `json:"maxConnections"`
}

// minBodyBudget is GitHub's cap on a webhook payload: a smaller budget
// would refuse GitHub's largest deliveries every time.
const minBodyBudget = 25 << 20

// ByteSize is a number of bytes, written as a Kubernetes quantity: "64Mi",
// "1Gi", or a plain number.
type ByteSize int64

// Bytes returns the size in bytes.
func (b ByteSize) Bytes() int64 { return int64(b) }

// String writes the size as a quantity ("64Mi").
func (b ByteSize) String() string {
	return resource.NewQuantity(int64(b), resource.BinarySI).String()
}

// MarshalText writes "64Mi".
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads "64Mi", "1Gi" or a number of bytes.
func (b *ByteSize) UnmarshalText(t []byte) error {
	q, err := resource.ParseQuantity(string(t))
	n, exact := q.AsInt64()
	if err != nil || !exact || n < 0 {
		return fmt.Errorf("%q is not a size like 64Mi or 1Gi", t)
	}
	*b = ByteSize(n)
	return nil
}

// UnmarshalJSON reads a quantity string or a plain number (YAML's 67108864).
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	return b.UnmarshalText(bytes.Trim(data, `"`))
}

// MarshalZerologObject logs the server settings without the store DSN's password.
func (s *Server) MarshalZerologObject(e *zerolog.Event) {
	e.Str("listen", s.Listen).Str("store", StoreKind(s.Store.Value())).Int("workers", s.Workers).
		Dur("shutdownGrace", s.ShutdownGrace.D()).Str("logLevel", s.LogLevel).
		Str("bodyBudget", s.BodyBudget.String()).Dur("readTimeout", s.ReadTimeout.D()).Int("maxConnections", s.MaxConnections)
}

// StoreKind describes a store setting without its credentials: "sqlite
// <path>" or "postgres <host>/<db>".
func StoreKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "postgres (unparsable DSN)"
		}
		// Only host and database: user info and query parameters
		// (password=, sslpassword=) may hold credentials.
		return "postgres " + u.Scheme + "://" + u.Host + u.Path
	}
	if strings.Contains(dsn, "=") {
		return "postgres (key=value DSN)"
	}
	return "sqlite " + dsn
}

var serverEnvVars = []envVar{
	{"CLUSTRO_LISTEN", "server.listen: HTTP address (default :8080)", func(c *Config, v string) error { c.Server.Listen = v; return nil }},
	{"CLUSTRO_STORE", "server.store: SQLite path (default ./clustro.db) or postgres:// DSN", func(c *Config, v string) error { c.Server.Store = Secret(v); return nil }},
	{"CLUSTRO_WORKERS", "server.workers: jobs run at once (default 4)", func(c *Config, v string) error { return setInt(&c.Server.Workers, v) }},
	{"CLUSTRO_SHUTDOWN_GRACE", "server.shutdownGrace: time running jobs get on SIGTERM (default 60s)", func(c *Config, v string) error { return c.Server.ShutdownGrace.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_JOB_LEASE", "server.jobLease: a crashed replica's jobs are taken over after this (default 30s)", func(c *Config, v string) error { return c.Server.JobLease.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_LOG_LEVEL", "server.logLevel: debug, info, warn, error", func(c *Config, v string) error { c.Server.LogLevel = v; return nil }},
	{"CLUSTRO_BODY_BUDGET", "server.bodyBudget: bytes of Slack and GitHub request bodies held at once before their signature is checked; more is answered 503 at once (default 64Mi, at least 25Mi)", func(c *Config, v string) error { return c.Server.BodyBudget.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_READ_TIMEOUT", "server.readTimeout: time a client has to send a whole request, headers and body (default 20s)", func(c *Config, v string) error { return c.Server.ReadTimeout.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_MAX_CONNECTIONS", "server.maxConnections: HTTP connections open at once; more wait to be accepted (default 1024)", func(c *Config, v string) error { return setInt(&c.Server.MaxConnections, v) }},
}

// checkServer reports problems with the server section.
func (c *Config) checkServer() []string {
	var problems []string
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		problems = append(problems, fmt.Sprintf("server.listen (CLUSTRO_LISTEN): %q is not host:port", c.Server.Listen))
	}
	if c.Server.Store == "" {
		problems = append(problems, "server.store (CLUSTRO_STORE): required, an SQLite path or a postgres:// DSN")
	}
	if c.Server.JobLease.D() < time.Second {
		problems = append(problems, fmt.Sprintf("server.jobLease (CLUSTRO_JOB_LEASE): %s is below 1s", c.Server.JobLease.D()))
	}
	if c.Server.Workers < 1 || c.Server.Workers > 64 {
		problems = append(problems, fmt.Sprintf("server.workers (CLUSTRO_WORKERS): %d is outside 1-64", c.Server.Workers))
	}
	if c.Server.BodyBudget < minBodyBudget {
		problems = append(problems, fmt.Sprintf("server.bodyBudget (CLUSTRO_BODY_BUDGET): %s is below 25Mi, GitHub's largest delivery", c.Server.BodyBudget))
	}
	if c.Server.ReadTimeout.D() < 5*time.Second {
		problems = append(problems, fmt.Sprintf("server.readTimeout (CLUSTRO_READ_TIMEOUT): %s is below 5s", c.Server.ReadTimeout.D()))
	}
	if c.Server.MaxConnections < 16 {
		problems = append(problems, fmt.Sprintf("server.maxConnections (CLUSTRO_MAX_CONNECTIONS): %d is below 16", c.Server.MaxConnections))
	}
	if _, err := zerolog.ParseLevel(c.Server.LogLevel); err != nil || c.Server.LogLevel == "" {
		problems = append(problems, fmt.Sprintf("server.logLevel (CLUSTRO_LOG_LEVEL): %q; allowed: debug, info, warn, error", c.Server.LogLevel))
	}
	return problems
}
