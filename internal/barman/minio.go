package barman

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clustropg/clustro/internal/pgtest"
	"github.com/clustropg/clustro/internal/toolchain"
)

// Region is the S3 region MinIO answers for unless configured otherwise;
// requests are signed for it.
const Region = "us-east-1"

// Credentials are an S3 access key pair. String and GoString hide the
// secret so that printing a value that holds them does not leak it.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// String names the access key and hides the secret.
func (c Credentials) String() string {
	return fmt.Sprintf("access key %s (secret hidden)", c.AccessKeyID)
}

// GoString hides the secret from %#v too.
func (c Credentials) GoString() string {
	return fmt.Sprintf("barman.Credentials{AccessKeyID: %q, SecretAccessKey: <hidden>}", c.AccessKeyID)
}

// env is the environment boto3 (and so every barman-cloud tool) reads the
// credentials from.
func (c Credentials) env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey}
}

// redact replaces the credentials in s, so tool output can go into errors.
func (c Credentials) redact(s string) string {
	if c.SecretAccessKey != "" {
		s = strings.ReplaceAll(s, c.SecretAccessKey, "[secret]")
	}
	return s
}

// MinIO is a running MinIO server started by StartMinIO.
type MinIO struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
	dir    string
	ownDir bool
	log    string
	port   int
	creds  Credentials
	logF   *os.File
}

// minioBinary returns .tools/bin/minio (found as the toolchain finds its
// binaries: $CLUSTRO_TOOLS/bin, else .tools/bin in the repository).
func minioBinary() (string, error) {
	dir, err := toolchain.BinDir(os.Getenv)
	if err != nil {
		return "", fmt.Errorf("locate minio: %w", err)
	}
	bin := filepath.Join(dir, "minio")
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("minio not found at %s: run `scripts/tools.sh minio` (or `make tools`) to build it", bin)
	}
	return bin, nil
}

// StartMinIO starts MinIO with its data in dir (a new temporary directory,
// removed by Stop, when dir is empty) on free ports of 127.0.0.1 with
// generated root credentials, and returns once /minio/health/live answers
// and /minio/health/cluster says S3 calls will be served.
func StartMinIO(ctx context.Context, dir string) (*MinIO, error) {
	bin, err := minioBinary()
	if err != nil {
		return nil, err
	}
	m := &MinIO{dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "clustro-minio-")
		if err != nil {
			return nil, fmt.Errorf("start minio: make its directory: %w", err)
		}
		m.dir, m.ownDir = d, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start minio: make its directory: %w", err)
	}
	if m.creds.AccessKeyID, err = randomString(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"); err != nil {
		return nil, m.failStart(fmt.Errorf("start minio: generate credentials: %w", err))
	}
	if m.creds.SecretAccessKey, err = randomString(40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"); err != nil {
		return nil, m.failStart(fmt.Errorf("start minio: generate credentials: %w", err))
	}
	m.log = filepath.Join(m.dir, "minio.log")
	// The ports are found by binding :0 and closing; another process may
	// take one in between, so a server that exits at once is tried again.
	var lastErr error
	for range 3 {
		if lastErr = m.start(ctx, bin); lastErr == nil {
			return m, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, m.failStart(lastErr)
}

func (m *MinIO) failStart(err error) error {
	if m.ownDir {
		os.RemoveAll(m.dir)
	}
	return err
}

func (m *MinIO) start(ctx context.Context, bin string) error {
	port, err := pgtest.FreePort()
	if err != nil {
		return fmt.Errorf("start minio: find a free port: %w", err)
	}
	console, err := pgtest.FreePort()
	if err != nil {
		return fmt.Errorf("start minio: find a free port: %w", err)
	}
	logF, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start minio: open its log: %w", err)
	}
	cmd := exec.Command(bin, "server", filepath.Join(m.dir, "data"),
		"--address", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"--console-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(console)),
		"--anonymous") // keeps the credentials out of its banner
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.creds.AccessKeyID,
		"MINIO_ROOT_PASSWORD="+m.creds.SecretAccessKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	)
	cmd.Stdout, cmd.Stderr = logF, logF
	cmd.Dir = m.dir
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logF.Close()
		return fmt.Errorf("start minio: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	m.cmd, m.exited, m.port, m.logF = cmd, exited, port, logF

	err = m.waitLive(ctx)
	if err == nil {
		return nil
	}
	m.kill()
	return fmt.Errorf("%w\n%s", err, m.logTail())
}

