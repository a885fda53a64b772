package store

import (
	"time"

	"github.com/clustropg/clustro/request"
)

// Option configures Open.
type Option func(*config)

// config holds Open's settings; defaultConfig documents the defaults.
type config struct {
	backoffBase time.Duration
	backoffMax  time.Duration
	maxAttempts int
	now         func() time.Time
}

func defaultConfig() config {
	return config{
		backoffBase: 5 * time.Second,
		backoffMax:  10 * time.Minute,
		maxAttempts: 5,
		now:         time.Now,
	}
}

// WithBackoff sets the delay before a failed job's retry: base after the
// first attempt, doubling with each attempt up to max, of which a random
// half is taken off (jitter) so that retries of many jobs spread out.
// The defaults are 5s and 10m.
func WithBackoff(base, max time.Duration) Option {
	return func(c *config) {
		if base > 0 {
			c.backoffBase = base
		}
		if max >= base {
			c.backoffMax = max
		}
	}
}

// WithMaxAttempts sets the attempts of a job enqueued without MaxAttempts
// (default 5).
func WithMaxAttempts(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxAttempts = n
		}
	}
}

// WithClock replaces time.Now, for tests. Replicas sharing a PostgreSQL
// store compare leases by their own clocks, which must be synchronised
// (NTP) to well under a lease.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// TransitionOption configures a Transition.
type TransitionOption interface {
	configureTransition(*writeConfig)
}

// UpdateOption configures an UpdateRequest.
type UpdateOption interface {
	configureUpdate(*writeConfig)
}

type writeConfig struct {
	version *int64
	failure *request.Failure
	jobs    []NewJob
}

// VersionOption makes a write conditional on the record's version.
type VersionOption struct{ version int64 }

// IfVersion makes Transition or UpdateRequest return ErrConflict, and
// write nothing, unless the record's Version is still v: the caller's
// decision was based on that version.
func IfVersion(v int64) *VersionOption { return &VersionOption{version: v} }

func (o *VersionOption) configureTransition(c *writeConfig) { c.version = &o.version }
func (o *VersionOption) configureUpdate(c *writeConfig)     { c.version = &o.version }

// FailureOption records why a request failed.
type FailureOption struct{ failure request.Failure }

// WithFailure gives the failure of a Transition to request.Failed.
func WithFailure(f request.Failure) *FailureOption { return &FailureOption{failure: f} }

func (o *FailureOption) configureTransition(c *writeConfig) { f := o.failure; c.failure = &f }

// EnqueueOption enqueues a job in the same transaction as the write, so
// that a change of state and the work it starts happen together or not at
// all.
type EnqueueOption struct{ job NewJob }

// AndEnqueue enqueues j with the Transition or UpdateRequest; an empty
// RequestID is filled with the request's.
func AndEnqueue(j NewJob) *EnqueueOption { return &EnqueueOption{job: j} }

func (o *EnqueueOption) configureTransition(c *writeConfig) { c.jobs = append(c.jobs, o.job) }
func (o *EnqueueOption) configureUpdate(c *writeConfig)     { c.jobs = append(c.jobs, o.job) }
