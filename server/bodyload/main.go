// Command bodyload reproduces, against a real `clustro serve`, what an
// unauthenticated client can cost it: uploads to the GitHub webhook with a
// wrong signature and a 24 MiB Content-Length that send all but the last
// byte and never finish, and one body trickled a byte every five seconds.
// It samples the server's memory from /proc/<pid>/status while they are
// open and prints the peak RSS (VmHWM), how each upload was answered and
// when the trickle was cut. Linux only.
//
//	go run ./server/bodyload                       # builds clustro into a temporary directory
//	go run ./server/bodyload -clustro bin/clustro -uploads 30 -window 45s
//
// The serve it starts has the webhook on (a throwaway secret, a GitHub API
// and a Kubernetes API that do not answer) and nothing else; its store and
// logs live in a temporary directory removed at the end (-keep keeps it).
// -env KEY=VALUE passes a setting to it, e.g. -env CLUSTRO_BODY_BUDGET=32Mi.
// It is a program, not a test: `go test ./...` never runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bodyload:", err)
		os.Exit(1)
	}
}

// outcome is what happened to one connection, in time since it opened.
type outcome struct {
	sent     int64
	status   int           // the answer's status, 0 if none was read
	answered time.Duration // when the answer arrived
	closed   time.Duration // when the server closed the connection; 0 if the tool did
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bodyload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clustro := fs.String("clustro", "", "clustro binary (default: go build ./cmd/clustro into a temporary directory)")
	uploads := fs.Int("uploads", 30, "concurrent bad-signature uploads that never finish")
	size := fs.Int64("size", 24<<20, "Content-Length of each upload, bytes (all but the last byte are sent)")
	every := fs.Duration("trickle", 5*time.Second, "the trickled body sends one byte this often")
	window := fs.Duration("window", 45*time.Second, "how long the connections are held open and memory sampled")
	interval := fs.Duration("sample", 50*time.Millisecond, "RSS sampling interval")
	waves := fs.Int("waves", 1, "send the uploads again once the server has closed them, this many times in all (within -window)")
	keep := fs.Bool("keep", false, "keep the temporary directory (serve's logs and store)")
	var extraEnv []string
	fs.Func("env", "KEY=VALUE passed to clustro serve (repeatable)", func(v string) error {
		if !strings.HasPrefix(v, "CLUSTRO_") || !strings.Contains(v, "=") {
			return errors.New("want CLUSTRO_NAME=value")
		}
		extraEnv = append(extraEnv, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if runtime.GOOS != "linux" {
		return errors.New("bodyload reads /proc/<pid>/status: Linux only")
	}
	if *uploads < 0 || *size < 2 || *waves < 1 || *window <= 0 || *every <= 0 {
		return errors.New("-uploads must be >= 0, -size >= 2, -waves >= 1, -window and -trickle positive")
	}

	dir, err := os.MkdirTemp("", "bodyload-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(stdout, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin, err := filepath.Abs(*clustro) // serve runs in dir
	if err != nil {
		return err
	}
	if *clustro == "" {
		bin = filepath.Join(dir, "clustro")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/clustropg/clustro/cmd/clustro")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/clustro: %w", err)
		}
	}
	srv, err := startServe(ctx, bin, dir, extraEnv)
	if err != nil {
		return err
	}
	defer srv.stop()

	idle, err := memory(srv.pid())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "clustro serve (pid %d) on %s, RSS %s at rest; %d uploads of %s and a trickle, held up to %s\n",
		srv.pid(), srv.addr, mib(idle.rss), *uploads, mib(*size), *window)

	loadCtx, cancel := context.WithTimeout(ctx, *window)
	defer cancel()
	peak := make(chan int64, 1)
	go func() { peak <- sampleRSS(loadCtx, srv.pid(), *interval) }()

	var results []outcome
	var trickled outcome
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for w := range *waves {
			wave := make([]outcome, *uploads)
			var sent sync.WaitGroup
			for i := range wave {
				sent.Add(1)
				go func() {
					defer sent.Done()
					wave[i] = upload(loadCtx, srv.addr, w**uploads+i, *size)
				}()
			}
			sent.Wait()
			results = append(results, wave...)
			if loadCtx.Err() != nil {
				return
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		trickled = trickle(loadCtx, srv.addr, *every)
	}()
	var genuine outcome
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Once the uploads are in, a real delivery: is the webhook still
		// answering?
		time.Sleep(2 * time.Second)
		genuine = ping(loadCtx, srv.addr, srv.secret)
	}()
	wg.Wait()
	cancel()
	sampledPeak := <-peak
	end, err := memory(srv.pid())
	if err != nil {
		return fmt.Errorf("clustro serve is gone (killed for memory?): %w\n%s", err, srv.tail())
	}
	report(stdout, machine(), idle, end, sampledPeak, results, *waves, trickled, genuine, *size, *every, *window)
	return nil
}

// upload sends a webhook delivery with a wrong signature and all of its
// body but the last byte, then waits for the server to answer or close,
// until ctx ends.
func upload(ctx context.Context, addr string, n int, size int64) outcome {
	began := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return outcome{closed: time.Since(began)}
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /webhooks/github HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: bodyload-%d\r\nX-Hub-Signature-256: sha256=%s\r\n"+
		"Content-Length: %d\r\n\r\n", addr, n, strings.Repeat("0", 64), size)
	done := make(chan outcome, 1)
	go func() { done <- readAnswer(conn, began) }()
	var sent int64
	if _, err := io.WriteString(conn, head); err == nil {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for sent < size-1 {
			w, err := conn.Write(chunk[:min(int64(len(chunk)), size-1-sent)])
			sent += int64(w)
			if err != nil {
				break
			}
		}
	}
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		conn.Close()
		o = <-done
		o.closed = 0 // closed by the tool
	}
	o.sent = sent
	return o
}

