package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
)

// apiScenario times pages of the REST API's lists (limit=100) on stores of
// each size: one serve per size, every page in turn from the first (so
// the pages of 10,000 databases are read from all along the list), the
// same number of samples for each.
func (s *suite) apiScenario(ctx context.Context) measure {
	dirs := make([]string, len(s.o.apiSizes))
	errs := make([]error, len(s.o.apiSizes))
	for i, n := range s.o.apiSizes {
		dirs[i], errs[i] = s.apiSeed(ctx, n)
	}
	return func(ctx context.Context) []row {
		var rows []row
		for i, n := range s.o.apiSizes {
			rows = append(rows, s.apiPages(ctx, n, dirs[i], errs[i])...)
		}
		return rows
	}
}

// apiSeed stores n ready databases in a new directory's store.
func (s *suite) apiSeed(ctx context.Context, n int) (string, error) {
	dir, err := s.scratch(fmt.Sprintf("api-%d", n))
	if err != nil {
		return "", err
	}
	began := time.Now()
	if err := seedReady(ctx, loadrun.StorePath(dir), n); err != nil {
		return "", err
	}
	s.logf("api: seeded %d ready databases in %s", n, time.Since(began).Round(time.Millisecond))
	return dir, nil
}

func (s *suite) apiPages(ctx context.Context, n int, dir string, seedErr error) []row {
	paths := []string{"/api/v1/databases", "/api/v1/catalog/entities"}
	names := func(err error) []row {
		var rows []row
		for _, p := range paths {
			rows = append(rows, failed(fmt.Sprintf("GET %s, %d databases", p, n), err))
		}
		return rows
	}
	if seedErr != nil {
		return names(seedErr)
	}
	token := randomHex(16)
	srv, err := loadrun.Start(ctx, s.o.clustro, dir, "CLUSTRO_API_TOKENS=load:read:"+token)
	if err != nil {
		return names(err)
	}
	defer srv.Stop()
	client := &http.Client{Timeout: 10 * time.Second}
	var rows []row
	for _, p := range paths {
		r := row{name: fmt.Sprintf("GET %s?limit=100, %d databases", p, n)}
		var took []time.Duration
		ok, items := 0, 0
		next := ""
		for range s.o.apiSamples {
			if ctx.Err() != nil {
				break
			}
			url := srv.URL + p + "?limit=100"
			if next != "" {
				url = next
			}
			d, page, err := getPage(ctx, client, url, token)
			if err != nil {
				r.note = err.Error()
				next = ""
				continue
			}
			took = append(took, d)
			ok++
			items += page.items
			next = page.next
			if next != "" && next[0] == '/' {
				next = srv.URL + next
			}
		}
		r.latencies(took)
		r.delivered = fmt.Sprintf("%d/%d pages", ok, s.o.apiSamples)
		if r.note == "" && ok > 0 {
			r.note = fmt.Sprintf("%.0f items a page", float64(items)/float64(ok))
		}
		r.rss = rss(srv)
		rows = append(rows, r)
		s.logf("api: %s: p50 %s p99 %s", r.name, r.p50, r.p99)
	}
	return rows
}

// page is what clustro-load reads of a list's page.
type page struct {
	items int
	next  string
}

// getPage reads one page and times it, body included.
func getPage(ctx context.Context, client *http.Client, url, token string) (time.Duration, page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, page{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, page{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, page{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, page{}, fmt.Errorf("%s: %s", resp.Status, truncate(string(body), 200))
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
		Next  string            `json:"next"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return 0, page{}, fmt.Errorf("the page is not a list: %w", err)
	}
	return took, page{items: len(list.Items), next: list.Next}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
