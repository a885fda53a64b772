package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// waitReady waits for the cluster, checks its credentials by connecting,
// and tells the requester where it is.
func (p *Pipeline) waitReady(ctx context.Context, job store.Job) ([]byte, error) {
	_, rec, err := p.load(ctx, job, "wait for ready")
	if err != nil {
		return nil, err
	}
	if rec.State != request.Provisioning {
		return nil, nil
	}
	// Every call below goes to the cluster of the request's environment.
	env, ns, name := rec.Request.Environment, p.policy.NamespaceFor(rec.Request.Spec), rec.Request.Name
	start := time.Now()
	err = p.clusters.WaitReady(ctx, env, ns, name, func(phase string) {
		// Progress is best effort: a lost notice must not fail the wait.
		p.enqueue(context.WithoutCancel(ctx), notifyJob(rec.ID(), request.Notice{Kind: request.NoticeProgress, Text: fmt.Sprintf("%s: %s", rec.Request.Key(), phase)}))
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.fail(ctx, job, rec, request.Provisioning, true, err)
	}
	info, err := p.clusters.Check(ctx, env, ns, name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.fail(ctx, job, rec, request.Provisioning, true, fmt.Errorf("connection check: %w", err))
	}
	info.Grafana = p.renderer.Config().Grafana.Dashboard(p.policy, rec.Request.Spec)
	p.observeReady(time.Since(start))
	_, err = p.transition(ctx, rec.ID(), request.Ready, event(job, "ready; connection checked"),
		&request.Notice{Kind: request.NoticeReady, PRURL: rec.PR.URL, Ready: &info,
			Text: fmt.Sprintf("%s is ready: %s (read-write), %s (read-only).", rec.Request.Key(), info.RWHost, info.ROHost)})
	return nil, err
}

func (p *Pipeline) observeReady(d time.Duration) {
	if p.observer != nil {
		p.observer.ObserveReadiness(d)
	}
}
