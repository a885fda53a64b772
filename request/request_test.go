package request_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/clustropg/clustro/request"
)

func specJSON(s request.Spec) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestNames(t *testing.T) {
	n := request.NamesOf(request.Spec{Name: "ledger", Team: "billing", Environment: "prod", Backups: request.Backups{Schedule: request.Daily}})
	want := request.Names{Cluster: "ledger", RW: "ledger-rw", RO: "ledger-ro", R: "ledger-r", AppSecret: "ledger-app",
		ObjectStore: "ledger-backups", LogicalBackup: "ledger-pgdump", ScheduledBackup: "ledger-daily", Qualified: "ledger.billing.prod"}
	if n != want {
		t.Errorf("got %+v\nwant %+v", n, want)
	}
	if got := request.NamesFor("x", request.NoBackups).ScheduledBackup; got != "" {
		t.Errorf("no backups should have no ScheduledBackup name, got %q", got)
	}
	if got := request.DatabaseObjectName("ledger", "audit_log"); got != "ledger-db-audit-log" {
		t.Errorf("DatabaseObjectName = %q", got)
	}
}

func TestGrafanaDashboardURL(t *testing.T) {
	tests := []struct {
		g    request.Grafana
		want string
	}{
		{request.Grafana{}, ""},
		{request.Grafana{URL: "https://grafana.example.com/"}, "https://grafana.example.com/d/cloudnative-pg/cloudnativepg?var-namespace=billing-prod&var-cluster=ledger"},
		{request.Grafana{URL: "https://g.example", DashboardUID: "pg", OrgID: 3}, "https://g.example/d/pg/cloudnativepg?orgId=3&var-namespace=billing-prod&var-cluster=ledger"},
	}
	for _, tc := range tests {
		if got := tc.g.DashboardURL("billing-prod", "ledger"); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.g, got, tc.want)
		}
	}
}

func TestLifecycle(t *testing.T) {
	legal := [][2]request.State{
		{request.Draft, request.Submitted}, {request.Submitted, request.PROpen}, {request.PROpen, request.Planned},
		{request.Planned, request.Planned}, {request.Planned, request.Merged}, {request.PROpen, request.Merged},
		{request.Merged, request.Applying}, {request.Applying, request.Provisioning}, {request.Provisioning, request.Ready},
		{request.PROpen, request.Cancelled}, {request.Planned, request.Cancelled}, {request.Merged, request.Deleting},
		{request.Deleting, request.Deleted}, {request.Applying, request.Failed}, {request.Failed, request.Applying},
		{request.Failed, request.Provisioning}, {request.Failed, request.Submitted},
	}
	for _, tr := range legal {
		if err := request.CheckTransition(tr[0], tr[1]); err != nil {
			t.Errorf("%s -> %s refused: %v", tr[0], tr[1], err)
		}
	}
	illegal := [][2]request.State{
		{request.Draft, request.Ready}, {request.Submitted, request.Merged}, {request.Ready, request.Applying},
		{request.Cancelled, request.PROpen}, {request.Deleted, request.Deleting}, {request.Merged, request.Cancelled},
		{request.Applying, request.Ready}, {request.Provisioning, request.Applying}, {request.Failed, request.Ready},
	}
	for _, tr := range illegal {
		err := request.CheckTransition(tr[0], tr[1])
		var ite *request.IllegalTransitionError
		if !errors.As(err, &ite) {
			t.Errorf("%s -> %s allowed, want an IllegalTransitionError", tr[0], tr[1])
		}
	}
	for _, s := range []request.State{request.Ready, request.Cancelled, request.Deleted} {
		if !s.Terminal() {
			t.Errorf("%s should be terminal", s)
		}
	}
	for _, s := range request.States() {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if request.State("bogus").Valid() {
		t.Error("bogus state is valid")
	}
}

func TestCheckRetry(t *testing.T) {
	f := &request.Failure{Step: string(request.Applying), Reason: "terraform apply: timeout", Retryable: true}
	if err := request.CheckRetry(f, request.Applying); err != nil {
		t.Errorf("retrying the failed step: %v", err)
	}
	if err := request.CheckRetry(f, request.Provisioning); err == nil {
		t.Error("retry to another step allowed")
	}
	if err := request.CheckRetry(&request.Failure{Step: "applying", Retryable: false}, request.Applying); err == nil {
		t.Error("a non-retryable failure was retried")
	}
	if err := request.CheckRetry(nil, request.Cancelled); err != nil {
		t.Errorf("cancelling a failed request: %v", err)
	}
}
