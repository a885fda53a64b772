package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/internal/cli"
	"github.com/clustropg/clustro/internal/toolchain/toolchaintest"
)

// demoTestEnv is the test's environment with the toolchain located as the
// Makefile exports it.
func demoTestEnv(t *testing.T) func(string) string {
	t.Helper()
	tools := toolchaintest.Dir(t)
	_, cli := toolchaintest.Terraform(t)
	located := map[string]string{"CLUSTRO_TOOLS": tools, "TF_CLI_CONFIG_FILE": cli}
	return func(k string) string {
		if v, ok := located[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// TestDemo runs the demo end to end, with clustro serve the built binary:
// the transcript shows each step from the Slack mention to psql's answer,
// it exits 0, and nothing it started is left running.
func TestDemo(t *testing.T) {
	bin := clustroBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	began := time.Now()
	err := run(ctx, []string{"--dir", dir, "--clustro", bin}, demoTestEnv(t), strings.NewReader(""), &stdout, &stderr)
	out := stdout.String()
	t.Logf("clustro-demo took %s; its transcript:\n%s", time.Since(began).Round(time.Second), out)
	if err != nil {
		t.Fatalf("clustro-demo: exit %d: %v\n%s", cli.ExitCode(err), err, stderr.String())
	}

	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  clustro serve \(` + regexp.QuoteMeta(bin) + `\) ready in .* at http://127\.0\.0\.1:\d+ `),
		regexp.MustCompile(`(?m)^#platform  ada: @clustro I need a postgres for billing, called ledger$`),
		// A question of the bot, with its buttons, and the click.
		regexp.MustCompile(`(?m)^  clustro: @ada .*\n\s+Which environment\?\n\s+\[dev.*\] .*\[prod \(Production\)\]`),
		regexp.MustCompile(`(?m)^  ada clicks \[prod \(Production\)\]$`),
		regexp.MustCompile(`(?m)^  ada clicks \[SME\]$`),
		// A typed answer, the summary card and its confirmation.
		regexp.MustCompile(`(?m)^  ada: reports$`),
		regexp.MustCompile(`(?m)^\s+\[Confirm\] \[Edit\] \[Cancel\]$`),
		regexp.MustCompile(`(?m)^  ada clicks \[Confirm\]$`),
		// The pull request, its diff and plan, the merge.
		regexp.MustCompile(`(?m)^GitHub  PR #1 "clustro: create database billing/ledger \(prod, M\)"  http://127\.0\.0\.1:\d+/acme/infra/pull/1$`),
		regexp.MustCompile(`diff: .*databases/prod/billing/ledger/main\.tf \(\+\d+\)`),
		regexp.MustCompile(`(?m)^\s+size\s+= "M"$`),
		regexp.MustCompile(`(?m)^  clustro/plan: success  Plan: \d+ to add, 0 to change, 0 to destroy\.$`),
		regexp.MustCompile(`(?m)^GitHub  grace reviews the plan and merges PR #1$`),
		regexp.MustCompile(`(?m)^  request ready \(`),
		// Ready in the thread with the Grafana link; the URI by DM only.
		regexp.MustCompile(`(?m)^  clustro: prod/billing/ledger is ready: ledger-rw\.billing-prod\.svc\.cluster\.local`),
		regexp.MustCompile(`Grafana dashboard: https://grafana\.example\.com/d/cloudnative-pg/`),
		regexp.MustCompile("(?m)^DM to ada \\(private\\)  clustro: .*\n.*URI: `postgresql://"),
		regexp.MustCompile(`(?m)^  clustro \(status card, updated in place\): prod/billing/ledger · create · `),
		regexp.MustCompile(`(?m)^#platform  the status card now reads: prod/billing/ledger · create · ready$`),
		regexp.MustCompile(`(?m)^\$ psql "postgresql://[^"]+" -c "select current_database\(\), current_user, version\(\)"$`),
		regexp.MustCompile(`(?m)^Stopped clustro serve, .*the control plane in .*; nothing is left running`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the transcript lacks %s", want)
		}
	}
	// Only the direct message holds the URI.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "postgresql://") && strings.HasPrefix(line, "  clustro:") {
			t.Errorf("a URI in the channel: %s", line)
		}
	}
	// psql answered from the database the bot made.
	m := regexp.MustCompile(`\$ psql "(postgresql://[^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no psql command in the transcript")
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if psqlRow := regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(db) + ` +\| ` + regexp.QuoteMeta(u.User.Username()) + ` +\| PostgreSQL 15`); db == "" || !psqlRow.MatchString(out) || !strings.Contains(out, "(1 row)") {
		t.Errorf("no row of psql naming the database %q", db)
	}

	// Nothing is left: the control plane's directory is gone, no address
	// the demo printed answers, the state file is removed, the logs stay.
	if kc := regexp.MustCompile(`kubeconfig (\S+)`).FindStringSubmatch(out); kc == nil {
		t.Error("no kubeconfig in the transcript")
	} else if _, err := os.Stat(filepath.Dir(kc[1])); !os.IsNotExist(err) {
		t.Errorf("the control plane's directory %s is still there (%v)", filepath.Dir(kc[1]), err)
	}
	addrs := regexp.MustCompile(`(?:https?://|at )(127\.0\.0\.1:\d+)`).FindAllStringSubmatch(out, -1)
	if len(addrs) < 5 {
		t.Errorf("only %d addresses in the transcript", len(addrs))
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a[1], time.Second); err == nil {
			c.Close()
			t.Errorf("%s still answers after the demo", a[1])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, demoStateFile)); !os.IsNotExist(err) {
		t.Errorf("the state file is left behind (%v)", err)
	}
	for _, f := range []string{"clustro.log", "cluster.log", "clustro.yaml", demoMarker} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "clustro.log")); !bytes.Contains(log, []byte(`"message":"clustro serve stopped"`)) {
		t.Error("clustro.log does not show serve stopping cleanly")
	}
}

// TestDemoRefusesAForeignDirectory: --dir is recreated, so a directory the
// demo did not make is refused and left alone.
func TestDemoRefusesAForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := clustroDemo(t, nil, "--dir", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "was not made by clustro-demo") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
	if r := clustroDemo(t, nil, "extra"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "extra"`) {
		t.Errorf("clustro-demo with an argument: exit %d: %s", r.code, r.stderr)
	}
}

// TestDemoFindsClustro: the demo runs the clustro binary it is given, or
// the one next to it or on PATH, and says how to build one when there is
// none, before it starts anything.
func TestDemoFindsClustro(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := filepath.Join(t.TempDir(), "demo")
	r := clustroDemo(t, nil, "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "no clustro binary") || !strings.Contains(r.stderr, "run `make demo`") {
		t.Errorf("without clustro: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "control plane ready") {
		t.Errorf("the demo started something without clustro:\n%s", r.stdout)
	}
	notExec := filepath.Join(t.TempDir(), "clustro")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := clustroDemo(t, nil, "--dir", dir, "--clustro", notExec); r.code != 2 || !strings.Contains(r.stderr, "is not an executable file") {
		t.Errorf("--clustro naming a file one cannot run: exit %d: %s", r.code, r.stderr)
	}

	onPath := t.TempDir()
	fake := filepath.Join(onPath, "clustro")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", onPath)
	if got, err := findClustro(""); err != nil || got != fake {
		t.Errorf("findClustro with clustro on PATH = %q, %v; want %s", got, err, fake)
	}
}
