package kube

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func cluster(instances any, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Cluster",
		"metadata":   map[string]any{"name": "ledger", "namespace": "billing-prod", "generation": int64(2)},
		"spec":       map[string]any{},
	}}
	if instances != nil {
		u.Object["spec"].(map[string]any)["instances"] = instances
	}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func readyCondition(status string, generation int64) []any {
	c := map[string]any{"type": "Ready", "status": status, "reason": "ClusterIsReady", "message": "Cluster is Ready"}
	if generation != 0 {
		c["observedGeneration"] = generation
	}
	return []any{c}
}

func TestReadyNeedsConditionPhaseAndInstances(t *testing.T) {
	tests := []struct {
		name      string
		instances any
		status    map[string]any
		want      bool
	}{
		{"healthy", int64(3), map[string]any{"phase": HealthyPhase, "readyInstances": int64(3), "conditions": readyCondition("True", 0)}, true},
		{"healthy, condition for this generation", int64(3), map[string]any{"phase": HealthyPhase, "readyInstances": int64(3), "conditions": readyCondition("True", 2)}, true},
		{"healthy, numbers from plain JSON", float64(3), map[string]any{"phase": HealthyPhase, "readyInstances": float64(3), "conditions": readyCondition("True", 0)}, true},
		{"instances defaults to 1", nil, map[string]any{"phase": HealthyPhase, "readyInstances": int64(1), "conditions": readyCondition("True", 0)}, true},
		{"phase healthy but Ready False (cloudnative-pg#4209)", int64(3), map[string]any{"phase": HealthyPhase, "readyInstances": int64(3), "conditions": readyCondition("False", 0)}, false},
		{"Ready True but another phase", int64(3), map[string]any{"phase": "Creating a new replica", "readyInstances": int64(3), "conditions": readyCondition("True", 0)}, false},
		{"two of three instances", int64(3), map[string]any{"phase": HealthyPhase, "readyInstances": int64(2), "conditions": readyCondition("True", 0)}, false},
		{"condition of an older generation", int64(3), map[string]any{"phase": HealthyPhase, "readyInstances": int64(3), "conditions": readyCondition("True", 1)}, false},
		{"no Ready condition", int64(3), map[string]any{"phase": HealthyPhase, "readyInstances": int64(3)}, false},
		{"no status", int64(3), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statusOf(cluster(tt.instances, tt.status))
			if got := s.Ready(); got != tt.want {
				t.Errorf("Ready() = %v, want %v for %v", got, tt.want, s)
			}
		})
	}
	if (Status{}).Ready() {
		t.Error("a Cluster that does not exist is ready")
	}
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		name string
		s    Status
		want string
	}{
		{"absent", Status{}, "the Cluster does not exist"},
		{"new", Status{Found: true, Instances: 3}, "no phase yet, 0/3 instances ready, no conditions"},
		{"failing", Status{
			Found: true, Phase: "Setting up primary", PhaseReason: "image not found", Instances: 3,
			Conditions: []Condition{{Type: "Ready", Status: "False", Reason: "ClusterIsNotReady", Message: "Cluster Is Not Ready"}},
		}, `phase "Setting up primary" (image not found), 0/3 instances ready, Ready=False (ClusterIsNotReady: Cluster Is Not Ready)`},
		{"healthy with a primary", Status{Found: true, Phase: HealthyPhase, Instances: 2, ReadyInstances: 2, CurrentPrimary: "ledger-1", TargetPrimary: "ledger-1"},
			`phase "Cluster in healthy state", 2/2 instances ready, primary ledger-1, no conditions`},
		{"failing over", Status{Found: true, Phase: "Failing over", Instances: 3, ReadyInstances: 2, CurrentPrimary: "ledger-1", TargetPrimary: "ledger-2"},
			`phase "Failing over", 2/3 instances ready, primary ledger-1 (becoming ledger-2), no conditions`},
		{"primary being set up", Status{Found: true, Phase: "Setting up primary", Instances: 1, TargetPrimary: "ledger-1"},
			`phase "Setting up primary", 0/1 instances ready, primary to be ledger-1, no conditions`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatusOfReadsThePrimaries(t *testing.T) {
	s := statusOf(cluster(int64(3), map[string]any{"currentPrimary": "ledger-1", "targetPrimary": "ledger-2"}))
	if s.CurrentPrimary != "ledger-1" || s.TargetPrimary != "ledger-2" {
		t.Errorf("primaries = %q, %q; want ledger-1, ledger-2", s.CurrentPrimary, s.TargetPrimary)
	}
}
