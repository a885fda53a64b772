package barman

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/pgtest"
)

// InstallHint is the command that installs the barman-cloud tools.
const InstallHint = "apt-get install -y barman-cli-cloud python3-boto3 (as root; `make tools` does it)"

// Destination is where a server's base backups and WAL archive live:
// s3://Bucket/Path on the S3 endpoint, under the barman server name
// ServerName (barman keeps each server's files in ServerName/ there).
type Destination struct {
	Endpoint    string // e.g. http://127.0.0.1:9000
	Bucket      string
	Path        string // prefix inside the bucket; may be empty
	ServerName  string
	Credentials Credentials
}

// URL is the destination URL barman takes, s3://Bucket/Path.
func (d Destination) URL() string {
	if d.Path == "" {
		return "s3://" + d.Bucket
	}
	return "s3://" + d.Bucket + "/" + strings.Trim(d.Path, "/")
}

// String describes the destination without its credentials.
func (d Destination) String() string {
	return fmt.Sprintf("%s server %s at %s", d.URL(), d.ServerName, d.Endpoint)
}

var (
	safePath   = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)
	serverName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	safeHost   = regexp.MustCompile(`^[A-Za-z0-9.:\[\]-]+$`)
)

// validate checks the parts that go into command lines and
// postgresql.conf unquoted for the shell.
func (d Destination) validate() error {
	u, err := url.Parse(d.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !safeHost.MatchString(u.Host) || !safePath.MatchString(u.Path) {
		return fmt.Errorf("destination endpoint %q is not an http(s) URL of a host and port", d.Endpoint)
	}
	if !bucketName.MatchString(d.Bucket) {
		return fmt.Errorf("destination bucket %q is not a valid S3 bucket name", d.Bucket)
	}
	if !safePath.MatchString(d.Path) {
		return fmt.Errorf("destination path %q: only letters, digits and ._/- are allowed", d.Path)
	}
	if !serverName.MatchString(d.ServerName) {
		return fmt.Errorf("destination server name %q: only letters, digits and ._- are allowed", d.ServerName)
	}
	if d.Credentials.AccessKeyID == "" || d.Credentials.SecretAccessKey == "" {
		return fmt.Errorf("destination %s has no credentials", d)
	}
	return nil
}

// BackupInfo describes one base backup, as barman-cloud-backup-list reports it.
type BackupInfo struct {
	ID        string // barman's backup id, e.g. 20260216T172801
	Name      string // the backup's name, when it was given one
	Status    string // DONE for a usable backup
	Timeline  int
	BeginWAL  string
	EndWAL    string
	BeginLSN  string
	EndLSN    string
	BeginTime time.Time // UTC, to the second (barman reports no fraction)
	EndTime   time.Time // UTC, to the second; a restore target must not be before it
	Size      int64     // bytes; 0 when barman does not report it
}

// tool returns the path of a barman-cloud program, or says how to install it.
func tool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH: install it with `%s`", name, InstallHint)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, nil
}

// runTool runs a barman-cloud program with the destination's credentials
// in its environment and returns its standard output; a failure names the
// program and carries the tail of its output, with the credentials removed.
func runTool(ctx context.Context, asOwner bool, dir string, d Destination, name string, args ...string) ([]byte, error) {
	bin, err := tool(name)
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if asOwner {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", pgtest.SystemUser, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), d.Credentials.env()...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tail := d.Credentials.redact(lastLines(stderr.String()+stdout.String(), 15))
		return nil, fmt.Errorf("%s %s: %w\n%s", name, d, err, tail)
	}
	return []byte(stdout.String()), nil
}

// ListBackups lists the destination's base backups, oldest first.
func ListBackups(ctx context.Context, dest Destination) ([]BackupInfo, error) {
	if err := dest.validate(); err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	out, err := runTool(ctx, false, os.TempDir(), dest, "barman-cloud-backup-list",
		"--endpoint-url", dest.Endpoint, "--format", "json", dest.URL(), dest.ServerName)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	list, err := parseBackupList(out)
	if err != nil {
		return nil, fmt.Errorf("list backups of %s: %w", dest, err)
	}
	return list, nil
}

