package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/request"
)

// TestListDatabases pages through databases with every kind of history
// and checks each page against Summarize over all the requests (the
// reading ListDatabases must give without reading them all).
func TestListDatabases(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		create := func(env, team, name string, kind request.Kind) Record {
			clk.Advance(time.Second)
			r := dbRequest(env, team, name, "U1")
			r.Kind = kind
			return mustCreate(t, s, r)
		}
		move := func(rec Record, to ...request.State) {
			clk.Advance(time.Second)
			mustTransition(t, s, rec.ID(), to...)
		}
		fail := func(rec Record, retryable bool) {
			clk.Advance(time.Second)
			if _, err := s.Transition(ctx, rec.ID(), request.Failed, request.Event{Actor: "clustro", Origin: "engine"},
				WithFailure(request.Failure{Step: string(request.Submitted), Reason: "boom", Retryable: retryable})); err != nil {
				t.Fatal(err)
			}
		}
		toReady := []request.State{request.PROpen, request.Merged, request.Applying, request.Provisioning, request.Ready}
		toDeleted := []request.State{request.PROpen, request.Merged, request.Deleting, request.Deleted}

		move(create("dev", "payments", "ready", request.Create), toReady...)
		move(create("dev", "payments", "cancelled", request.Create), request.Cancelled)
		gone := create("dev", "search", "deleted", request.Create)
		move(gone, toReady...)
		move(create("dev", "search", "deleted", request.Destroy), toDeleted...)
		fail(create("prod", "payments", "failed-final", request.Create), false)
		fail(create("prod", "payments", "failed-retry", request.Create), true)
		move(create("prod", "search", "resizing", request.Create), toReady...)
		move(create("prod", "search", "resizing", request.Resize), request.PROpen)
		again := create("prod", "search", "again", request.Create)
		move(again, toReady...)
		move(create("prod", "search", "again", request.Destroy), toDeleted...)
		create("prod", "search", "again", request.Create)
		move(create("stage", "payments", "resize-cancelled", request.Create), toReady...)
		move(create("stage", "payments", "resize-cancelled", request.Resize), request.Cancelled)
		fail(create("stage", "payments", "resize-failed", request.Create), false)
		create("stage", "payments", "resize-failed", request.Create)

		all, err := s.ListRequests(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		filters := []DatabaseFilter{
			{},
			{Existing: true},
			{Live: true},
			{Existing: true, Live: true},
			{Environment: "prod"},
			{Team: "payments", Existing: true},
			{States: []request.State{request.Ready, request.PROpen}},
			{States: []request.State{request.Cancelled}, Live: true},
			{Environment: "nowhere"},
		}
		// The rows the store keeps as it writes, then the rows migration
		// 0004 makes from the requests (a database stored before it).
		for _, phase := range []string{"kept", "backfilled"} {
			if phase == "backfilled" {
				ss := s.(*sqlStore)
				if _, err := ss.w.ExecContext(ctx, "DELETE FROM databases"); err != nil {
					t.Fatal(err)
				}
				if _, err := ss.w.ExecContext(ctx, backfill(t, ss)); err != nil {
					t.Fatal(err)
				}
			}
			checkPages(t, s, all, filters, phase)
		}

		if _, err := s.ListDatabases(ctx, DatabaseFilter{}, DatabaseKey{}, 0); err == nil {
			t.Error("limit 0 was taken")
		}
	})
}

// checkPages walks the pages of each filter with several limits and
// compares them with what Summarize reads from all the requests.
func checkPages(t *testing.T, s Store, all []Record, filters []DatabaseFilter, phase string) {
	t.Helper()
	ctx := t.Context()
	for _, f := range filters {
		want := expectedDatabases(all, f)
		for _, limit := range []int{1, 2, 3, 100} {
			var (
				got   []DatabaseEntry
				after DatabaseKey
			)
			for pages := 0; ; pages++ {
				page, err := s.ListDatabases(ctx, f, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("%+v: a page of %d with limit %d", f, len(page), limit)
				}
				if len(page) < limit && len(want)-len(got) >= limit {
					t.Errorf("%+v, limit %d: a page of %d while %d more match", f, limit, len(page), len(want)-len(got))
				}
				got = append(got, page...)
				if len(page) == 0 || pages > len(want) {
					break
				}
				after = page[len(page)-1].Key
			}
			if g, w := describe(got), describe(want); !slices.Equal(g, w) {
				t.Errorf("%s rows, %+v, limit %d:\n got %v\nwant %v", phase, f, limit, g, w)
			}
		}
	}
}

