package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// --keep: everything stays up until Ctrl-C, for trying it by hand.

// demoNamespace is the demo database's namespace under the default
// pattern, {team}-{env}.
const demoNamespace = demoTeam + "-" + demoEnv

// printNextSteps prints the URLs and the commands to go on by hand.
func (d *demo) printNextSteps() {
	self := "clustro-demo"
	if fi, err := os.Stat(filepath.Join("bin", "clustro-demo")); err == nil && !fi.IsDir() {
		self = "bin/clustro-demo"
	}
	dir := ""
	if !samePath(d.dir, defaultDemoDir) {
		dir = " --dir " + d.shown
	}
	tok := d.state.APIToken
	fmt.Fprintf(d.out, `
Everything keeps running until Ctrl-C:
  clustro serve    %[1]s  (/healthz, /readyz, /metrics; logs in %[2]s)
  pull request     %[3]s/%[4]s/%[5]s/pull/1  (its page has Merge and Close buttons, as %[6]s)
  Slack fake       %[7]s/api/
  kubeconfig       %[8]s
  PostgreSQL       %[9]s

Go on by hand; this terminal shows what the bot posts and what happens to pull requests:
  %[10]s slash%[11]s "/pg list"
  %[10]s slash%[11]s "/pg resize ledger size=L"
      opens pull request #%[19]d for the resize, and plans it
  %[10]s merge%[11]s %[19]d
      merges it through the emulator's API: GitHub's webhook tells clustro to apply it
  curl -H "Authorization: Bearer %[12]s" %[1]s/api/v1/databases
  curl %[1]s/api/v1/openapi.json
  curl -H "Authorization: Bearer %[12]s" -H "Content-Type: application/json" \
       -d '{"name":"orders","team":"%[13]s","environment":"dev","load":"small"}' %[1]s/api/v1/databases
      asks for a database as Backstage would: the next pull request, progress in #%[13]s; merge it with %[10]s merge
  kubectl --kubeconfig %[8]s get clusters.postgresql.cnpg.io -A

Day two: ClustroPG keeps watching %[15]s once it is ready.
  kubectl --kubeconfig %[8]s -n %[16]s patch clusters.postgresql.cnpg.io %[17]s --type merge -p '{"spec":{"instances":1}}'
      a change behind Terraform's back: the drift check (every 2 minutes here) posts it once in the thread
  %[10]s slash%[11]s "/pg drift"
  %[10]s slash%[11]s "/pg reconcile %[17]s"
      posts the plan that puts it back, with an Apply this plan button; through the API instead:
  curl -H "Authorization: Bearer %[12]s" -H "Content-Type: application/json" -d '{}' %[1]s/api/v1/databases/%[18]s/reconcile
  curl -H "Authorization: Bearer %[12]s" -H "Content-Type: application/json" -d '{"confirm":"<id>"}' %[1]s/api/v1/databases/%[18]s/reconcile
      applies it once the plan is shown (the id is in the answer and in GET /api/v1/databases/%[18]s)
  kubectl --kubeconfig %[8]s -n %[16]s patch clusters.postgresql.cnpg.io %[17]s --subresource=status --type merge -p '{"status":{"targetPrimary":"%[17]s-2"}}'
      what `+"`kubectl cnpg promote %[17]s %[17]s-2`"+` does: the operator stand-in switches over, and the thread hears of the failover

%[20]s
The secrets of this throwaway demo are in %[14]s (mode 0600).
`, d.url, filepath.Join(d.shown, "clustro.log"), d.gh.URL(), demoOwner, demoRepo, demoReviewer, d.slack.URL,
		d.cp.Kubeconfig(), d.pg.DSN(), self, dir, tok, demoTeamChannelName, filepath.Join(d.shown, demoStateFile),
		demoEnv+"/"+demoTeam+"/"+demoName, demoNamespace, demoName, demoEnv+"/"+demoTeam+"/"+demoName,
		d.nextPull(), d.recoverySteps(self, dir))
}

// nextPull is the number the next pull request gets.
func (d *demo) nextPull() int {
	all, err := d.gh.PullRequests()
	if err != nil {
		return 2
	}
	n := 1
	for _, pr := range all {
		n = max(n, pr.GetNumber()+1)
	}
	return n
}

// recoverySteps are the next steps about backups and restores: with
// --restore, the commands; without, how to get them.
func (d *demo) recoverySteps(self, dir string) string {
	if !d.restore || d.minio == nil {
		return "Backups and point-in-time restores: run `make demo ARGS=\"--keep --restore\"` (a local MinIO as the object store).\n"
	}
	return fmt.Sprintf(`Recovery: ledger and %[4]s back up to MinIO at %[3]s (bucket %[5]s, its log in %[6]s).
  %[1]s slash%[2]s "/pg backups ledger"
      the recovery window, WAL archiving and the base backups
  %[1]s slash%[2]s "/pg backup ledger"
      a base backup now; the thread says when it is done
  %[1]s slash%[2]s "/pg restore ledger --at <a time in the window, RFC 3339> --as ledger-2"
      a new database restored to that point: its pull request plans it; merge it with %[1]s merge%[2]s <number>
`, self, dir, d.minio.Endpoint(), demoRestoreName, demoBucket, filepath.Join(d.shown, "minio", "minio.log"))
}

// samePath reports whether two paths name the same place.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// watch prints what the bot posts and what happens to pull requests until
// ctx ends (Ctrl-C).
func (d *demo) watch(ctx context.Context) {
	prs := map[int]string{}
	pulls := func(announce bool) {
		all, err := d.gh.PullRequests()
		if err != nil {
			return
		}
		for _, pr := range all {
			state := pr.GetState()
			if pr.GetMerged() {
				state = "merged"
			}
			if prs[pr.GetNumber()] == state {
				continue
			}
			prs[pr.GetNumber()] = state
			if announce {
				fmt.Fprintf(d.out, "GitHub  PR #%d %q is %s  %s\n", pr.GetNumber(), pr.GetTitle(), state, pr.GetHTMLURL())
			}
		}
	}
	pulls(false)
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(d.out, "\nStopping the demo.")
			return
		case <-time.After(300 * time.Millisecond):
		}
		d.flushSlack()
		pulls(true)
	}
}