// parseBackupList reads barman-cloud-backup-list --format json.
func parseBackupList(out []byte) ([]BackupInfo, error) {
	var doc struct {
		List []struct {
			ID        string `json:"backup_id"`
			Name      string `json:"backup_name"`
			Status    string `json:"status"`
			Timeline  int    `json:"timeline"`
			BeginWAL  string `json:"begin_wal"`
			EndWAL    string `json:"end_wal"`
			BeginXLog string `json:"begin_xlog"`
			EndXLog   string `json:"end_xlog"`
			BeginTime string `json:"begin_time"`
			EndTime   string `json:"end_time"`
			Size      *int64 `json:"size"`
		} `json:"backups_list"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("parse barman-cloud-backup-list output: %w", err)
	}
	infos := make([]BackupInfo, 0, len(doc.List))
	for _, b := range doc.List {
		info := BackupInfo{ID: b.ID, Name: b.Name, Status: b.Status, Timeline: b.Timeline,
			BeginWAL: b.BeginWAL, EndWAL: b.EndWAL, BeginLSN: b.BeginXLog, EndLSN: b.EndXLog}
		if b.Size != nil {
			info.Size = *b.Size
		}
		var err error
		if info.BeginTime, err = parseCtime(b.BeginTime); err != nil {
			return nil, fmt.Errorf("backup %s begin_time: %w", b.ID, err)
		}
		if info.EndTime, err = parseCtime(b.EndTime); err != nil {
			return nil, fmt.Errorf("backup %s end_time: %w", b.ID, err)
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b BackupInfo) int { return strings.Compare(a.ID, b.ID) })
	return infos, nil
}

// parseCtime reads Python's datetime.ctime() ("Mon Feb 16 17:28:01 2026"),
// which barman's JSON uses. It carries no zone: it is the server's, which
// is UTC for the servers started here.
func parseCtime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation("Mon Jan _2 15:04:05 2006", s, time.UTC)
}

// Backup takes a base backup of inst into dest with barman-cloud-backup
// (an immediate checkpoint; barman waits until the backup's last WAL
// segment is archived) and returns what barman-cloud-backup-list reports
// for it. inst must archive its WAL to dest.
func Backup(ctx context.Context, inst *Instance, dest Destination) (BackupInfo, error) {
	before, err := ListBackups(ctx, dest)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	// barman-cloud-backup reads the data directory: as its owner.
	_, err = runTool(ctx, inst.asOwner, inst.dir, dest, "barman-cloud-backup",
		"--endpoint-url", dest.Endpoint, "--immediate-checkpoint",
		"-h", "127.0.0.1", "-p", fmt.Sprint(inst.port), "-U", "postgres", "-d", "postgres",
		dest.URL(), dest.ServerName)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	after, err := ListBackups(ctx, dest)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	var added []BackupInfo
	for _, b := range after {
		if !slices.ContainsFunc(before, func(o BackupInfo) bool { return o.ID == b.ID }) {
			added = append(added, b)
		}
	}
	if len(added) != 1 {
		return BackupInfo{}, fmt.Errorf("backup: barman-cloud-backup succeeded but the list of %s gained %d backups, not one", dest, len(added))
	}
	if added[0].Status != "DONE" {
		return added[0], fmt.Errorf("backup: backup %s of %s has status %s, not DONE", added[0].ID, dest, added[0].Status)
	}
	return added[0], nil
}

// Restore makes a new server in dir (a new temporary directory, removed by
// Stop, when dir is empty) from a base backup in dest and the WAL archived
// after it, and returns it once it is promoted (out of recovery).
//
// backupID names the backup; empty picks the newest one that ended before
// target. A zero target replays all the archived WAL; otherwise recovery
// stops before the first transaction that committed after target, which
// must not be before the backup's end (such a restore fails at once), and
// a transaction must have committed after target in the archived WAL (else
// PostgreSQL stops with "recovery ended before configured recovery target
// was reached").
//
// The restored server fetches WAL with barman-cloud-wal-restore and does
// not archive: it would otherwise write its new timeline into dest.
func Restore(ctx context.Context, dest Destination, backupID string, target time.Time, dir string) (*Instance, error) {
	backups, err := ListBackups(ctx, dest)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	info, err := pickBackup(backups, backupID, target)
	if err != nil {
		return nil, fmt.Errorf("restore from %s: %w", dest, err)
	}
	walRestore, err := tool("barman-cloud-wal-restore")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	inst, err := newInstance(dir, dest.Credentials.env())
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	// barman-cloud-restore writes the data directory: as its owner.
	if _, err := runTool(ctx, inst.asOwner, inst.dir, dest, "barman-cloud-restore",
		"--endpoint-url", dest.Endpoint, dest.URL(), dest.ServerName, info.ID, inst.DataDir()); err != nil {
		return nil, inst.discard(fmt.Errorf("restore backup %s: %w", info.ID, err))
	}
	if err := os.Chmod(inst.DataDir(), 0o700); err != nil {
		return nil, inst.discard(fmt.Errorf("restore backup %s: %w", info.ID, err))
	}
	conf := baseConf() + "archive_mode = off\n" +
		"restore_command = " + confQuote(fmt.Sprintf("%s --endpoint-url %s %s %s %%f %%p", walRestore, dest.Endpoint, dest.URL(), dest.ServerName)) + "\n"
	if !target.IsZero() {
		conf += "recovery_target_time = " + confQuote(target.UTC().Format("2006-01-02 15:04:05.000000+00")) + "\n" +
			"recovery_target_action = 'promote'\n"
	}
	for _, f := range []struct{ name, content string }{{confFile, conf}, {"recovery.signal", ""}} {
		if err := inst.writeDataFile(f.name, f.content); err != nil {
			return nil, inst.discard(fmt.Errorf("restore backup %s: %w", info.ID, err))
		}
	}
	if err := inst.start(ctx, 10*time.Minute); err != nil {
		return nil, inst.discard(fmt.Errorf("restore backup %s to %s: %w", info.ID, describeTarget(target), err))
	}
	if err := inst.waitPromoted(ctx); err != nil {
		inst.Stop()
		return nil, fmt.Errorf("restore backup %s to %s: %w", info.ID, describeTarget(target), err)
	}
	return inst, nil
}

// pickBackup chooses the backup to restore and checks the target against it.
func pickBackup(backups []BackupInfo, id string, target time.Time) (BackupInfo, error) {
	if id == "" {
		for _, b := range slices.Backward(backups) {
			if b.Status == "DONE" && (target.IsZero() || !target.Before(b.EndTime)) {
				return b, nil
			}
		}
		if target.IsZero() {
			return BackupInfo{}, fmt.Errorf("no completed backup")
		}
		return BackupInfo{}, fmt.Errorf("no completed backup ended by the recovery target %s", target.UTC().Format(time.RFC3339Nano))
	}
	i := slices.IndexFunc(backups, func(b BackupInfo) bool { return b.ID == id })
	if i < 0 {
		return BackupInfo{}, fmt.Errorf("no backup %s", id)
	}
	b := backups[i]
	if b.Status != "DONE" {
		return BackupInfo{}, fmt.Errorf("backup %s has status %s, not DONE", id, b.Status)
	}
	if !target.IsZero() && target.Before(b.EndTime) {
		return BackupInfo{}, fmt.Errorf("recovery target %s is before the end of backup %s (%s): a backup restores only to times after it ended; restore an earlier backup",
			target.UTC().Format(time.RFC3339Nano), id, b.EndTime.Format(time.RFC3339))
	}
	return b, nil
}

func describeTarget(target time.Time) string {
	if target.IsZero() {
		return "the end of the WAL archive"
	}
	return target.UTC().Format(time.RFC3339Nano)
}