// trickle sends a small body one byte every `every` and reports when the
// server answered or closed.
func trickle(ctx context.Context, addr string, every time.Duration) outcome {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return outcome{}
	}
	defer conn.Close()
	const length = 1024
	fmt.Fprintf(conn, "POST /webhooks/github HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: ping\r\nX-GitHub-Delivery: bodyload-trickle\r\nX-Hub-Signature-256: sha256=%s\r\n"+
		"Content-Length: %d\r\n\r\n", addr, strings.Repeat("0", 64), length)
	began := time.Now() // the headers are sent: the body is due
	done := make(chan outcome, 1)
	go func() { done <- readAnswer(conn, began) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var sent int64
	for {
		if _, err := conn.Write([]byte("x")); err == nil {
			sent++
		}
		select {
		case o := <-done:
			o.sent = sent
			return o
		case <-ctx.Done():
			conn.Close()
			o := <-done
			o.sent, o.closed = sent, 0
			return o
		case <-tick.C:
		}
	}
}

// ping sends a webhook ping signed with the secret, as GitHub would.
func ping(ctx context.Context, addr, secret string) outcome {
	body := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		return outcome{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "ping")
	req.Header.Set("X-GitHub-Delivery", "bodyload-ping")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return outcome{}
	}
	resp.Body.Close()
	return outcome{status: resp.StatusCode, answered: time.Since(sent), sent: int64(len(body))}
}

func pinged(o outcome) string {
	if o.status == 0 {
		return "no answer"
	}
	return fmt.Sprintf("answered %d in %s", o.status, o.answered.Round(time.Millisecond))
}

