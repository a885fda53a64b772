package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/pgtest"
	"github.com/clustropg/clustro/request"
)

// pgServer is the PostgreSQL server the package's tests share (each test
// gets its own database on it). It is started by TestMain.
var pgServer *pgtest.Server

func TestMain(m *testing.M) {
	// The crash test runs this binary again as a worker that it then kills.
	if dsn := os.Getenv(crashWorkerEnv); dsn != "" {
		os.Exit(runCrashWorker(dsn))
	}
	srv, err := pgtest.StartServer("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pgServer = srv
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// backend makes fresh, empty databases of one kind.
type backend struct {
	name   string
	newDSN func(t testing.TB) string
}

var dbCounter atomic.Int64

var backends = []backend{
	{"sqlite", func(t testing.TB) string {
		return filepath.Join(t.TempDir(), "clustro.db")
	}},
	{"postgres", func(t testing.TB) string {
		dsn, err := pgServer.CreateDatabase(context.Background(), fmt.Sprintf("test_%d", dbCounter.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return dsn
	}},
}

// forEachBackend runs test once per backend, in parallel.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// open opens a store on a fresh database of the backend.
func (b backend) open(t testing.TB, opts ...Option) Store {
	t.Helper()
	return openDSN(t, b.newDSN(t), opts...)
}

// openDSN opens the store at dsn and closes it when the test ends.
func openDSN(t testing.TB, dsn string, opts ...Option) Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// dbRequest is a request for database name of team in env, asked by requester.
func dbRequest(env, team, name, requester string) request.DatabaseRequest {
	return request.DatabaseRequest{
		Kind:       request.Create,
		ClientType: request.SME,
		Load:       request.Medium,
		Spec: request.Spec{
			Name: name, Team: team, Environment: env,
			Size: request.SizeM, Instances: 2, PostgresVersion: 17,
			Backups: request.Backups{Schedule: request.Daily, Retention: "14d"},
		},
		Requester: request.Requester{ID: requester, Name: "Ada"},
		Origin:    request.Origin{Kind: request.OriginSlack, SlackChannel: "C1", SlackThread: "171.1"},
	}
}

// mustCreate stores r as submitted and returns its record.
func mustCreate(t testing.TB, s Store, r request.DatabaseRequest) Record {
	t.Helper()
	rec, created, err := s.CreateRequest(context.Background(), NewRequest{
		Request: r,
		Event:   request.Event{Actor: r.Requester.ID, Origin: request.OriginSlack},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("create %s: created = false", r.Name)
	}
	return rec
}

// mustTransition moves a request through states, failing the test on error.
func mustTransition(t testing.TB, s Store, id string, states ...request.State) Record {
	t.Helper()
	var rec Record
	for _, to := range states {
		var err error
		rec, err = s.Transition(context.Background(), id, to, request.Event{Actor: "clustro", Origin: "engine"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return rec
}

// eventually polls cond until it holds or the (generous) deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
