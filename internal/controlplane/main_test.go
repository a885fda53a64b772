package controlplane

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/pgtest"
)

// suite is what TestMain starts once for the package's tests.
type suite struct {
	cp      *ControlPlane
	op      *Operator
	pg      *pgtest.Server
	started time.Duration // how long Start took
}

var env suite

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logf := func(string, ...any) {}
	if testing.Verbose() {
		logf = log.Printf
	}

	pg, err := pgtest.StartServer("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	defer stopMinIO()

	start := time.Now()
	cp, err := Start(ctx, Options{Logf: logf})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	env = suite{cp: cp, pg: pg, started: time.Since(start)}
	logf("control plane started in %s", env.started)

	op, err := cp.RunOperator(ctx, OperatorOptions{PostgresDSN: pg.DSN(), Logf: logf})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer op.Stop()
	env.op = op
	return m.Run()
}
