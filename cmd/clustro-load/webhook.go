package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
)

// webhookRepo is the repository serve is configured with in the webhook
// scenario; deliveries name it.
const webhookRepo = "clustro-load/infra"

// webhookScenario sends signed pull_request deliveries at a fixed rate for
// pull requests ClustroPG did not open: each is stored as a github_event
// job, and a worker finds no request for it and ignores it. With queued
// jobs already in the store (due tomorrow), it shows what a long queue
// costs the acknowledgement and the workers' claims.
func (s *suite) webhookScenario(ctx context.Context) measure {
	dirs := make([]string, len(s.o.webhookQueued))
	errs := make([]error, len(s.o.webhookQueued))
	for i, queued := range s.o.webhookQueued {
		dirs[i], errs[i] = s.webhookSeed(ctx, queued)
	}
	return func(ctx context.Context) []row {
		var rows []row
		for i, queued := range s.o.webhookQueued {
			r := row{name: fmt.Sprintf("webhook %.0f/s for %s, %d jobs queued", s.o.webhookRate, s.o.webhookDuration, queued)}
			err := errs[i]
			if err == nil {
				err = s.webhook(ctx, &r, dirs[i])
			}
			if err != nil {
				r = failed(r.name, err)
			}
			rows = append(rows, r)
		}
		return rows
	}
}

// webhookSeed queues jobs in a new directory's store.
func (s *suite) webhookSeed(ctx context.Context, queued int) (string, error) {
	dir, err := s.scratch(fmt.Sprintf("webhook-%d", queued))
	if err != nil || queued == 0 {
		return dir, err
	}
	began := time.Now()
	if err := seedQueued(ctx, loadrun.StorePath(dir), queued); err != nil {
		return "", err
	}
	s.logf("webhook: queued %d jobs in %s", queued, time.Since(began).Round(time.Millisecond))
	return dir, nil
}

func (s *suite) webhook(ctx context.Context, r *row, dir string) error {
	secret := randomHex(16)
	env, err := loadrun.GitHubEnv(dir, "http://127.0.0.1:9/", webhookRepo, "clustro-load-not-a-token", secret)
	if err != nil {
		return err
	}
	srv, err := loadrun.Start(ctx, s.o.clustro, dir, env...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	// At the rate: an open load, each delivery leaves on time, answered or
	// not.
	total := int(s.o.webhookRate * s.o.webhookDuration.Seconds())
	every := time.Duration(float64(time.Second) / s.o.webhookRate)
	paced := s.deliveries(ctx, srv, client, secret, 0, total, func(i int) time.Duration { return time.Duration(i) * every })
	if paced.err != nil {
		return paced.err
	}
	r.latencies(paced.acked)
	r.delivered = fmt.Sprintf("%d/%d accepted, %d jobs done", len(paced.acked), total, paced.done)
	r.note = fmt.Sprintf("%.0f jobs done/s at the rate", paced.jobsPerSecond())

	// A burst as fast as serve accepts it, 16 at a time: the jobs done per
	// second are the workers' own pace.
	if s.o.webhookBurst > 0 {
		burst := s.deliveries(ctx, srv, client, secret, total, s.o.webhookBurst, nil)
		if burst.err != nil {
			return burst.err
		}
		r.note += fmt.Sprintf("; a burst of %d: %d accepted, %d jobs done, %.0f jobs done/s", s.o.webhookBurst, len(burst.acked), burst.done, burst.jobsPerSecond())
	}
	r.rss = rss(srv)
	s.logf("webhook: %s: ack p50 %s p99 %s; %s", r.name, r.p50, r.p99, r.note)
	return nil
}

// deliveryRun is what a batch of deliveries did.
type deliveryRun struct {
	acked    []time.Duration // of the deliveries answered 202 (stored as a job)
	done     int             // their jobs done
	start    time.Time
	finished time.Time // when the last of them was seen done
	err      error
}

func (d deliveryRun) jobsPerSecond() float64 {
	return float64(d.done) / d.finished.Sub(d.start).Seconds()
}

// deliveries sends n deliveries numbered from first: the i-th at start +
// at(i), or with at nil as fast as 16 senders go; then waits (up to 60 s)
// until serve has done the jobs of those it accepted.
func (s *suite) deliveries(ctx context.Context, srv *loadrun.Server, client *http.Client, secret string, first, n int, at func(i int) time.Duration) deliveryRun {
	metrics := &http.Client{Timeout: 5 * time.Second}
	doneBefore, err := metric(metrics, srv, "clustro_jobs_total", `kind="github_event"`, `outcome="done"`)
	if err != nil {
		return deliveryRun{err: err}
	}
	took := make([]time.Duration, n)
	status := make([]int, n)
	run := deliveryRun{start: time.Now()}
	var wg sync.WaitGroup
	if at == nil {
		next := make(chan int)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					took[i], status[i] = deliver(ctx, client, srv.URL, secret, first+i)
				}
			}()
		}
		for i := range n {
			if ctx.Err() != nil {
				break
			}
			next <- i
		}
		close(next)
	} else {
		for i := range n {
			if d := time.Until(run.start.Add(at(i))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				took[i], status[i] = deliver(ctx, client, srv.URL, secret, first+i)
			}()
		}
	}
	wg.Wait()
	for i := range n {
		if status[i] == http.StatusAccepted {
			run.acked = append(run.acked, took[i])
		}
	}
	var done float64
	run.finished = run.start
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if v, err := metric(metrics, srv, "clustro_jobs_total", `kind="github_event"`, `outcome="done"`); err == nil && v > done {
			done, run.finished = v, time.Now()
		}
		if int(done-doneBefore) >= len(run.acked) {
			break
		}
		time.Sleep(250 * time.Millisecond) // each scrape counts the queue (Stats): not too often
	}
	run.done = int(done - doneBefore)
	return run
}

// deliver sends delivery i, a pull_request synchronize for a pull request
// ClustroPG did not open, signed as GitHub signs it, and times the answer.
func deliver(ctx context.Context, client *http.Client, base, secret string, i int) (time.Duration, int) {
	body := fmt.Appendf(nil, `{"action":"synchronize","number":%[1]d,"pull_request":{"number":%[1]d,"state":"open",`+
		`"head":{"ref":"feature/load-%[1]d","sha":"%040[1]x","repo":{"full_name":%[2]q}},"base":{"ref":"main","sha":"%040[3]x"}},`+
		`"repository":{"full_name":%[2]q},"sender":{"login":"clustro-load"}}`, 100000+i, webhookRepo, 1)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		return 0, 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("clustro-load-%d-%d", time.Now().UnixNano(), i))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode
}