// expectedDatabases is what ListDatabases must return for f, read from
// every request (newest first) with Summarize.
func expectedDatabases(all []Record, f DatabaseFilter) []DatabaseEntry {
	byKey := map[DatabaseKey][]Record{}
	var keys []DatabaseKey
	for _, rec := range all {
		k := keyOf(rec)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], rec)
	}
	slices.SortFunc(keys, func(a, b DatabaseKey) int {
		return cmpStrings(a.Environment+"\x00"+a.Team+"\x00"+a.Name, b.Environment+"\x00"+b.Team+"\x00"+b.Name)
	})
	var out []DatabaseEntry
	for _, k := range keys {
		e := DatabaseEntry{Key: k, Newest: byKey[k][0], Database: Summarize(byKey[k])}
		switch {
		case f.Environment != "" && k.Environment != f.Environment,
			f.Team != "" && k.Team != f.Team,
			len(f.States) > 0 && !slices.Contains(f.States, e.Newest.State),
			f.Existing && !e.Exists(),
			f.Live && e.Live == nil:
			continue
		}
		out = append(out, e)
	}
	return out
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// describe says of each entry what a caller reads: key, newest, latest
// and live requests.
func describe(es []DatabaseEntry) []string {
	id := func(r *Record) string {
		if r == nil {
			return "-"
		}
		return r.ID()
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s/%s/%s newest=%s(%s) latest=%s live=%s", e.Key.Environment, e.Key.Team, e.Key.Name,
			e.Newest.ID(), e.Newest.State, id(e.Latest), id(e.Live))
	}
	return out
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		rec := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
		mustTransition(t, s, rec.ID(), request.PROpen, request.Planned, request.Planned, request.Merged)
		all, err := s.Events(ctx, rec.ID())
		if err != nil {
			t.Fatal(err)
		}
		var (
			got   []request.Event
			after int64
		)
		for {
			page, err := s.ListEvents(ctx, rec.ID(), after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if e.Seq <= after {
					t.Errorf("event %d after %d", e.Seq, after)
				}
				got = append(got, e.Event)
				after = e.Seq
			}
		}
		if len(got) != 5 || !slices.EqualFunc(got, all, func(a, b request.Event) bool { return a.To == b.To && a.At.Equal(b.At) }) {
			t.Errorf("paged events %+v, want %+v", got, all)
		}
		if _, err := s.ListEvents(ctx, "nope", 0, 10); !isNotFound(err) {
			t.Errorf("events of an unknown request: %v, want ErrNotFound", err)
		}
	})
}

func isNotFound(err error) bool { return is(ErrNotFound)(err) }

