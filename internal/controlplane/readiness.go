package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// waitHealthy polls probe with a growing interval until it succeeds, the
// process exits, timeout passes or ctx ends.
func waitHealthy(ctx context.Context, p *process, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := 50 * time.Millisecond
	var lastErr error
	for {
		probeCtx, cancelProbe := context.WithTimeout(ctx, 5*time.Second)
		lastErr = probe(probeCtx)
		cancelProbe()
		if lastErr == nil {
			return nil
		}
		timer := time.NewTimer(interval)
		select {
		case <-p.done:
			timer.Stop()
			return p.exitError()
		case <-ctx.Done():
			timer.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s: %v", p.name, timeout, lastErr)
			}
			return fmt.Errorf("%s: waiting for readiness: %w (last probe: %v)", p.name, ctx.Err(), lastErr)
		case <-timer.C:
		}
		interval = min(interval*3/2, time.Second)
	}
}

// getOK GETs url and wants status 200 with want in the body.
func getOK(ctx context.Context, client *http.Client, url, want string) error {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, failedChecks(string(body)))
	}
	return nil
}

// failedChecks shortens a /readyz answer to the checks that failed.
func failedChecks(body string) string {
	var failed []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "[-]") {
			failed = append(failed, strings.TrimPrefix(line, "[-]"))
		}
	}
	if len(failed) == 0 {
		return strings.TrimSpace(body)
	}
	return "failing checks: " + strings.Join(failed, "; ")
}
