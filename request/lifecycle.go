package request

import (
	"fmt"
	"slices"
	"time"
)

// State is where a request is in its lifecycle:
//
//	draft -> submitted -> pr_open -> planned -> merged -> applying -> provisioning -> ready
//	                          \-> cancelled (PR closed unmerged)
//	merged -> deleting -> deleted (a delete change)
//	any active state -> failed (retryable: back to the step that failed)
type State string

// The lifecycle states.
const (
	Draft        State = "draft"
	Submitted    State = "submitted"
	PROpen       State = "pr_open"
	Planned      State = "planned"
	Merged       State = "merged"
	Applying     State = "applying"
	Provisioning State = "provisioning"
	Ready        State = "ready"
	Failed       State = "failed"
	Cancelled    State = "cancelled"
	Deleting     State = "deleting"
	Deleted      State = "deleted"
)

// States lists every state in lifecycle order.
func States() []State {
	return []State{Draft, Submitted, PROpen, Planned, Merged, Applying, Provisioning, Ready, Failed, Cancelled, Deleting, Deleted}
}

// next lists the legal successors of each state. A failed request may go
// back to the step that failed (a retry), which Transition checks against
// the failure's step.
func next(s State) []State {
	switch s {
	case Draft:
		return []State{Submitted, Cancelled}
	case Submitted:
		return []State{PROpen, Failed, Cancelled}
	case PROpen:
		// Merged straight from pr_open: a PR merged while its plan still ran.
		return []State{Planned, Merged, Failed, Cancelled}
	case Planned:
		// Planned again on each push to the PR.
		return []State{Planned, PROpen, Merged, Failed, Cancelled}
	case Merged:
		return []State{Applying, Deleting, Failed}
	case Applying:
		return []State{Provisioning, Failed}
	case Provisioning:
		return []State{Ready, Failed}
	case Deleting:
		return []State{Deleted, Failed}
	case Failed:
		return []State{Submitted, PROpen, Applying, Provisioning, Deleting, Cancelled}
	}
	return nil // ready, cancelled and deleted are final for this change
}

// Terminal reports whether a request in s will not move again.
func (s State) Terminal() bool { return len(next(s)) == 0 }

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States(), s) }

// IllegalTransitionError is returned for a move the lifecycle does not allow.
type IllegalTransitionError struct {
	From, To State
}

func (e *IllegalTransitionError) Error() string {
	allowed := next(e.From)
	if len(allowed) == 0 {
		return fmt.Sprintf("illegal transition %s -> %s: %s is final", e.From, e.To, e.From)
	}
	return fmt.Sprintf("illegal transition %s -> %s: from %s a request may go to %v", e.From, e.To, e.From, allowed)
}

// CheckTransition returns an *IllegalTransitionError unless from -> to is legal.
func CheckTransition(from, to State) error {
	if !slices.Contains(next(from), to) {
		return &IllegalTransitionError{From: from, To: to}
	}
	return nil
}

// RetryError is returned for a move out of Failed that is not a retry of
// the step that failed.
type RetryError struct {
	Failure *Failure
	To      State
}

func (e *RetryError) Error() string {
	if e.Failure == nil {
		return fmt.Sprintf("cannot retry to %s: the failure is unknown", e.To)
	}
	if !e.Failure.Retryable {
		return fmt.Sprintf("cannot retry: %s failed in a way retrying cannot fix (%s); cancel it and ask again", e.Failure.Step, e.Failure.Reason)
	}
	return fmt.Sprintf("cannot retry to %s: the step that failed is %s", e.To, e.Failure.Step)
}

// CheckRetry checks a move out of Failed: cancelling is always allowed; a
// retry must go back to the step that failed (Failure.Step names its
// state) and only if the failure is retryable.
func CheckRetry(f *Failure, to State) error {
	if to == Cancelled {
		return nil
	}
	if f == nil || !f.Retryable || State(f.Step) != to {
		return &RetryError{Failure: f, To: to}
	}
	return nil
}

// Failure describes why a request failed: the step (the state a retry
// goes back to: submitted to open the PR again, applying, provisioning,
// deleting), the reason (secrets redacted by the caller) and whether
// retrying can help.
type Failure struct {
	Step      string `json:"step"`
	Reason    string `json:"reason"`
	Retryable bool   `json:"retryable"`
}

// Event is one entry of a request's audit trail, written with every transition.
type Event struct {
	RequestID string    `json:"requestId"`
	At        time.Time `json:"at"`
	From      State     `json:"from"`
	To        State     `json:"to"`
	// Actor is who caused it: a Slack user, a GitHub login, an API token
	// name, or "clustro" for the engine itself.
	Actor string `json:"actor"`
	// Origin is the channel it came through: slack, github (with the
	// delivery id in Ref), api, cli or engine.
	Origin string `json:"origin"`
	// Ref identifies the cause: the GitHub delivery id, the Slack trigger,
	// the API idempotency key, the job id.
	Ref string `json:"ref,omitempty"`
	// Detail says what changed, in a sentence ("size M -> L by reviewer").
	Detail string `json:"detail,omitempty"`
}
