package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/pgtest"
	"github.com/clustropg/clustro/store"
)

// TestMain lets the tests start real `clustro serve` processes: the test
// binary re-executes itself as clustro.
func TestMain(m *testing.M) {
	if os.Getenv("CLUSTRO_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"clustro"}, strings.Fields(os.Getenv("CLUSTRO_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// proc is a `clustro serve` process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startServe runs `clustro serve` in dir with env and waits until it listens.
func startServe(t *testing.T, dir string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Dir = dir
	cmd.Env = append([]string{"CLUSTRO_TEST_RUN_MAIN=1", "CLUSTRO_TEST_ARGS=serve", "CLUSTRO_LISTEN=127.0.0.1:0", "PATH=" + os.Getenv("PATH")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var l struct{ Message, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Message == "clustro serve listening" {
				listening <- l.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("clustro serve (pid %d) logs:\n%s", cmd.Process.Pid, p.Logs())
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.done:
		t.Fatalf("clustro serve exited before listening:\n%s", p.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("clustro serve did not listen within 30s:\n%s", p.Logs())
	}
	return p
}

func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *proc) post(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+p.addr+path, "application/x-www-form-urlencoded", strings.NewReader("command=/pg&text=help"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeWithNoConfiguration: `clustro serve` with nothing configured
// starts on ./clustro.db and answers /healthz, /readyz and /metrics.
func TestServeWithNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir)
	if code, body := p.get(t, "/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body := p.get(t, "/readyz")
	if code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	var ready struct {
		Status       string
		Store        string
		Integrations map[string]struct {
			On      bool
			Missing string
		}
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil {
		t.Fatal(err)
	}
	if ready.Status != "ready" || ready.Integrations["slack"].On || ready.Integrations["slack"].Missing != "CLUSTRO_SLACK_BOT_TOKEN" ||
		ready.Integrations["github"].On || ready.Integrations["github"].Missing != "CLUSTRO_GITHUB_REPO" {
		t.Errorf("/readyz: %s", body)
	}
	if code, body := p.get(t, "/metrics"); code != 200 || !strings.Contains(body, `clustro_requests{state="ready"} 0`) || !strings.Contains(body, "clustro_http_requests_total") ||
		!strings.Contains(body, "clustro_databases_unhealthy 0") || !strings.Contains(body, "clustro_workspaces_drifted 0") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "clustro.db")); err != nil {
		t.Errorf("no ./clustro.db: %v", err)
	}
	// An integration that is off answers 503 naming the missing setting.
	if code, body := p.post(t, "/slack/commands"); code != 503 || !strings.Contains(body, "CLUSTRO_SLACK_BOT_TOKEN") {
		t.Errorf("/slack/commands with Slack off: %d %s", code, body)
	}
	if code, body := p.post(t, "/webhooks/github"); code != 503 || !strings.Contains(body, "CLUSTRO_GITHUB_REPO") {
		t.Errorf("/webhooks/github with GitHub off: %d %s", code, body)
	}
	// Every access log line carries a request id.
	if !strings.Contains(p.Logs(), `"request_id":"`) {
		t.Errorf("no request id in the logs:\n%s", p.Logs())
	}
	// SIGTERM stops it cleanly.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("clustro serve did not stop on SIGTERM")
	}
	if !strings.Contains(p.Logs(), "clustro serve stopped") {
		t.Errorf("no clean stop:\n%s", p.Logs())
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	r := clustro(t, map[string]string{"CLUSTRO_WORKERS": "0", "CLUSTRO_STORE": ""}, "serve")
	if r.code != 2 || !strings.Contains(r.stderr, "server.workers (CLUSTRO_WORKERS): 0 is outside 1-64") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// TestTwoReplicasDrainQueue: two `clustro serve` processes on one
// PostgreSQL drain 200 jobs across 20 workspaces; every job runs exactly
// once and no workspace ever has two jobs running at once, as an
// append-only log of starts and ends shows.
func TestTwoReplicasDrainQueue(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const jobs, workspaces = 200, 20
	for i := range jobs {
		if _, _, err := st.Enqueue(ctx, store.NewJob{Kind: "selftest", Workspace: fmt.Sprintf("databases/dev/t/db%02d", i%workspaces),
			Payload: []byte(fmt.Sprintf(`{"sleepMs": %d}`, 5+i%7))}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "selftest.log")
	env := []string{"CLUSTRO_STORE=" + dsn, "CLUSTRO_SELFTEST_LOG=" + logPath, "CLUSTRO_WORKERS=4"}
	a := startServe(t, dir, env...)
	b := startServe(t, dir, env...)

	deadline := time.Now().Add(3 * time.Minute)
	for {
		done, err := st.ListJobs(ctx, store.JobFilter{Kind: "selftest", States: []store.JobState{store.JobDone}})
		if err != nil {
			t.Fatal(err)
		}
		if len(done) == jobs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs done after 3 minutes", len(done), jobs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkSelftestLog(t, logPath, jobs)
	// Both replicas did work.
	pids := map[string]bool{}
	for _, line := range readLines(t, logPath) {
		pids[strings.Fields(line)[3]] = true
	}
	if len(pids) != 2 {
		t.Errorf("jobs ran in %d process(es), want both replicas (pids %d, %d)", len(pids), a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
}

// TestCrashedReplicaJobTakenOver: a replica is SIGKILLed in the middle of a
// job; the other takes the job over after the lease and it completes once.
func TestCrashedReplicaJobTakenOver(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	job, _, err := st.Enqueue(ctx, store.NewJob{Kind: "selftest", Workspace: "databases/prod/t/x", Payload: []byte(`{"sleepMs": 3000}`)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "selftest.log")
	env := []string{"CLUSTRO_STORE=" + dsn, "CLUSTRO_SELFTEST_LOG=" + logPath, "CLUSTRO_JOB_LEASE=2s"}
	victim := startServe(t, dir, env...)
	waitFor(t, 20*time.Second, "the job to start", func() bool { return len(readLines(t, logPath)) > 0 })
	victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.done

	startServe(t, dir, env...)
	waitFor(t, 60*time.Second, "the job to be done", func() bool {
		j, err := st.GetJob(ctx, job.ID)
		return err == nil && j.State == store.JobDone
	})
	lines := readLines(t, logPath)
	var starts, ends int
	for _, l := range lines {
		switch strings.Fields(l)[0] {
		case "start":
			starts++
		case "end":
			ends++
		}
	}
	if starts != 2 || ends != 1 {
		t.Errorf("log %q: want the killed start, then one start and one end by the survivor", lines)
	}
	if j, _ := st.GetJob(ctx, job.ID); j.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", j.Attempts)
	}
}

// TestSIGTERMReleasesRunningJob: on SIGTERM a job that outlasts the grace
// period is interrupted and given back; a restarted replica completes it.
func TestSIGTERMReleasesRunningJob(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "clustro.db")
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	job, _, err := st.Enqueue(ctx, store.NewJob{Kind: "selftest", Workspace: "w", Payload: []byte(`{"sleepMs": 20000}`)})
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "selftest.log")
	env := []string{"CLUSTRO_STORE=" + db, "CLUSTRO_SELFTEST_LOG=" + logPath, "CLUSTRO_SHUTDOWN_GRACE=200ms"}
	p := startServe(t, dir, env...)
	waitFor(t, 20*time.Second, "the job to start", func() bool { return len(readLines(t, logPath)) > 0 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	j, err := st.GetJob(ctx, job.ID)
	if err != nil || j.State != store.JobQueued || j.Attempts != 0 {
		t.Fatalf("after SIGTERM the job is %+v (%v), want queued again with no attempt counted", j, err)
	}
}

func checkSelftestLog(t *testing.T, path string, jobs int) {
	t.Helper()
	started, ended := map[string]int{}, map[string]int{}
	running := map[string]string{} // workspace -> job
	for i, line := range readLines(t, path) {
		f := strings.Fields(line)
		ev, id, ws := f[0], f[1], f[2]
		switch ev {
		case "start":
			started[id]++
			if other, busy := running[ws]; busy {
				t.Errorf("line %d: job %s started on %s while job %s was running there", i+1, id, ws, other)
			}
			running[ws] = id
		case "end":
			ended[id]++
			if running[ws] != id {
				t.Errorf("line %d: job %s ended on %s but %q was the running one", i+1, id, ws, running[ws])
			}
			delete(running, ws)
		}
	}
	if len(started) != jobs || len(ended) != jobs {
		t.Errorf("%d jobs started and %d ended, want %d each", len(started), len(ended), jobs)
	}
	for id, n := range started {
		if n != 1 || ended[id] != 1 {
			t.Errorf("job %s started %d and ended %d times", id, n, ended[id])
		}
	}
}

func readLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
