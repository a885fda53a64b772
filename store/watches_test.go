package store

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/request"
)

var ordersKey = DatabaseKey{Environment: "dev", Team: "payments", Name: "orders"}

// healthy is the health of a cluster of instances with primary p.
func healthy(p string, since time.Time) *request.Health {
	return &request.Health{Found: true, Phase: request.HealthyPhase, Ready: true, Instances: 2, ReadyInstances: 2, Primary: p, Since: since}
}

// put records w (its Key included) with jobs, failing the test on error.
func put(t *testing.T, s Store, w Watch, jobs ...NewJob) Watch {
	t.Helper()
	got, err := s.UpdateWatch(t.Context(), w.Key, func(cur *Watch) (bool, []NewJob, error) {
		*cur = w
		return true, jobs, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWatchRoundTrip(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))

		if _, err := s.GetWatch(ctx, ordersKey); !errors.Is(err, ErrNotFound) {
			t.Errorf("get before any write: %v, want ErrNotFound", err)
		}
		for _, k := range []DatabaseKey{{}, {Environment: "dev", Team: "payments"}, {Team: "payments", Name: "orders"}} {
			if _, err := s.GetWatch(ctx, k); err == nil || !strings.Contains(err.Error(), "watch key needs") {
				t.Errorf("get %+v: %v, want an error about the key", k, err)
			}
			if _, err := s.UpdateWatch(ctx, k, func(*Watch) (bool, []NewJob, error) { return true, nil, nil }); err == nil || !strings.Contains(err.Error(), "watch key needs") {
				t.Errorf("update %+v: %v, want an error about the key", k, err)
			}
		}

		at := clk.Now().Add(-time.Hour)
		unwell := &request.Health{Found: true, Phase: "Failing over", Reason: "primary lost", ReadyReason: "not all instances ready",
			Instances: 3, ReadyInstances: 1, Primary: "orders-2", Since: at}
		w := Watch{
			Key:       ordersKey,
			RequestID: "r1",
			Health:    unwell,
			Drift: &request.Drift{Detected: at, Checked: at.Add(time.Minute), Commit: "abc123", Summary: "0 to add, 1 to change, 0 to destroy",
				Resources: []string{"update module.database.kubectl_manifest.cluster"}, Fingerprint: "f00d"},
			Reconcile: &request.Reconcile{ID: "rc1", State: request.ReconcilePlanned, Requester: request.Requester{ID: "U1", Name: "Ada"},
				Origin: request.Origin{Kind: request.OriginSlack, SlackChannel: "C1", SlackThread: "171.1"}, Confirmer: &request.Requester{ID: "U2", Name: "Bo"},
				Commit: "abc123", Summary: "0 to add, 1 to change", Resources: []string{"a", "b"}, Fingerprint: "f00d", Requested: at, Updated: at},
		}
		got := put(t, s, w)
		want := w
		want.UpdatedAt = clk.Now()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("update returned\n%+v\nwant\n%+v", got, want)
		}
		if got, err := s.GetWatch(ctx, ordersKey); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("get: %+v, %v\nwant %+v", got, err, want)
		}
		if c, err := s.CountWatches(ctx); err != nil || c != (WatchCounts{Watched: 1, Unhealthy: 1, Drifted: 1}) {
			t.Errorf("count: %+v, %v", c, err)
		}

		// A later write replaces every field; nil clears.
		clk.Advance(time.Minute)
		w2 := Watch{Key: ordersKey, RequestID: "r2", Health: healthy("orders-1", clk.Now())}
		got = put(t, s, w2)
		want = w2
		want.UpdatedAt = clk.Now()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("second update returned %+v, want %+v", got, want)
		}
		if got, err := s.GetWatch(ctx, ordersKey); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("get after the second update: %+v, %v\nwant %+v", got, err, want)
		}
		if c, err := s.CountWatches(ctx); err != nil || c != (WatchCounts{Watched: 1}) {
			t.Errorf("count after the second update: %+v, %v", c, err)
		}

		// fn sees the record as stored, and a write=false changes nothing
		// even when fn changed its copy.
		clk.Advance(time.Minute)
		got, err := s.UpdateWatch(ctx, ordersKey, func(cur *Watch) (bool, []NewJob, error) {
			if !reflect.DeepEqual(*cur, want) {
				t.Errorf("fn was given %+v, want %+v", *cur, want)
			}
			cur.Health.Primary = "changed"
			cur.RequestID = "changed"
			return false, nil, nil
		})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("update without a write: %+v, %v; want %+v", got, err, want)
		}
		if got, err := s.GetWatch(ctx, ordersKey); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("get after an update without a write: %+v, %v\nwant %+v", got, err, want)
		}
	})
}