// readAnswer reads the server's answer, if any, then waits until the
// connection is closed; times are since began.
func readAnswer(conn net.Conn, began time.Time) outcome {
	var o outcome
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err == nil {
		o.status, o.answered = resp.StatusCode, time.Since(began)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	io.Copy(io.Discard, br)
	o.closed = time.Since(began)
	return o
}

// serveProc is the `clustro serve` under load.
type serveProc struct {
	cmd    *exec.Cmd
	addr   string
	secret string // the webhook secret, for the delivery signed as GitHub would
	log    *os.File
	done   chan struct{}
}

func (s *serveProc) pid() int { return s.cmd.Process.Pid }

// startServe runs clustro serve with the webhook on and waits for /healthz.
func startServe(ctx context.Context, bin, dir string, extraEnv []string) (*serveProc, error) {
	kubeconfig := filepath.Join(dir, "kubeconfig")
	// A Kubernetes API that does not answer: the pipeline needs a client to
	// start, and nothing in this run reaches it.
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: bodyload-not-a-token}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`), 0o600); err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	secret := hex.EncodeToString(key)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"CLUSTRO_LISTEN=127.0.0.1:0",
		"CLUSTRO_STORE=" + filepath.Join(dir, "clustro.db"),
		"CLUSTRO_KUBECONFIG=" + kubeconfig,
		"CLUSTRO_GITHUB_REPO=bodyload/infra",
		"CLUSTRO_GITHUB_TOKEN=bodyload-not-a-token",
		"CLUSTRO_GITHUB_API_URL=http://127.0.0.1:9/",
		"CLUSTRO_GITHUB_WEBHOOK_SECRET=" + secret,
	}, extraEnv...)
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	s := &serveProc{cmd: cmd, secret: secret, log: log, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, log))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "clustro serve listening" {
				listening <- l.Addr
			}
		}
		io.Copy(log, stderr)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case s.addr = <-listening:
	case <-s.done:
		return nil, fmt.Errorf("clustro serve exited before listening:\n%s", s.tail())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("clustro serve did not listen within 30s:\n%s", s.tail())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	for range 100 {
		if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("clustro serve never answered /healthz:\n%s", s.tail())
}

// stop sends SIGTERM, then kills the process if it has not stopped in 15 s.
func (s *serveProc) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// tail is the end of serve's log.
func (s *serveProc) tail() string {
	b, _ := os.ReadFile(s.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// mem is a reading of /proc/<pid>/status, in bytes.
type mem struct{ rss, hwm int64 }

func memory(pid int) (mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	var m mem
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb << 10
		case "VmHWM":
			m.hwm = kb << 10
		}
	}
	return m, nil
}

// sampleRSS returns the highest VmRSS seen until ctx ends.
func sampleRSS(ctx context.Context, pid int, every time.Duration) int64 {
	var peak int64
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if m, err := memory(pid); err == nil {
			peak = max(peak, m.rss)
		}
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
		}
	}
}

// machine describes where the figures were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	total := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s", model, runtime.NumCPU(), total, runtime.Version())
}

func report(w io.Writer, machine string, idle, end mem, sampled int64, uploads []outcome, waves int, tr, genuine outcome, size int64, every, window time.Duration) {
	statuses := map[string]int{}
	var cut []time.Duration
	var sent int64
	for _, o := range uploads {
		sent += o.sent
		switch {
		case o.status != 0 && o.answered < time.Second:
			statuses[fmt.Sprintf("%d at once", o.status)]++
		case o.status != 0:
			statuses[fmt.Sprintf("%d when cut", o.status)]++
		case o.closed != 0:
			statuses["closed without an answer"]++
		default:
			statuses[fmt.Sprintf("still open after %s", window)]++
		}
		if o.closed != 0 {
			cut = append(cut, o.closed)
		}
	}
	var answers []string
	for k, n := range statuses {
		answers = append(answers, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(answers)
	trickle := fmt.Sprintf("not cut within %s (%d bytes sent)", window, tr.sent)
	if tr.closed != 0 {
		trickle = fmt.Sprintf("cut after %s (%d bytes sent", secs(tr.closed), tr.sent)
		if tr.status != 0 {
			trickle += fmt.Sprintf(", answered %d", tr.status)
		}
		trickle += ")"
	}
	longest := "-"
	if len(cut) > 0 {
		sort.Slice(cut, func(i, j int) bool { return cut[i] < cut[j] })
		longest = fmt.Sprintf("%d closed by the server, each within %s of opening", len(cut), secs(cut[len(cut)-1]))
	}
	rows := [][2]string{
		{"machine", machine},
		{"uploads", fmt.Sprintf("%d x %s, bad signature, never finished, in %d wave(s) (%s of body sent in all)", len(uploads), mib(size), waves, mib(sent))},
		{"answers", strings.Join(answers, ", ")},
		{"upload connections", longest},
		{"trickle (1 byte / " + every.String() + ")", trickle},
		{"a signed ping meanwhile", pinged(genuine)},
		{"RSS at rest", mib(idle.rss)},
		{"peak RSS (VmHWM)", mib(end.hwm)},
		{"peak RSS (sampled)", mib(sampled)},
		{"RSS after the load", mib(end.rss)},
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "| %-24s | %s |\n", r[0], r[1])
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
