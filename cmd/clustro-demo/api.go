package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// dbView is the part of GET /api/v1/databases/{env}/{team}/{name} the demo reads.
type dbView struct {
	State       string `json:"state"`
	PullRequest *struct {
		Number int    `json:"number"`
		URL    string `json:"url"`
	} `json:"pullRequest"`
	PlanSummary string `json:"planSummary"`
	Failure     *struct {
		Step   string `json:"step"`
		Reason string `json:"reason"`
	} `json:"failure"`
	Grafana string `json:"grafana"`
}

// database reads a database of the demo (in demoEnv, of demoTeam) through
// clustro's REST API, as Backstage would: the zero dbView while there is
// none, and an error once the request failed.
func (d *demo) database(ctx context.Context, name string) (dbView, error) {
	var v dbView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url+"/api/v1/databases/"+demoEnv+"/"+demoTeam+"/"+name, nil)
	if err != nil {
		return v, err
	}
	req.Header.Set("Authorization", "Bearer "+d.state.APIToken)
	resp, err := d.http.Do(req)
	if err != nil {
		return v, fmt.Errorf("read the request through the API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return v, nil
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return v, fmt.Errorf("GET the database through the API: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("read the database through the API: %w", err)
	}
	if v.State == "failed" && v.Failure != nil {
		return v, fmt.Errorf("the request failed while %s: %s", v.Failure.Step, v.Failure.Reason)
	}
	return v, nil
}
