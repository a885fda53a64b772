package barman

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/pgtest"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// BinDir is where Debian's postgresql-15 package installs the server binaries.
const BinDir = "/usr/lib/postgresql/15/bin"

// confFile holds the settings this package manages, included from
// postgresql.conf so that a restored copy can be given its own.
const confFile = "clustro-barman.conf"

// Instance is a PostgreSQL 15 server with its own data directory and port,
// started by StartInstance or Restore.
type Instance struct {
	dir     string // holds data/, the socket and the log
	ownDir  bool   // made here; removed by Stop
	port    int
	asOwner bool     // we are root: run as the postgres user
	env     []string // extra environment of the server and the tools (credentials)
	stopped bool
}

// StartInstance initialises and starts a server whose files live in dir (a
// new temporary directory, removed by Stop, when dir is empty). With
// archive set it runs with wal_level replica and archive_mode on, and
// archives every WAL segment to archive with barman-cloud-wal-archive; the
// credentials are in the server's environment, not in its configuration.
// It returns once the server accepts connections.
func StartInstance(ctx context.Context, dir string, archive *Destination) (*Instance, error) {
	conf := baseConf()
	var env []string
	if archive != nil {
		archiveConf, err := archiveSettings(*archive)
		if err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		conf += archiveConf
		env = archive.Credentials.env()
	} else {
		conf += "archive_mode = off\n"
	}
	inst, err := newInstance(dir, env)
	if err != nil {
		return nil, err
	}
	if err := inst.initdb(ctx, conf); err != nil {
		return nil, inst.discard(err)
	}
	if err := inst.start(ctx, 60*time.Second); err != nil {
		return nil, inst.discard(err)
	}
	return inst, nil
}

// archiveSettings are the postgresql.conf lines that archive every WAL
// segment to archive with barman-cloud-wal-archive.
func archiveSettings(archive Destination) (string, error) {
	if err := archive.validate(); err != nil {
		return "", err
	}
	walArchive, err := tool("barman-cloud-wal-archive")
	if err != nil {
		return "", err
	}
	return "wal_level = replica\narchive_mode = on\n" +
		"archive_command = " + confQuote(fmt.Sprintf("%s --endpoint-url %s %s %s %%p", walArchive, archive.Endpoint, archive.URL(), archive.ServerName)) + "\n", nil
}

// StartArchiving makes a running server archive its WAL to archive from
// now on (a server started without archiving, or restored): it rewrites
// the settings this package manages (a restore's recovery settings go)
// and restarts the server on the same port, ending open sessions. The
// credentials go into the server's environment, replacing any others.
func (i *Instance) StartArchiving(ctx context.Context, archive Destination) error {
	conf, err := archiveSettings(archive)
	if err != nil {
		return fmt.Errorf("start archiving: %w", err)
	}
	if err := i.writeDataFile(confFile, baseConf()+conf); err != nil {
		return fmt.Errorf("start archiving: %w", err)
	}
	i.env = archive.Credentials.env()
	out, err := i.run(ctx, filepath.Join(BinDir, "pg_ctl"), "-D", i.DataDir(), "-l", filepath.Join(i.dir, "log"), "-m", "fast", "-w", "-t", "60", "restart")
	if err != nil {
		return fmt.Errorf("start archiving to %s: pg_ctl restart: %w\n%s\n%s", archive, err, lastLines(string(out), 5), i.LogTail(10))
	}
	return nil
}

// newInstance prepares dir for a server: made (or a temporary one), and
// given to the postgres user when we are root.
func newInstance(dir string, env []string) (*Instance, error) {
	if _, err := os.Stat(filepath.Join(BinDir, "pg_ctl")); err != nil {
		return nil, fmt.Errorf("start postgres: PostgreSQL 15 server binaries not found in %s (%v): install them with `apt-get install postgresql-15`", BinDir, err)
	}
	inst := &Instance{dir: dir, asOwner: os.Geteuid() == 0, env: env}
	if dir == "" {
		d, err := os.MkdirTemp("", "clustro-barman-pg-")
		if err != nil {
			return nil, fmt.Errorf("start postgres: make its directory: %w", err)
		}
		inst.dir, inst.ownDir = d, true
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("start postgres: make its directory: %w", err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("start postgres: its directory: %w", err)
		}
		inst.dir = abs
	}
	if inst.asOwner {
		if err := inst.giveToSystemUser(); err != nil {
			return nil, inst.discard(err)
		}
	}
	return inst, nil
}

// discard removes a directory made for a server that did not start, and
// returns err.
func (i *Instance) discard(err error) error {
	i.stopped = true
	if i.ownDir {
		os.RemoveAll(i.dir)
	}
	return err
}

// baseConf is what every server here runs with: loopback only, UTC (barman
// reports times in the server's zone without saying which), no fsync.
func baseConf() string {
	return "listen_addresses = '127.0.0.1'\n" +
		"timezone = 'UTC'\nlog_timezone = 'UTC'\n" +
		"fsync = off\nmax_connections = 50\n"
}

// initdb makes the cluster and includes conf from postgresql.conf.
func (i *Instance) initdb(ctx context.Context, conf string) error {
	if out, err := i.run(ctx, filepath.Join(BinDir, "initdb"), "-D", i.DataDir(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return fmt.Errorf("start postgres: initdb: %w\n%s", err, lastLines(string(out), 20))
	}
	main := filepath.Join(i.DataDir(), "postgresql.conf")
	f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("start postgres: include %s: %w", confFile, err)
	}
	_, werr := fmt.Fprintf(f, "\ninclude_if_exists = '%s'\n", confFile)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("start postgres: include %s: %w", confFile, werr)
	}
	return i.writeDataFile(confFile, conf)
}