// seedDatabases stores n ready databases (dev/team-NN/db-NNNNN), every
// seventh with a resize in pr_open after it, in one transaction (the page
// of 10 a benchmark reads holds one or two of those, whatever n).
func seedDatabases(t testing.TB, s Store, n int) {
	t.Helper()
	ss := s.(*sqlStore)
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	err := ss.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, ss.q(`INSERT INTO requests
			(id, env, team, name, kind, state, requester_id, request, version, created_at, updated_at, identity)
			VALUES (?, ?, ?, ?, ?, ?, 'U1', ?, 1, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		seq := 0
		add := func(r request.DatabaseRequest, state request.State) error {
			seq++
			r.ID = fmt.Sprintf("seed%08d", seq)
			at := now.Add(time.Duration(seq) * time.Microsecond)
			doc, err := json.Marshal(r)
			if err != nil {
				return err
			}
			_, err = stmt.ExecContext(ctx, r.ID, r.Environment, r.Team, r.Name, string(r.Kind), string(state), string(doc),
				ss.ts(at), ss.ts(at), r.Name+"."+r.Team+"."+r.Environment)
			return err
		}
		for i := range n {
			r := dbRequest("dev", fmt.Sprintf("team-%02d", i%50), fmt.Sprintf("db-%05d", i), "U1")
			if err := add(r, request.Ready); err != nil {
				return err
			}
			if i%7 == 0 {
				r.Kind = request.Resize
				if err := add(r, request.PROpen); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed %d databases: %v", n, err)
	}
	// The requests went around the store: the migration's backfill makes
	// their databases' rows.
	if _, err := ss.w.ExecContext(ctx, backfill(t, ss)); err != nil {
		t.Fatalf("backfill %d databases: %v", n, err)
	}
	if _, err := ss.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}

// backfill is the statement of migration 0004 that fills the databases
// table from the requests.
func backfill(t testing.TB, s *sqlStore) string {
	t.Helper()
	ms, err := loadMigrations(s.dialect)
	if err != nil || len(ms) < 4 {
		t.Fatalf("migrations: %d, %v", len(ms), err)
	}
	_, stmt, ok := strings.Cut(ms[3].sql, "INSERT INTO databases")
	if !ok {
		t.Fatalf("%s has no backfill", ms[3].name)
	}
	return "INSERT INTO databases" + stmt
}

// BenchmarkListDatabases reads one page of databases that exist (the
// API's default listing) when 10 or 10,000 are stored: the page from
// the middle of 10,000 should cost about what the page of all 10 does.
func BenchmarkListDatabases(b *testing.B) {
	for _, n := range []int{10, 10000} {
		for _, be := range backends {
			for _, limit := range []int{10, 100} {
				b.Run(fmt.Sprintf("%d/%s/limit=%d", n, be.name, limit), func(b *testing.B) {
					ctx := b.Context()
					s := be.open(b)
					seedDatabases(b, s, n)
					after := DatabaseKey{}
					if n > 10 {
						after = DatabaseKey{Environment: "dev", Team: "team-25"}
					}
					for b.Loop() {
						page, err := s.ListDatabases(ctx, DatabaseFilter{Existing: true}, after, limit)
						if err != nil {
							b.Fatal(err)
						}
						if want := min(limit, n); len(page) != want {
							b.Fatalf("a page of %d, want %d", len(page), want)
						}
					}
				})
			}
		}
	}
}

// TestListDatabasesPlan checks that a page of databases is read along
// the databases table's key from the cursor, whatever the filter: no step
// reads every database, and nothing sorts them.
func TestListDatabasesPlan(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t).(*sqlStore)
		seedDatabases(t, s, 10000)
		for _, f := range []DatabaseFilter{
			{}, {Existing: true}, {Live: true}, {Team: "team-07", States: []request.State{request.Ready}},
		} {
			query, args := s.databaseKeysQuery(f, DatabaseKey{Environment: "dev", Team: "team-25"}, 101)
			plan := explain(t, s, query, args)
			t.Logf("%s %+v:\n  %s", b.name, f, strings.Join(plan, "\n  "))
			for _, line := range plan {
				step := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->"))
				if strings.HasPrefix(step, "SCAN ") || strings.Contains(step, "Seq Scan") ||
					strings.Contains(step, "TEMP B-TREE") || strings.HasPrefix(step, "Sort") {
					t.Errorf("%+v: the plan reads or sorts every request: %q", f, line)
				}
			}
		}
	})
}

// TestDatabaseRowUnderConcurrentWrites: writers of one database's
// requests at the same time leave its row as Summarize reads the requests.
func TestDatabaseRowUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("dev", "payments", "orders", "U1"),
					Event: request.Event{Actor: "U1", Origin: request.OriginSlack}})
				if err != nil {
					t.Error(err)
					return
				}
				to := []request.State{request.PROpen, request.Merged, request.Applying, request.Provisioning, request.Ready}
				if i%2 == 1 {
					to = []request.State{request.Cancelled}
				}
				for _, st := range to {
					if _, err := s.Transition(ctx, rec.ID(), st, request.Event{Actor: "clustro", Origin: "engine"}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		all, err := s.ListRequests(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		checkPages(t, s, all, []DatabaseFilter{{}, {Existing: true}, {Live: true}, {States: []request.State{request.Cancelled}}}, "concurrent")
	})
}
