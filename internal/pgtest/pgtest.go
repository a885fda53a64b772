// Package pgtest runs a throwaway PostgreSQL 15 server for tests, the e2e
// harness and the demo: initdb and pg_ctl from Debian's postgresql-15
// package, a free port on 127.0.0.1, trust authentication, no fsync.
//
// PostgreSQL refuses to run as root, and sessions and CI run as root: then
// the server's directory is given to the postgres system user and the
// binaries run through runuser.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// BinDir is where Debian's postgresql-15 package installs the server binaries.
const BinDir = "/usr/lib/postgresql/15/bin"

// SystemUser is the account the server runs as when we are root.
const SystemUser = "postgres"

// Start starts a throwaway server for the test and returns the DSN of its
// postgres database; the server is stopped and its files removed when the
// test ends. Missing binaries fail the test (they never skip it).
func Start(t testing.TB) (dsn string) {
	t.Helper()
	s, err := StartServer("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	return s.DSN()
}

// Server is a running PostgreSQL server started by StartServer.
type Server struct {
	dir     string // holds data/, the socket and log
	ownDir  bool   // dir was made by StartServer and is removed by Stop
	port    int
	asOwner bool // run the binaries as the postgres user (we are root)
	stopped bool
}

// StartServer starts a server whose files live in dir, initialising a new
// cluster there unless dir/data already holds one (so a demo can restart
// its server). With dir empty it makes a temporary directory, which Stop
// removes. It returns once the server accepts connections.
func StartServer(dir string) (*Server, error) {
	if _, err := os.Stat(filepath.Join(BinDir, "pg_ctl")); err != nil {
		return nil, fmt.Errorf("pgtest: PostgreSQL 15 server binaries not found in %s (%v): install them with `apt-get install postgresql-15`", BinDir, err)
	}
	s := &Server{dir: dir, asOwner: os.Geteuid() == 0}
	if dir == "" {
		d, err := os.MkdirTemp("", "clustro-pg-")
		if err != nil {
			return nil, fmt.Errorf("pgtest: make server directory: %w", err)
		}
		s.dir, s.ownDir = d, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgtest: make server directory: %w", err)
	}
	if err := s.start(); err != nil {
		if s.ownDir {
			os.RemoveAll(s.dir)
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	abs, err := filepath.Abs(s.dir)
	if err != nil {
		return fmt.Errorf("pgtest: server directory: %w", err)
	}
	s.dir = abs
	if s.asOwner {
		if err := s.giveToSystemUser(); err != nil {
			return err
		}
	}
	data := filepath.Join(s.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		// --no-sync and the C locale keep initdb under a second.
		if out, err := s.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
			return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
		}
	}
	// The port is picked by binding :0 and closing it; another process may
	// take it in between, so a failed start tries again with a new one.
	var lastErr error
	for range 3 {
		port, err := FreePort()
		if err != nil {
			return fmt.Errorf("pgtest: find a free port: %w", err)
		}
		s.port = port
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, s.dir)
		logFile := filepath.Join(s.dir, "log")
		out, err := s.run("pg_ctl", "-D", data, "-o", opts, "-l", logFile, "-w", "-t", "60", "start")
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(logFile)
		lastErr = fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s", port, err, out, lastLines(string(log), 20))
	}
	return lastErr
}

func (s *Server) giveToSystemUser() error {
	if err := GiveToSystemUser(s.dir); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// SystemIDs are the uid and gid of the postgres system user, which the
// server binaries run as when the caller is root (PostgreSQL refuses root).
func SystemIDs() (uid, gid int, err error) {
	u, err := user.Lookup(SystemUser)
	if err != nil {
		return 0, 0, fmt.Errorf("running as root needs the %q system user (apt-get install postgresql-15 creates it): %w", SystemUser, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// GiveToSystemUser hands dir (and all under it) to the postgres system
// user and makes sure that user can reach it: every parent needs the
// search (x) bit for others.
func GiveToSystemUser(dir string) error {
	uid, gid, err := SystemIDs()
	if err != nil {
		return err
	}
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("give %s to %s: %w", dir, SystemUser, err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("check %s: %w", p, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("let %s reach %s: %w", SystemUser, dir, err)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// run runs one of the server binaries, as the postgres user when we are root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	bin := filepath.Join(BinDir, name)
	var cmd *exec.Cmd
	if s.asOwner {
		cmd = exec.Command("runuser", append([]string{"-u", SystemUser, "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	// The server's own directory: the postgres user may not be able to
	// enter the caller's working directory.
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}

// DSN is the URL of the server's postgres database, as user postgres.
func (s *Server) DSN() string { return s.dsnFor("postgres") }

func (s *Server) dsnFor(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates an empty database on the server and returns its
// DSN, so that test suites can share a server and still start clean.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	db, err := sql.Open("pgx", s.DSN())
	if err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	defer db.Close()
	// Identifiers cannot be parameters; quote it as one.
	quoted := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+quoted); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.dsnFor(name), nil
}

// Stop stops the server at once (open sessions are ended) and removes its
// directory if StartServer made it. Stopping twice is a no-op.
func (s *Server) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	var errs []error
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		errs = append(errs, fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out))
	}
	if s.ownDir {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: remove %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