func TestWatchNoWriteNoRow(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		notice := NewJob{Kind: "notice", Payload: []byte(`{"kind":"unhealthy"}`)}

		// No write: no row, no job, and fn was given the key alone.
		got, err := s.UpdateWatch(ctx, ordersKey, func(cur *Watch) (bool, []NewJob, error) {
			if !reflect.DeepEqual(*cur, Watch{Key: ordersKey}) {
				t.Errorf("fn was given %+v, want the key alone", *cur)
			}
			cur.RequestID = "r1"
			return false, []NewJob{notice}, nil
		})
		if err != nil || !reflect.DeepEqual(got, Watch{Key: ordersKey}) {
			t.Errorf("update without a write: %+v, %v", got, err)
		}

		// An error of fn: nothing written, nothing enqueued, the error
		// returned.
		boom := errors.New("boom")
		_, err = s.UpdateWatch(ctx, ordersKey, func(cur *Watch) (bool, []NewJob, error) {
			cur.RequestID = "r1"
			return true, []NewJob{notice}, boom
		})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "update watch dev/payments/orders") {
			t.Errorf("update failing in fn: %v, want boom wrapped", err)
		}

		// A job that cannot be enqueued rolls the write back.
		_, err = s.UpdateWatch(ctx, ordersKey, func(cur *Watch) (bool, []NewJob, error) {
			cur.RequestID = "r1"
			return true, []NewJob{notice, {}}, nil
		})
		if err == nil {
			t.Error("update with a job of no kind: no error")
		}

		if _, err := s.GetWatch(ctx, ordersKey); !errors.Is(err, ErrNotFound) {
			t.Errorf("get: %v, want ErrNotFound", err)
		}
		if c, err := s.CountWatches(ctx); err != nil || c != (WatchCounts{}) {
			t.Errorf("count: %+v, %v; want none", c, err)
		}
		if jobs, err := s.ListJobs(ctx, JobFilter{}); err != nil || len(jobs) != 0 {
			t.Errorf("jobs: %+v, %v; want none", jobs, err)
		}

		// A write enqueues its jobs with it, the record's request filled in.
		put(t, s, Watch{Key: ordersKey, RequestID: "r1"}, notice, NewJob{Kind: "notice", RequestID: "other"})
		jobs, err := s.ListJobs(ctx, JobFilter{Kind: "notice"})
		if err != nil {
			t.Fatal(err)
		}
		payloads := map[string]string{} // by request; the two were enqueued at one instant, in no order
		for _, j := range jobs {
			payloads[j.RequestID] = string(j.Payload)
		}
		if want := map[string]string{"r1": string(notice.Payload), "other": ""}; len(jobs) != 2 || !reflect.DeepEqual(payloads, want) {
			t.Errorf("jobs of a write: %+v, want payloads by request %v", jobs, want)
		}
	})
}

func TestListWatches(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		drift := &request.Drift{Summary: "1 to change", Fingerprint: "f"}
		gone := &request.Health{Found: false}
		type rec struct {
			key               DatabaseKey
			unhealthy, drifts bool
		}
		var all []rec
		// Written out of key order, 3 envs × 2 teams × 4 names.
		for _, env := range []string{"prod", "dev", "staging"} {
			for _, team := range []string{"search", "payments"} {
				for i := 3; i >= 0; i-- {
					k := DatabaseKey{Environment: env, Team: team, Name: fmt.Sprintf("db%d", i)}
					w := Watch{Key: k, RequestID: "r-" + k.Name, Health: healthy("p1", time.Time{})}
					r := rec{key: k}
					switch i {
					case 0:
						w.Health = nil // not observed yet: not unhealthy
					case 1:
						w.Health, r.unhealthy = gone, true
					case 2:
						w.Drift, r.drifts = drift, true
					case 3:
						w.Health, r.unhealthy = gone, true
						w.Drift, r.drifts = drift, true
					}
					put(t, s, w)
					all = append(all, r)
				}
			}
		}
		filters := []WatchFilter{
			{},
			{Environment: "prod"},
			{Team: "payments"},
			{Environment: "staging", Team: "search"},
			{Unhealthy: true},
			{Drifted: true},
			{Unhealthy: true, Drifted: true},
			{Environment: "dev", Unhealthy: true},
			{Environment: "nowhere"},
		}
		for _, f := range filters {
			var want []DatabaseKey
			for _, r := range all {
				if (f.Environment == "" || f.Environment == r.key.Environment) && (f.Team == "" || f.Team == r.key.Team) &&
					(!f.Unhealthy || r.unhealthy) && (!f.Drifted || r.drifts) {
					want = append(want, r.key)
				}
			}
			slices.SortFunc(want, func(a, b DatabaseKey) int {
				return cmp.Or(cmp.Compare(a.Environment, b.Environment), cmp.Compare(a.Team, b.Team), cmp.Compare(a.Name, b.Name))
			})
			for _, limit := range []int{1, 5, 100} {
				var got []DatabaseKey
				var after DatabaseKey
				for pages := 0; ; pages++ {
					page, err := s.ListWatches(ctx, f, after, limit)
					if err != nil {
						t.Fatalf("list %+v after %+v: %v", f, after, err)
					}
					if len(page) > limit {
						t.Fatalf("list %+v: %d records, limit %d", f, len(page), limit)
					}
					for _, w := range page {
						got = append(got, w.Key)
						if w.RequestID != "r-"+w.Key.Name {
							t.Errorf("list %+v: record %+v", f, w)
						}
					}
					if len(page) < limit || pages > len(all) {
						break
					}
					after = page[len(page)-1].Key
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("list %+v by %d:\n got %v\nwant %v", f, limit, got, want)
				}
			}
		}
		for _, limit := range []int{0, -1} {
			if _, err := s.ListWatches(ctx, WatchFilter{}, DatabaseKey{}, limit); err == nil || !strings.Contains(err.Error(), "limit") {
				t.Errorf("list with limit %d: %v, want an error naming the limit", limit, err)
			}
		}
		if c, err := s.CountWatches(ctx); err != nil || c != (WatchCounts{Watched: 24, Unhealthy: 12, Drifted: 12}) {
			t.Errorf("count: %+v, %v", c, err)
		}
	})
}