// writeDataFile writes a file into the data directory, owned by the server's user.
func (i *Instance) writeDataFile(name, content string) error {
	p := filepath.Join(i.DataDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if i.asOwner {
		uid, gid, err := pgtest.SystemIDs()
		if err != nil {
			return err
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("give %s to %s: %w", p, pgtest.SystemUser, err)
		}
	}
	return nil
}

// start runs pg_ctl start on a free port and waits up to wait for the
// server to accept connections (or, restoring, to reach consistency).
func (i *Instance) start(ctx context.Context, wait time.Duration) error {
	logFile := filepath.Join(i.dir, "log")
	// The port is picked by binding :0 and closing it; another process may
	// take it in between, so a start that cannot bind tries a new one.
	var lastErr error
	for range 3 {
		port, err := pgtest.FreePort()
		if err != nil {
			return fmt.Errorf("start postgres: find a free port: %w", err)
		}
		i.port = port
		before, _ := os.ReadFile(logFile)
		opts := fmt.Sprintf("-p %d -k %s", port, i.dir)
		out, err := i.run(ctx, filepath.Join(BinDir, "pg_ctl"), "-D", i.DataDir(), "-o", opts, "-l", logFile,
			"-w", "-t", strconv.Itoa(int(wait.Seconds())), "start")
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(logFile)
		tail := lastLines(string(log[min(len(before), len(log)):]), 20)
		lastErr = fmt.Errorf("start postgres on port %d: pg_ctl start: %w\n%s\n%s", port, err, lastLines(string(out), 5), tail)
		if ctx.Err() != nil || !strings.Contains(tail, "could not bind") {
			break
		}
	}
	return lastErr
}

// run runs a binary as the postgres user when we are root, with the
// instance's extra environment, and returns its combined output.
func (i *Instance) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	return runAs(ctx, i.asOwner, i.dir, i.env, bin, args...)
}

// runAs runs bin (as the postgres user when asOwner) in dir with env added.
func runAs(ctx context.Context, asOwner bool, dir string, env []string, bin string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if asOwner {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", pgtest.SystemUser, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	// A directory the postgres user can enter: it may not be able to
	// enter the caller's working directory.
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

func (i *Instance) giveToSystemUser() error { return pgtest.GiveToSystemUser(i.dir) }

// DataDir is the server's data directory.
func (i *Instance) DataDir() string { return filepath.Join(i.dir, "data") }

// Port is the TCP port the server listens on, on 127.0.0.1.
func (i *Instance) Port() int { return i.port }

// DSN is the URL of the server's postgres database, as user postgres
// (trust authentication, loopback only).
func (i *Instance) DSN() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable&connect_timeout=5",
	}
	return u.String()
}

// LogTail is the end of the server's log, for error messages and test logs.
func (i *Instance) LogTail(lines int) string {
	b, _ := os.ReadFile(filepath.Join(i.dir, "log"))
	return lastLines(string(b), lines)
}

// SwitchWAL closes the current WAL segment (pg_switch_wal) and waits until
// the archiver has archived it, so that everything committed before the
// call is in the WAL archive. It returns the segment's name.
func (i *Instance) SwitchWAL(ctx context.Context) (string, error) {
	db, err := sql.Open("pgx", i.DSN())
	if err != nil {
		return "", fmt.Errorf("switch wal: %w", err)
	}
	defer db.Close()
	var seg string
	if err := db.QueryRowContext(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&seg); err != nil {
		return "", fmt.Errorf("switch wal: %w", err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var archived, failed sql.NullString
		err := db.QueryRowContext(ctx, "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").Scan(&archived, &failed)
		if err != nil {
			return "", fmt.Errorf("switch wal: wait for %s to be archived: %w", seg, err)
		}
		// Segment names of one timeline sort in WAL order.
		if archived.Valid && len(archived.String) == len(seg) && archived.String >= seg {
			return seg, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("switch wal: wait for %s to be archived (last archived %q, last failed %q): %w\n%s",
				seg, archived.String, failed.String, ctx.Err(), i.LogTail(20))
		case <-tick.C:
		}
	}
}

// waitPromoted waits until the server has left recovery.
func (i *Instance) waitPromoted(ctx context.Context) error {
	db, err := sql.Open("pgx", i.DSN())
	if err != nil {
		return fmt.Errorf("wait for promotion: %w", err)
	}
	defer db.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var inRecovery bool
		err := db.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
		if err == nil && !inRecovery {
			return nil
		}
		if err != nil && !i.running(ctx) {
			return fmt.Errorf("wait for promotion: the server stopped during recovery:\n%s", i.LogTail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for promotion (last error: %v): %w\n%s", err, ctx.Err(), i.LogTail(20))
		case <-tick.C:
		}
	}
}

// running reports whether pg_ctl status finds the server running.
func (i *Instance) running(ctx context.Context) bool {
	_, err := i.run(ctx, filepath.Join(BinDir, "pg_ctl"), "-D", i.DataDir(), "status")
	return err == nil
}

// Stop stops the server at once (open sessions are ended; pg_ctl waits up
// to a minute) and removes its directory if it was made here. Stopping
// twice is a no-op.
func (i *Instance) Stop() error {
	if i.stopped {
		return nil
	}
	i.stopped = true
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if i.running(ctx) {
		if out, err := i.run(ctx, filepath.Join(BinDir, "pg_ctl"), "-D", i.DataDir(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
			errs = append(errs, fmt.Errorf("stop postgres: pg_ctl stop: %w\n%s", err, out))
		}
	}
	if i.ownDir {
		if err := os.RemoveAll(i.dir); err != nil {
			errs = append(errs, fmt.Errorf("stop postgres: remove %s: %w", i.dir, err))
		}
	}
	return errors.Join(errs...)
}

// confQuote quotes a postgresql.conf string value.
func confQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
