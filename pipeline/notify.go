package pipeline

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/store"
)

// Notice kinds, one per step a requester hears about.
const (
	NoticeReceived  = "received"
	NoticePROpened  = "pr_opened"
	NoticeRefused   = "refused"
	NoticeEdited    = "edited"
	NoticePlanned   = "planned"
	NoticeMerged    = "merged"
	NoticeApplying  = "applying"
	NoticeProgress  = "progress"
	NoticeReady     = "ready"
	NoticeFailed    = "failed"
	NoticeCancelled = "cancelled"
	NoticeDeleted   = "deleted"
)

// Notice is one step of a request told to the requester. It never holds a
// secret: the credentials of a ready database are fetched by the notifier
// when it sends them privately.
type Notice struct {
	Kind string `json:"kind"`
	// Text is a one-line summary of the step.
	Text string `json:"text"`
	// Actor is who caused it, when a person did (the reviewer who merged).
	Actor string `json:"actor,omitempty"`
	PRURL string `json:"prUrl,omitempty"`
	// Plan is the plan summary ("Plan: 4 to add, 0 to change, 0 to destroy.").
	Plan string `json:"plan,omitempty"`
	// Next says what to do after a failure.
	Next  string     `json:"next,omitempty"`
	Ready *ReadyInfo `json:"ready,omitempty"`
}

// ReadyInfo is how to reach a ready database, without its password.
type ReadyInfo struct {
	Namespace string `json:"namespace"`
	Cluster   string `json:"cluster"`
	RWHost    string `json:"rwHost"`
	ROHost    string `json:"roHost"`
	Port      int    `json:"port"`
	Database  string `json:"database"`
	User      string `json:"user"`
	// Secret is the Kubernetes secret holding the password and URI.
	Secret string `json:"secret"`
	// SecretHint is the kubectl command that prints the URI.
	SecretHint string `json:"secretHint"`
	Grafana    string `json:"grafana,omitempty"`
}

// Notifier tells people about their requests (Slack, or the log).
type Notifier interface {
	Notify(ctx context.Context, rec store.Record, n Notice) error
}

// LogNotifier writes notices to the log: the notifier when Slack is off.
type LogNotifier struct{ Log zerolog.Logger }

// Notify logs the notice.
func (l LogNotifier) Notify(_ context.Context, rec store.Record, n Notice) error {
	l.Log.Info().Str("request", rec.ID()).Str("database", rec.Request.Key()).Str("notice", n.Kind).
		Str("pr", n.PRURL).Msg(n.Text)
	return nil
}

func (p *Pipeline) notify(ctx context.Context, job store.Job) ([]byte, error) {
	pl, err := decode(job)
	if err != nil {
		return nil, err
	}
	if pl.Notice == nil {
		return nil, nil
	}
	rec, err := p.store.GetRequest(ctx, pl.Request)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if err := p.notifier.Notify(ctx, rec, *pl.Notice); err != nil {
		return nil, fmt.Errorf("notify %s of %s: %w", pl.Notice.Kind, rec.ID(), err)
	}
	return nil, nil
}