// TestWatchReplicas has two replicas record the same observations of one
// cluster, each at its own pace, each enqueueing a notice when the
// observation it brings is newer than, and differs from, the one
// recorded: every change is told exactly once.
func TestWatchReplicas(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		dsn := b.newDSN(t)
		// Two handles on one database, as two replicas (on SQLite, two
		// writers of one file).
		replicas := []Store{openDSN(t, dsn), openDSN(t, dsn)}
		const steps, per = 50, 5 // a new primary every 5 observations: 10 changes
		observed := func(step int) *request.Health { return healthy(fmt.Sprintf("p%02d", step/per), time.Time{}) }

		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, len(replicas))
		for _, s := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for step := range steps {
					h := observed(step)
					_, err := s.UpdateWatch(ctx, ordersKey, func(w *Watch) (bool, []NewJob, error) {
						if w.Health != nil && (w.Health.Same(*h) || w.Health.Primary > h.Primary) {
							return false, nil, nil // told already, or older than what is recorded
						}
						from := "none"
						if w.Health != nil {
							from = w.Health.Primary
						}
						w.RequestID, w.Health = "r1", h
						return true, []NewJob{{Kind: "notice", Payload: []byte(from + "->" + h.Primary)}}, nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		jobs, err := replicas[0].ListJobs(ctx, JobFilter{Kind: "notice"})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, j := range jobs {
			got = append(got, string(j.Payload))
		}
		from := "none"
		for step := 0; step < steps; step += per {
			to := observed(step).Primary
			want = append(want, from+"->"+to)
			from = to
		}
		slices.Sort(got) // the clock stands still: their order is their ids'
		slices.Sort(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("notices:\n got %v\nwant %v (each once)", got, want)
		}
		if w, err := replicas[1].GetWatch(ctx, ordersKey); err != nil || w.Health.Primary != from {
			t.Errorf("record after the replicas: %+v, %v; want primary %s", w, err, from)
		}
	})
}

// TestListWatchesPlan checks that with 5,000 records, a few of them
// unhealthy or drifted, ListWatches with either filter walks the partial
// index of those few in key order, not the table.
func TestListWatchesPlan(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t).(*sqlStore)
		ctx := t.Context()
		var err error
		if s.dialect == postgresDialect {
			_, err = s.w.ExecContext(ctx, `INSERT INTO watches (env, team, name, request_id, unhealthy, drifted, updated_at)
				SELECT 'dev', 'team', 'db' || lpad(i::text, 4, '0'), 'r' || i, i % 500 = 0, i % 500 = 1, now()
				FROM generate_series(1, 5000) AS i`)
			if err == nil {
				_, err = s.w.ExecContext(ctx, "ANALYZE watches") // as autovacuum would
			}
		} else {
			_, err = s.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
				INSERT INTO watches (env, team, name, request_id, unhealthy, drifted, updated_at)
				SELECT 'dev', 'team', printf('db%04d', i), 'r' || i, i % 500 = 0, i % 500 = 1, 0 FROM n`)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			f     WatchFilter
			index string
			want  int
		}{
			{WatchFilter{Unhealthy: true}, "watches_unhealthy", 10},
			{WatchFilter{Drifted: true, Environment: "dev"}, "watches_drifted", 10},
			{WatchFilter{Unhealthy: true, Drifted: true, Environment: "dev", Team: "team"}, "watches_", 0},
		} {
			query, args := s.listWatchesQuery(c.f, DatabaseKey{}, 20)
			plan := strings.Join(explain(t, s, query, args), "\n")
			t.Logf("%s %+v:\n%s", b.name, c.f, plan)
			if !strings.Contains(plan, c.index) || strings.Contains(plan, "Sort") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%+v does not walk %s in key order:\n%s", c.f, c.index, plan)
			}
			page, err := s.ListWatches(ctx, c.f, DatabaseKey{}, 20)
			if err != nil || len(page) != c.want {
				t.Errorf("list %+v: %d records, %v; want %d", c.f, len(page), err, c.want)
			}
		}
	})
}
