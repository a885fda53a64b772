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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // stop serve on either
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
	bin := *clustro
	if bin == "" {
		bin = filepath.Join(dir, "clustro")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/clustropg/clustro/cmd/clustro")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/clustro: %w", err)
		}
	}
	// The webhook on, with a throwaway secret, a GitHub API and a
	// Kubernetes API that do not answer; serve logs at its own default
	// level (info), and -env comes last.
	key := make([]byte, 16)
	rand.Read(key)
	secret := hex.EncodeToString(key)
	env, err := loadrun.GitHubEnv(dir, "http://127.0.0.1:9/", "bodyload/infra", "bodyload-not-a-token", secret)
	if err != nil {
		return err
	}
	env = append(env, "CLUSTRO_LOG_LEVEL=info")
	srv, err := loadrun.Start(ctx, bin, dir, append(env, extraEnv...)...)
	if err != nil {
		return err
	}
	defer srv.Stop()

	idle, err := srv.Memory()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "clustro serve (pid %d) on %s, RSS %s at rest; %d uploads of %s and a trickle, held up to %s\n",
		srv.Pid(), srv.Addr, mib(idle.RSS), *uploads, mib(*size), *window)

	loadCtx, cancel := context.WithTimeout(ctx, *window)
	defer cancel()
	peak := make(chan int64, 1)
	go func() { peak <- sampleRSS(loadCtx, srv.Pid(), *interval) }()

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
					wave[i] = upload(loadCtx, srv.Addr, w**uploads+i, *size)
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
		trickled = trickle(loadCtx, srv.Addr, *every)
	}()
	var genuine outcome
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Once the uploads are in, a real delivery: is the webhook still
		// answering?
		time.Sleep(2 * time.Second)
		genuine = ping(loadCtx, srv.Addr, secret)
	}()
	wg.Wait()
	cancel()
	sampledPeak := <-peak
	end, err := srv.Memory()
	if err != nil {
		return fmt.Errorf("clustro serve is gone (killed for memory?): %w\n%s", err, srv.Tail())
	}
	report(stdout, loadrun.Machine(), idle, end, sampledPeak, results, *waves, trickled, genuine, *size, *every, *window)
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

// sampleRSS returns the highest VmRSS seen until ctx ends.
func sampleRSS(ctx context.Context, pid int, every time.Duration) int64 {
	var peak int64
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if m, err := loadrun.ReadMemory(pid); err == nil {
			peak = max(peak, m.RSS)
		}
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
		}
	}
}

func report(w io.Writer, machine string, idle, end loadrun.Memory, sampled int64, uploads []outcome, waves int, tr, genuine outcome, size int64, every, window time.Duration) {
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
		{"RSS at rest", mib(idle.RSS)},
		{"peak RSS (VmHWM)", mib(end.HWM)},
		{"peak RSS (sampled)", mib(sampled)},
		{"RSS after the load", mib(end.RSS)},
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "| %-24s | %s |\n", r[0], r[1])
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
