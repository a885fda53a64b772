package request_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clustropg/clustro/request"
)

func TestHealthNotices(t *testing.T) {
	healthy := request.Health{Found: true, Ready: true, Phase: request.HealthyPhase, Instances: 3, ReadyInstances: 3, Primary: "db-1"}
	with := func(f func(*request.Health)) request.Health { h := healthy; f(&h); return h }
	degraded := with(func(h *request.Health) {
		h.Ready, h.Phase, h.Reason, h.ReadyInstances = false, "Waiting for the instances to become active", "node lost", 2
	})
	tests := []struct {
		name      string
		prev, cur request.Health
		want      []string // kinds
		says      string   // in the first notice
	}{
		{"nothing changed", healthy, healthy, nil, ""},
		{"turns unhealthy", healthy, degraded, []string{request.NoticeUnhealthy}, "2/3 instances ready"},
		{"phase healthy but Ready false (cnpg#4209)", healthy, with(func(h *request.Health) { h.Ready = false; h.ReadyReason = "ClusterIsNotReady" }), []string{request.NoticeUnhealthy}, "Ready condition false"},
		{"an instance fewer", healthy, with(func(h *request.Health) { h.ReadyInstances = 2 }), []string{request.NoticeUnhealthy}, "2/3"},
		{"phase changes while unhealthy", degraded, with(func(h *request.Health) { *h = degraded; h.Phase = "Failing over" }), nil, ""},
		{"loses another instance", degraded, with(func(h *request.Health) { *h = degraded; h.ReadyInstances = 1 }), []string{request.NoticeUnhealthy}, "lost another instance"},
		{"recovers", degraded, healthy, []string{request.NoticeRecovered}, "healthy again"},
		{"failover", healthy, with(func(h *request.Health) { h.Primary = "db-2" }), []string{request.NoticeFailover}, "from db-1 to db-2"},
		{"failover seen mid-way", healthy, with(func(h *request.Health) { *h = degraded; h.Primary = "db-2" }), []string{request.NoticeFailover, request.NoticeUnhealthy}, "from db-1 to db-2"},
		{"gone", healthy, request.Health{}, []string{request.NoticeGone}, "is gone"},
		{"gone while unhealthy", degraded, request.Health{}, []string{request.NoticeGone}, "is gone"},
		{"still gone", request.Health{}, request.Health{}, nil, ""},
		{"back", request.Health{}, healthy, []string{request.NoticeRecovered}, "exists again"},
		{"primary unknown before", with(func(h *request.Health) { h.Primary = "" }), healthy, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := request.HealthNotices("prod/shop/db", tt.prev, tt.cur)
			var kinds []string
			for _, n := range got {
				kinds = append(kinds, n.Kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tt.want) {
				t.Fatalf("notices %v, want %v", kinds, tt.want)
			}
			if tt.says != "" && !strings.Contains(got[0].Text, tt.says) {
				t.Errorf("notice %q does not say %q", got[0].Text, tt.says)
			}
		})
	}
}

func TestHealthSinceKeepsTheStateStart(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	h := request.Health{Found: true, Ready: true, Phase: request.HealthyPhase, Instances: 1, ReadyInstances: 1}.Observe(nil, t0)
	again := request.Health{Found: true, Ready: true, Phase: request.HealthyPhase, Instances: 1, ReadyInstances: 1, Primary: "x-1"}.Observe(&h, t0.Add(time.Hour))
	if !again.Since.Equal(t0) {
		t.Errorf("healthy since %s after a healthy observation, want %s", again.Since, t0)
	}
	down := request.Health{Found: true, Phase: "Failing over", Instances: 1}.Observe(&again, t0.Add(2*time.Hour))
	if !down.Since.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("unhealthy since %s, want when it turned", down.Since)
	}
}

