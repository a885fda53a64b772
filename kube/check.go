package kube

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CheckMode is how CheckConnection proves a database answers.
type CheckMode int

const (
	// CheckOff skips the check.
	CheckOff CheckMode = iota
	// CheckDirect connects to the Secret's host and port (or the Address
	// option), for ClustroPG running inside the cluster, or tests.
	CheckDirect
	// CheckPortForward connects through the API server's port-forward to
	// a running pod behind the <cluster>-rw service, for ClustroPG running
	// outside the cluster.
	CheckPortForward
)

// String is the mode's name as ParseCheckMode reads it.
func (m CheckMode) String() string {
	switch m {
	case CheckOff:
		return "off"
	case CheckDirect:
		return "direct"
	case CheckPortForward:
		return "port-forward"
	}
	return "CheckMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseCheckMode reads "off", "direct" or "port-forward".
func ParseCheckMode(s string) (CheckMode, error) {
	for _, m := range []CheckMode{CheckOff, CheckDirect, CheckPortForward} {
		if s == m.String() {
			return m, nil
		}
	}
	return CheckOff, fmt.Errorf("connection check %q: want off, direct or port-forward", s)
}

// CheckOption configures CheckConnection.
type CheckOption interface {
	configureCheck(*checkConfig)
}

type checkConfig struct {
	address string
}

type addressOption string

func (o addressOption) configureCheck(c *checkConfig) { c.address = string(o) }

// Address makes CheckDirect connect to host:port instead of the address
// the app Secret gives.
func Address(hostPort string) CheckOption { return addressOption(hostPort) }

// CheckError is CheckConnection's error. Its text never holds the password.
type CheckError struct {
	Mode    CheckMode
	Cluster string // namespace/name
	Address string // what was connected to, when known
	Reason  string // why it failed, password removed
	err     error
}

// Error describes the failed check: the cluster, mode, address and reason.
func (e *CheckError) Error() string {
	s := fmt.Sprintf("check connection to cluster %s (%s", e.Cluster, e.Mode)
	if e.Address != "" {
		s += " via " + e.Address
	}
	return s + "): " + e.Reason
}

// Unwrap returns the underlying error (pgx and client-go errors do not
// include passwords; Error scrubs the password anyway).
func (e *CheckError) Unwrap() error { return e.err }

// checkFailed builds a CheckError whose reason cannot contain the password.
func checkFailed(conn Connection, mode CheckMode, address string, err error) *CheckError {
	reason := err.Error()
	if pw := conn.Password.Reveal(); pw != "" {
		reason = strings.ReplaceAll(reason, pw, redacted)
	}
	return &CheckError{Mode: mode, Cluster: conn.Namespace + "/" + conn.Cluster, Address: address, Reason: reason, err: err}
}

// CheckConnection connects once as the application user and runs
// `select 1`. Errors are *CheckError.
func (c *Client) CheckConnection(ctx context.Context, conn Connection, mode CheckMode, opts ...CheckOption) error {
	var cfg checkConfig
	for _, o := range opts {
		o.configureCheck(&cfg)
	}
	switch mode {
	case CheckOff:
		return nil
	case CheckDirect:
		addr := cfg.address
		if addr == "" {
			addr = directAddress(conn)
		}
		if err := selectOne(ctx, conn, addr); err != nil {
			return checkFailed(conn, mode, addr, err)
		}
		return nil
	case CheckPortForward:
		return c.checkPortForward(ctx, conn)
	}
	return checkFailed(conn, mode, "", fmt.Errorf("unknown check mode %d", int(mode)))
}

// directAddress is where CheckDirect connects: the Secret's host and port,
// except that CloudNativePG's short service name (<cluster>-rw, resolvable
// only inside the cluster's namespace) becomes the fully qualified one.
func directAddress(conn Connection) string {
	host := conn.SecretHost
	if host == "" || host == conn.Cluster+"-rw" {
		host = conn.RWHost
	}
	port := conn.SecretPort
	if port == 0 {
		port = PostgresPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// selectOne connects to addr as conn's user and runs select 1.
func selectOne(ctx context.Context, conn Connection, addr string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fmt.Errorf("address %q: bad port", addr)
	}
	// Built field by field, not from a URL, so that no parse error can
	// quote the password. sslmode=prefer, as libpq's default.
	cfg, err := pgx.ParseConfig("sslmode=prefer connect_timeout=10")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port = host, uint16(port)
	cfg.Database, cfg.User, cfg.Password = conn.Database, conn.User, conn.Password.Reveal()
	for _, fb := range cfg.Fallbacks {
		fb.Host, fb.Port = host, uint16(port)
	}
	pg, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pg.Close(context.WithoutCancel(ctx))
	var one int
	if err := pg.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		return fmt.Errorf("select 1: %w", err)
	}
	if one != 1 {
		return fmt.Errorf("select 1 returned %d", one)
	}
	return nil
}
