package controlplane

import (
	"fmt"
	"time"
)

// Behavior is how the operator stand-in treats a cluster. The zero value
// is Ready.
type Behavior struct {
	delay    time.Duration
	failure  string
	degraded string
}

// Ready makes a cluster healthy as soon as its database exists (the default).
func Ready() Behavior { return Behavior{} }

// Slow keeps a cluster in phase "Setting up primary" (or, after a spec
// change, "Creating a new replica" or "Applying configuration") for d
// before reporting it healthy.
func Slow(d time.Duration) Behavior { return Behavior{delay: d} }

// Fail keeps a cluster in phase "Setting up primary" with Ready=False and
// emits a Warning Event carrying reason. Its app Secret is written, as
// CloudNativePG does before the primary exists, but no database is created.
func Fail(reason string) Behavior { return Behavior{failure: reason} }

// Degraded makes a cluster report, once it would be healthy, phase
// "Waiting for the instances to become active" with reason as its
// phaseReason (and the Ready condition's message), one instance fewer
// ready than asked for (at least 0) and Ready=False (ClusterIsNotReady),
// with a Warning Event. Its database is provisioned and keeps working:
// only the status says something is wrong. Behave with Ready makes it
// healthy again.
func Degraded(reason string) Behavior { return Behavior{degraded: reason} }

// String describes the behavior: "ready", "slow 2s", "fail: reason" or
// "degraded: reason".
func (b Behavior) String() string {
	switch {
	case b.failure != "":
		return "fail: " + b.failure
	case b.degraded != "":
		return "degraded: " + b.degraded
	case b.delay > 0:
		return fmt.Sprintf("slow %s", b.delay)
	default:
		return "ready"
	}
}
