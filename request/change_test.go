package request_test

import (
	"errors"
	"testing"

	"github.com/clustropg/clustro/request"
)

func ready(t *testing.T, p *request.Policy, ct request.ClientType, env string) request.DatabaseRequest {
	t.Helper()
	r, err := p.Resolve(request.DatabaseRequest{ClientType: ct, Load: request.Medium,
		Spec: request.Spec{Environment: env, Team: "billing", Name: "ledger"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestApplyChange(t *testing.T) {
	p := policy(t)
	hour := func(h int) *int { return &h }
	tests := []struct {
		name string
		ct   request.ClientType
		env  string
		c    request.Change
		want func(s *request.Spec) // the change expected on the previous spec
	}{
		{"resize size", request.Startup, "dev", request.Change{Kind: request.Resize, Size: request.SizeL},
			func(s *request.Spec) { s.Size = request.SizeL }},
		{"resize all", request.Startup, "dev", request.Change{Kind: request.Resize, Size: request.SizeS, Instances: 2, Storage: "20Gi"},
			func(s *request.Spec) { s.Size, s.Instances, s.Storage = request.SizeS, 2, "20Gi" }},
		{"backups on take the defaults", request.Startup, "dev", request.Change{Kind: request.Backup, Backups: &request.BackupsChange{Schedule: request.Daily}},
			func(s *request.Spec) {
				s.Backups = request.Backups{Schedule: request.Daily, Hour: hour(p.Defaults.BackupHour), Retention: p.Defaults.Retention}
			}},
		{"backups on with the profile's retention", request.SME, "staging", request.Change{Kind: request.Backup, Backups: &request.BackupsChange{Schedule: request.Weekly}},
			func(s *request.Spec) { s.Backups.Schedule = request.Weekly }},
		{"backups off clear hour and retention", request.SME, "staging", request.Change{Kind: request.Backup, Backups: &request.BackupsChange{Schedule: request.NoBackups}},
			func(s *request.Spec) { s.Backups = request.Backups{Schedule: request.NoBackups} }},
		{"hour only", request.SME, "prod", request.Change{Kind: request.Backup, Backups: &request.BackupsChange{Hour: hour(5)}},
			func(s *request.Spec) { s.Backups.Hour = hour(5) }},
		{"delete keeps the spec", request.SME, "prod", request.Change{Kind: request.Destroy}, func(*request.Spec) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := ready(t, p, tc.ct, tc.env)
			before := specJSON(prev.Spec)
			got, err := p.ApplyChange(prev, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			want := prev
			want.Spec = prev.Spec
			tc.want(&want.Spec)
			if specJSON(got.Spec) != specJSON(want.Spec) || got.Kind != tc.c.Kind || got.ClientType != prev.ClientType {
				t.Errorf("got %s (%s)\nwant %s", specJSON(got.Spec), got.Kind, specJSON(want.Spec))
			}
			if specJSON(prev.Spec) != before {
				t.Error("the previous request was changed")
			}
		})
	}
}

func TestApplyChangeRefuses(t *testing.T) {
	p := policy(t)
	prod := ready(t, p, request.SME, "prod")
	tests := []struct {
		name  string
		c     request.Change
		field string
	}{
		{"no backups in prod", request.Change{Kind: request.Backup, Backups: &request.BackupsChange{Schedule: request.NoBackups}}, "backups.schedule"},
		{"one instance in prod", request.Change{Kind: request.Resize, Instances: 1}, "instances"},
		{"storage over the maximum", request.Change{Kind: request.Resize, Storage: "3Ti"}, "storage"},
		{"create is not a change", request.Change{Kind: request.Create}, "kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.ApplyChange(prod, tc.c)
			var pr request.Problems
			if !errors.As(err, &pr) || !pr.Has(tc.field) {
				t.Errorf("got %v, want a problem on %s", err, tc.field)
			}
		})
	}
	if _, err := p.ApplyChange(prod, request.Change{Kind: request.Resize, Size: prod.Size}); !errors.Is(err, request.ErrNoChange) {
		t.Errorf("same size: got %v, want ErrNoChange", err)
	}
}
