package config

import (
	"fmt"
	"time"
)

// Watch is what `clustro serve` does after a database is ready: the
// health watch of its CloudNativePG Cluster and the scheduled drift check
// of its workspace.
type Watch struct {
	// Health turns the health watch on (CLUSTRO_WATCH_HEALTH, default
	// true): one informer per environment's cluster on the Clusters
	// ClustroPG made.
	Health bool `json:"health"`
	// Resync is how often every watched Cluster is looked at again and the
	// ready databases are checked for a Cluster that is gone
	// (CLUSTRO_WATCH_RESYNC, default 5m).
	Resync Duration `json:"resync"`
	// DriftInterval is how often every live workspace is planned from the
	// base branch (CLUSTRO_DRIFT_INTERVAL, default 1h; 0 turns the drift
	// check off). Each workspace keeps its own offset in the interval.
	DriftInterval Duration `json:"driftInterval"`
	// DriftWorkers is how many drift checks run at once in one replica
	// (CLUSTRO_DRIFT_WORKERS, default 1). They run on workers of their
	// own, and their plans take a terraform slot only when no request's
	// job wants it.
	DriftWorkers int `json:"driftWorkers"`
}

var watchEnvVars = []envVar{
	{"CLUSTRO_WATCH_HEALTH", "watch.health: watch the health of ready databases (default true)", func(c *Config, v string) error { return setBool(&c.Watch.Health, v) }},
	{"CLUSTRO_WATCH_RESYNC", "watch.resync: look at every watched cluster again (default 5m)", func(c *Config, v string) error { return c.Watch.Resync.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_DRIFT_INTERVAL", "watch.driftInterval: plan every live workspace for drift (default 1h; 0 is off)", func(c *Config, v string) error { return c.Watch.DriftInterval.UnmarshalText([]byte(v)) }},
	{"CLUSTRO_DRIFT_WORKERS", "watch.driftWorkers: drift checks at once per replica (default 1)", func(c *Config, v string) error { return setInt(&c.Watch.DriftWorkers, v) }},
}

// checkWatch reports problems with the watch section.
func (c *Config) checkWatch() []string {
	var problems []string
	w := &c.Watch
	if w.Resync.D() < time.Second {
		problems = append(problems, fmt.Sprintf("watch.resync (CLUSTRO_WATCH_RESYNC): %s is below 1s", w.Resync.D()))
	}
	if d := w.DriftInterval.D(); d != 0 && d < time.Minute {
		problems = append(problems, fmt.Sprintf("watch.driftInterval (CLUSTRO_DRIFT_INTERVAL): %s is below 1m (0 turns the drift check off)", d))
	}
	if w.DriftWorkers < 1 || w.DriftWorkers > 32 {
		problems = append(problems, fmt.Sprintf("watch.driftWorkers (CLUSTRO_DRIFT_WORKERS): %d is outside 1-32", w.DriftWorkers))
	}
	return problems
}
