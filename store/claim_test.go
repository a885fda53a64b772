package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fillQueue adds n due queued jobs of kind, older than anything enqueued
// after, spread over 100 workspaces, in one statement, and refreshes the
// planner's statistics.
func fillQueue(t testing.TB, s Store, n int, kind string, now time.Time) {
	t.Helper()
	fillQueueAs(t, s, "bulk", n, kind, now)
}

// fillQueueAs is fillQueue with the ids' prefix given.
func fillQueueAs(t testing.TB, s Store, prefix string, n int, kind string, now time.Time) {
	t.Helper()
	ss := s.(*sqlStore)
	ctx := context.Background()
	base := now.Add(-time.Hour)
	var err error
	if ss.dialect == postgresDialect {
		_, err = ss.w.ExecContext(ctx, `INSERT INTO jobs
			(id, kind, request_id, workspace, state, attempts, max_attempts, run_at, created_at, updated_at)
			SELECT $4 || lpad(i::text, 8, '0'), $1, '', 'dev/bulk/db' || (i % 100), 'queued', 0, 5,
				$2::timestamptz + i * interval '1 microsecond', $2, $2
			FROM generate_series(1, $3) AS i`, kind, base, n, prefix)
	} else {
		_, err = ss.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO jobs (id, kind, request_id, workspace, state, attempts, max_attempts, run_at, created_at, updated_at)
			SELECT printf('%s%08d', ?, i), ?, '', 'dev/bulk/db' || (i % 100), 'queued', 0, 5, ? + i, ?, ? FROM n`,
			n, prefix, kind, base.UnixMicro(), base.UnixMicro(), base.UnixMicro())
	}
	if err != nil {
		t.Fatalf("fill the queue with %d jobs: %v", n, err)
	}
	// PostgreSQL's autovacuum analyzes a table that grew like this one;
	// SQLite never does (clustro runs no ANALYZE), so its plans must hold
	// with the planner's defaults.
	if ss.dialect == postgresDialect {
		if _, err := ss.w.ExecContext(ctx, "ANALYZE jobs"); err != nil {
			t.Fatal(err)
		}
	}
}

// explain is the plan the backend chooses for query, one line per step.
func explain(t *testing.T, s *sqlStore, query string, args []any) []string {
	t.Helper()
	var lines []string
	if s.dialect == postgresDialect {
		rows, err := s.w.QueryContext(t.Context(), "EXPLAIN "+query, args...)
		if err != nil {
			t.Fatalf("explain %s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return lines
	}
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestClaimPlan checks that with 15,000 jobs queued the backend finds the
// next job through Claim's indexes: no step reads the table or an index
// from end to end, and the queued jobs are read in the order Claim takes
// them (no sort of every due job).
func TestClaimPlan(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := b.open(t, WithClock(clk.Now)).(*sqlStore)
		fillQueue(t, s, 15000, "plan", clk.Now())
		// A backlog not yet due (jobs deferred to GitHub's reset, say), of
		// a kind the workers take: kind alone must not lead the planner
		// to read every one of them.
		fillQueueAs(t, s, "later", 15000, "github_event", clk.Now().Add(24*time.Hour))
		kinds := []string{"notify", "open_pr", "github_event", "plan", "apply", "wait_ready", "selftest"} // as serve registers them
		for _, busy := range [][]string{nil, {"dev/bulk/db1"}} {
			for _, cq := range s.claimQueries(s.now(), kinds, busy) {
				plan := explain(t, s, cq.query, cq.args)
				t.Logf("%s %s (busy %v):\n  %s", b.name, cq.name, busy, strings.Join(plan, "\n  "))
				for _, line := range plan {
					step := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->"))
					if strings.HasPrefix(step, "SCAN ") || strings.Contains(step, "Seq Scan") {
						t.Errorf("%s: the plan reads every row: %q", cq.name, line)
					}
					if cq.name == "queued" && (strings.Contains(step, "TEMP B-TREE") || strings.HasPrefix(step, "Sort") || strings.HasPrefix(step, "Incremental Sort")) {
						t.Errorf("%s: the plan sorts the due jobs: %q", cq.name, line)
					}
				}
				// The expired lookup may take either index of running jobs.
				uses := map[string]string{"queued": "jobs_queued", "expired": "jobs_running"}[cq.name]
				if !strings.Contains(strings.Join(plan, "\n"), uses) && !strings.Contains(strings.Join(plan, "\n"), "jobs_workspace_running on jobs j") {
					t.Errorf("%s: the plan does not use %s", cq.name, uses)
				}
			}
		}
	})
}

// BenchmarkClaim claims and completes a job while the queue holds none
// (empty) or 15,000 due jobs (15000): each iteration enqueues one, so the
// depth stays put. Both should cost about the same.
func BenchmarkClaim(b *testing.B) {
	for _, be := range backends {
		for _, depth := range []int{0, 15000} {
			name := "empty"
			if depth > 0 {
				name = fmt.Sprint(depth)
			}
			b.Run(name+"/"+be.name, func(b *testing.B) {
				ctx := b.Context()
				clk := newClock()
				s := be.open(b, WithClock(clk.Now))
				if depth > 0 {
					fillQueue(b, s, depth, "bench", clk.Now())
				}
				for b.Loop() {
					if _, _, err := s.Enqueue(ctx, NewJob{Kind: "bench", Workspace: "dev/bench/db"}); err != nil {
						b.Fatal(err)
					}
					job, ok, err := s.Claim(ctx, "w1", time.Minute, "bench")
					if err != nil || !ok {
						b.Fatalf("claim: ok %v, %v", ok, err)
					}
					if err := s.Complete(ctx, job.ID, "w1", nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
			})
		}
	}
}

// TestRequestsByNamePlan: the requests of one name (the Slack bot's
// `/pg status <name>`) are read through an index, not a scan of every
// request, with 5,000 requests stored.
func TestRequestsByNamePlan(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t).(*sqlStore)
		ctx := t.Context()
		var err error
		if s.dialect == postgresDialect {
			_, err = s.w.ExecContext(ctx, `INSERT INTO requests (id, env, team, name, identity, kind, state, requester_id, request, version, created_at, updated_at)
				SELECT 'r' || i, 'dev', 'team', 'db' || lpad(i::text, 4, '0'), '', 'create', 'ready', 'U1', '{}', 1, now(), now()
				FROM generate_series(1, 5000) AS i`)
			if err == nil {
				_, err = s.w.ExecContext(ctx, "ANALYZE requests") // as autovacuum would
			}
		} else {
			_, err = s.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
				INSERT INTO requests (id, env, team, name, identity, kind, state, requester_id, request, version, created_at, updated_at)
				SELECT 'r' || i, 'dev', 'team', printf('db%04d', i), '', 'create', 'ready', 'U1', '{}', 1, 0, 0 FROM n`)
		}
		if err != nil {
			t.Fatal(err)
		}
		query := s.q("SELECT " + recordColumns + " FROM requests WHERE name = ? ORDER BY created_at DESC, id DESC")
		plan := strings.Join(explain(t, s, query, []any{"db0007"}), "\n")
		t.Logf("%s:\n%s", b.name, plan)
		if strings.Contains(plan, "SCAN requests") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("the requests of one name are read by a scan:\n%s", plan)
		}
		recs, err := s.ListRequests(ctx, Filter{Name: "db0007"})
		if err != nil || len(recs) != 1 {
			t.Errorf("by name: %d records, %v", len(recs), err)
		}
	})
}