// waitLive polls /minio/health/live, then /minio/health/cluster, until
// each answers 200: live answers as soon as the HTTP server is up, while S3
// calls still fail with XMinioServerNotInitialized until cluster (object
// layer, bucket metadata, IAM, write quorum) is ready.
func (m *MinIO) waitLive(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
		url := m.Endpoint() + path
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("start minio: health check: %w", err)
			}
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("start minio: waiting for %s: %w", url, ctx.Err())
			case <-m.exited:
				return fmt.Errorf("start minio on port %d: it exited (%v) before %s answered", m.port, m.cmd.ProcessState, path)
			case <-tick.C:
			}
		}
	}
	return nil
}

func (m *MinIO) logTail() string {
	b, _ := os.ReadFile(m.log)
	return m.creds.redact(lastLines(string(b), 20))
}

// kill stops the server at once and waits for it.
func (m *MinIO) kill() {
	if m.cmd == nil {
		return
	}
	killChild(m.cmd)
	<-m.exited
	m.logF.Close()
	m.cmd = nil
}

// Endpoint is the server's S3 URL, http://127.0.0.1:PORT.
func (m *MinIO) Endpoint() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
}

// Credentials are the server's root credentials. Do not log the secret.
func (m *MinIO) Credentials() Credentials { return m.creds }

// Destination is where a server's backups and WAL go in this MinIO:
// s3://bucket/path, under the barman server name serverName.
func (m *MinIO) Destination(bucket, path, serverName string) Destination {
	return Destination{Endpoint: m.Endpoint(), Bucket: bucket, Path: path, ServerName: serverName, Credentials: m.creds}
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// CreateBucket creates the bucket; one that exists already is fine.
func (m *MinIO) CreateBucket(ctx context.Context, name string) error {
	if !bucketName.MatchString(name) {
		return fmt.Errorf("create bucket %q: not a valid S3 bucket name (3-63 of a-z, 0-9, '.', '-')", name)
	}
	req, err := signedRequest(ctx, http.MethodPut, m.Endpoint()+"/"+name, nil, m.creds, time.Now())
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte("BucketAlreadyOwnedByYou")) {
		return nil
	}
	return fmt.Errorf("create bucket %s: %s: %s", name, resp.Status, m.creds.redact(string(body)))
}

// Stop stops the server (SIGTERM, then SIGKILL after ten seconds) and
// removes its directory if StartMinIO made it. Stopping twice is a no-op.
func (m *MinIO) Stop() error {
	if m.cmd != nil {
		m.cmd.Process.Signal(os.Interrupt)
		select {
		case <-m.exited:
			m.logF.Close()
			m.cmd = nil
		case <-time.After(10 * time.Second):
			m.kill()
		}
	}
	if m.ownDir {
		m.ownDir = false
		if err := os.RemoveAll(m.dir); err != nil {
			return fmt.Errorf("stop minio: remove %s: %w", m.dir, err)
		}
	}
	return nil
}

// signedRequest builds an S3 request signed with AWS Signature Version 4
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// enough for path-style calls without a query string.
func signedRequest(ctx context.Context, method, url string, body []byte, c Credentials, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if req.URL.RawQuery != "" {
		return nil, errors.New("signedRequest: query strings are not supported")
	}
	amzDate := now.UTC().Format("20060102T150405Z")
	scope := amzDate[:8] + "/" + Region + "/s3/aws4_request"
	payload := sha256Hex(body)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	const signed = "host;x-amz-content-sha256;x-amz-date"
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{
		method, path, "",
		"host:" + req.URL.Host, "x-amz-content-sha256:" + payload, "x-amz-date:" + amzDate, "",
		signed, payload,
	}, "\n")
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	key := []byte("AWS4" + c.SecretAccessKey)
	for _, part := range []string{amzDate[:8], Region, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		c.AccessKeyID, scope, signed, hex.EncodeToString(hmacSHA256(key, toSign))))
	return req, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func randomString(n int, alphabet string) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