func TestDriftNoticesOncePerDistinctDrift(t *testing.T) {
	a := &request.Drift{Summary: "Plan: 0 to add, 1 to change, 0 to destroy.", Resources: []string{"update module.database.kubectl_manifest.cluster"}}
	a.Fingerprint = request.DriftFingerprint(a.Resources, "instances 3 -> 1")
	same := *a
	other := *a
	other.Fingerprint = request.DriftFingerprint(a.Resources, "instances 3 -> 2")
	tests := []struct {
		name      string
		prev, cur *request.Drift
		want      string
	}{
		{"none", nil, nil, ""},
		{"new drift", nil, a, request.NoticeDrift},
		{"same drift again", a, &same, ""},
		{"a different drift", a, &other, request.NoticeDrift},
		{"drift gone", a, nil, request.NoticeDriftResolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := request.DriftNotices("prod/shop/db", tt.prev, tt.cur)
			kind := ""
			if len(got) == 1 {
				kind = got[0].Kind
			} else if len(got) > 1 {
				t.Fatalf("%d notices", len(got))
			}
			if kind != tt.want {
				t.Fatalf("notice %q, want %q", kind, tt.want)
			}
			if kind == request.NoticeDrift && !strings.Contains(got[0].Text, "kubectl_manifest.cluster") {
				t.Errorf("drift notice %q does not name the resource", got[0].Text)
			}
		})
	}
	if request.DriftFingerprint([]string{"b", "a"}, "x") != request.DriftFingerprint([]string{"a", "b"}, "x") {
		t.Error("the fingerprint depends on the order of the resources")
	}
}

func TestHealthStale(t *testing.T) {
	at := func(v string) request.Health { return request.Health{Found: true, Version: v} }
	tests := []struct {
		h, o         request.Health
		stale, newer bool
	}{
		{at("90"), at("100"), true, false},
		{at("100"), at("100"), false, false},
		{at("110"), at("100"), false, true},
		{at("9"), at("10"), true, false}, // numbers, not strings
		{at(""), at("100"), false, false},
		{at("100"), at(""), false, true},
		{at("x"), at("100"), false, false},
	}
	for _, tt := range tests {
		if got := tt.h.Stale(tt.o); got != tt.stale {
			t.Errorf("%q.Stale(%q) = %v", tt.h.Version, tt.o.Version, got)
		}
		if got := tt.h.Newer(tt.o); got != tt.newer {
			t.Errorf("%q.Newer(%q) = %v", tt.h.Version, tt.o.Version, got)
		}
	}
	if !at("1").Same(at("2")) {
		t.Error("the version makes two equal healths differ")
	}
}

func TestBackupNotices(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	ok := request.Health{Found: true, Ready: true, Phase: request.HealthyPhase, Instances: 1, ReadyInstances: 1,
		Archiving: request.ArchivingOK, LastBackup: t0}
	with := func(f func(*request.Health)) request.Health { h := ok; f(&h); return h }
	failing := with(func(h *request.Health) {
		h.Archiving, h.ArchivingReason = request.ArchivingFailing, "ContinuousArchivingFailing: AccessDenied"
	})
	failed := with(func(h *request.Health) { h.LastFailedBackup = t0.Add(time.Hour) })
	tests := []struct {
		name      string
		prev, cur request.Health
		want      []string
		says      string
	}{
		{"nothing new", ok, ok, nil, ""},
		{"archiving fails", ok, failing, []string{request.NoticeArchivingFailed}, "AccessDenied"},
		{"still failing", failing, failing, nil, ""},
		{"archiving works again", failing, ok, []string{request.NoticeArchivingRecovered}, "works again"},
		{"archiving not reported yet", with(func(h *request.Health) { h.Archiving = "" }), ok, nil, ""},
		{"a backup fails", ok, failed, []string{request.NoticeBackupFailed}, "2026-12-02T04:00:00Z"},
		{"the same failure seen again", failed, failed, nil, ""},
		{"a backup succeeds after it", failed, with(func(h *request.Health) { h.LastFailedBackup, h.LastBackup = t0.Add(time.Hour), t0.Add(2*time.Hour) }), []string{request.NoticeBackupRecovered}, "succeeded"},
		{"another success", ok, with(func(h *request.Health) { h.LastBackup = t0.Add(time.Hour) }), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := request.HealthNotices("prod/shop/db", tt.prev, tt.cur)
			var kinds []string
			for _, n := range got {
				kinds = append(kinds, n.Kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tt.want) {
				t.Fatalf("notices %v, want %v", kinds, tt.want)
			}
			if tt.says != "" && !strings.Contains(got[0].Text, tt.says) {
				t.Errorf("notice %q does not say %q", got[0].Text, tt.says)
			}
		})
	}
	local := failed
	local.LastBackup = t0.In(time.FixedZone("x", 3600))
	if !local.Same(failed) {
		t.Error("the same instants in another zone differ")
	}
}
