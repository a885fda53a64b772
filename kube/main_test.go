package kube_test

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/internal/pgtest"
)

// env is what TestMain starts once for the package: a PostgreSQL server, the
// offline control plane and the CloudNativePG stand-in.
var env struct {
	cp *controlplane.ControlPlane
	op *controlplane.Operator
	pg *pgtest.Server
}

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
	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{Logf: logf})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	logf("control plane started in %s", time.Since(start))
	op, err := cp.RunOperator(ctx, controlplane.OperatorOptions{PostgresDSN: pg.DSN(), Logf: logf})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer op.Stop()
	env.cp, env.op, env.pg = cp, op, pg
	return m.Run()
}
