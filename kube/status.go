package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// HealthyPhase is the status.phase of a healthy CloudNativePG Cluster.
const HealthyPhase = "Cluster in healthy state"

// Condition is one of a Cluster's status conditions.
type Condition struct {
	Type, Status, Reason, Message string
	// ObservedGeneration is the spec generation the condition was computed
	// for; 0 when the operator does not say (CloudNativePG 1.30 does not).
	ObservedGeneration int64
}

// String is "Type=Status (Reason: Message)".
func (c Condition) String() string {
	s := c.Type + "=" + c.Status
	switch {
	case c.Reason != "" && c.Message != "":
		s += " (" + c.Reason + ": " + c.Message + ")"
	case c.Reason != "" || c.Message != "":
		s += " (" + c.Reason + c.Message + ")"
	}
	return s
}

// Status is what WaitReady observed of a Cluster.
type Status struct {
	Namespace, Name string
	// Found is false while the Cluster does not exist.
	Found bool
	UID   types.UID
	// ResourceVersion is the object's metadata.resourceVersion when it was
	// read (empty when not Found).
	ResourceVersion string
	Generation      int64
	// Phase and PhaseReason are status.phase and status.phaseReason.
	Phase, PhaseReason string
	// Instances is spec.instances, the number asked for.
	Instances int64
	// ReadyInstances is status.readyInstances.
	ReadyInstances int64
	// CurrentPrimary is status.currentPrimary, the instance that is the
	// primary (e.g. "ledger-1"); empty until the operator reports one.
	CurrentPrimary string
	// TargetPrimary is status.targetPrimary, the instance meant to be the
	// primary: it differs from CurrentPrimary during a switchover or a
	// failover.
	TargetPrimary string
	// LastSuccessfulBackup and LastFailedBackup are status.lastSuccessfulBackup
	// and status.lastFailedBackup, RFC 3339 times ("" when none).
	LastSuccessfulBackup, LastFailedBackup string
	Conditions                             []Condition
}

// Condition returns the condition of type typ.
func (s Status) Condition(typ string) (Condition, bool) {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c, true
		}
	}
	return Condition{}, false
}

// Ready reports whether the Cluster is healthy: condition Ready=True AND
// phase "Cluster in healthy state" AND every instance asked for ready. All
// three are checked (cloudnative-pg#4209: phase healthy while Ready was
// False). A Ready condition computed for an older spec generation does not
// count.
func (s Status) Ready() bool {
	c, ok := s.Condition("Ready")
	return s.Found && ok && c.Status == "True" &&
		(c.ObservedGeneration == 0 || c.ObservedGeneration >= s.Generation) &&
		s.Phase == HealthyPhase &&
		s.Instances > 0 && s.ReadyInstances == s.Instances
}

// String describes the status for people, e.g.
// `phase "Setting up primary", 0/3 instances ready, Ready=False (ClusterIsNotReady: Cluster Is Not Ready)`
// or, once the primary is known,
// `phase "Failing over", 2/3 instances ready, primary ledger-1 (becoming ledger-2), Ready=False (...)`.
func (s Status) String() string {
	if !s.Found {
		return "the Cluster does not exist"
	}
	var b strings.Builder
	if s.Phase == "" {
		b.WriteString("no phase yet")
	} else {
		fmt.Fprintf(&b, "phase %q", s.Phase)
	}
	if s.PhaseReason != "" {
		fmt.Fprintf(&b, " (%s)", s.PhaseReason)
	}
	fmt.Fprintf(&b, ", %d/%d instances ready", s.ReadyInstances, s.Instances)
	switch {
	case s.CurrentPrimary != "" && s.TargetPrimary != "" && s.TargetPrimary != s.CurrentPrimary:
		fmt.Fprintf(&b, ", primary %s (becoming %s)", s.CurrentPrimary, s.TargetPrimary)
	case s.CurrentPrimary != "":
		b.WriteString(", primary " + s.CurrentPrimary)
	case s.TargetPrimary != "":
		b.WriteString(", primary to be " + s.TargetPrimary)
	}
	if len(s.Conditions) == 0 {
		b.WriteString(", no conditions")
	}
	for _, c := range s.Conditions {
		b.WriteString(", " + c.String())
	}
	return b.String()
}

// progressKey changes exactly when progress is worth reporting.
func (s Status) progressKey() string {
	return fmt.Sprintf("%t|%s|%d|%d", s.Found, s.Phase, s.ReadyInstances, s.Instances)
}

// statusOf reads a Cluster. spec.instances defaults to 1, as the CRD does.
func statusOf(u *unstructured.Unstructured) Status {
	s := Status{Namespace: u.GetNamespace(), Name: u.GetName(), Found: true, UID: u.GetUID(), Generation: u.GetGeneration(), ResourceVersion: u.GetResourceVersion()}
	s.Instances = nestedInt(u, 1, "spec", "instances")
	s.ReadyInstances = nestedInt(u, 0, "status", "readyInstances")
	s.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	s.PhaseReason, _, _ = unstructured.NestedString(u.Object, "status", "phaseReason")
	s.CurrentPrimary, _, _ = unstructured.NestedString(u.Object, "status", "currentPrimary")
	s.LastSuccessfulBackup, _, _ = unstructured.NestedString(u.Object, "status", "lastSuccessfulBackup")
	s.LastFailedBackup, _, _ = unstructured.NestedString(u.Object, "status", "lastFailedBackup")
	s.TargetPrimary, _, _ = unstructured.NestedString(u.Object, "status", "targetPrimary")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		m, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		c := Condition{}
		c.Type, _ = m["type"].(string)
		c.Status, _ = m["status"].(string)
		c.Reason, _ = m["reason"].(string)
		c.Message, _ = m["message"].(string)
		c.ObservedGeneration, _ = m["observedGeneration"].(int64)
		s.Conditions = append(s.Conditions, c)
	}
	return s
}

// nestedInt reads an integer field, tolerating float64 (objects decoded
// from plain JSON) and falling back to def when absent.
func nestedInt(u *unstructured.Unstructured, def int64, fields ...string) int64 {
	v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if !ok {
		return def
	}
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return def
}
