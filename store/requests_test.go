package store

import (
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

func TestCreateAndGetRequest(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)

		rec := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
		if rec.ID() == "" || rec.State != request.Submitted || rec.Version != 1 || rec.Failure != nil {
			t.Fatalf("created %+v, want an id, state submitted, version 1, no failure", rec)
		}
		if rec.Request.CreatedAt.IsZero() || rec.CreatedAt.IsZero() {
			t.Errorf("created %+v without creation times", rec)
		}
		got, err := s.GetRequest(ctx, rec.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rec) {
			t.Errorf("get returned\n%+v\nwant what create returned\n%+v", got, rec)
		}

		draft, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("dev", "payments", "ledger", "U1"), State: request.Draft})
		if err != nil || draft.State != request.Draft {
			t.Errorf("create a draft: %v, state %s", err, draft.State)
		}

		for _, tc := range []struct {
			name string
			in   NewRequest
			want error // nil: any error
		}{
			{"taken id", NewRequest{Request: withID(dbRequest("dev", "x", "y", "U1"), rec.ID())}, ErrConflict},
			{"later state", NewRequest{Request: dbRequest("dev", "x", "y", "U1"), State: request.Merged}, nil},
			{"half a key", NewRequest{Request: dbRequest("dev", "x", "y", "U1"), Key: Idempotency{Scope: "api"}}, nil},
		} {
			_, _, err := s.CreateRequest(ctx, tc.in)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("%s: create returned %v, want an error (%v)", tc.name, err, tc.want)
			}
		}
		if _, err := s.GetRequest(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get unknown request: %v, want ErrNotFound", err)
		}
	})
}

func withID(r request.DatabaseRequest, id string) request.DatabaseRequest {
	r.ID = id
	return r
}

func TestListRequests(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		orders := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
		ledger := mustCreate(t, s, dbRequest("prod", "payments", "ledger", "U2"))
		search := mustCreate(t, s, dbRequest("dev", "search", "index", "U1"))
		mustTransition(t, s, ledger.ID(), request.PROpen)
		ordersResize := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U3"))

		tests := []struct {
			name   string
			filter Filter
			want   []Record // newest first
		}{
			{"all", Filter{}, []Record{ordersResize, search, ledger, orders}},
			{"environment", Filter{Environment: "prod"}, []Record{ledger}},
			{"team", Filter{Team: "payments"}, []Record{ordersResize, ledger, orders}},
			{"database", Filter{Environment: "dev", Team: "payments", Name: "orders"}, []Record{ordersResize, orders}},
			{"requester", Filter{RequesterID: "U1"}, []Record{search, orders}},
			{"state", Filter{States: []request.State{request.PROpen}}, []Record{ledger}},
			{"states", Filter{States: []request.State{request.PROpen, request.Submitted}, Team: "search"}, []Record{search}},
			{"limit", Filter{Limit: 2}, []Record{ordersResize, search}},
			{"none", Filter{Team: "nobody"}, nil},
		}
		for _, tc := range tests {
			got, err := s.ListRequests(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), ids(tc.want)) {
				t.Errorf("%s: listed %v, want %v", tc.name, ids(got), ids(tc.want))
			}
		}

		counts, err := s.CountRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[request.Submitted] != 3 || counts[request.PROpen] != 1 || len(counts) != 2 {
			t.Errorf("counts = %v, want 3 submitted and 1 pr_open", counts)
		}

		latest, err := s.LatestRequest(ctx, "dev", "payments", "orders")
		if err != nil || latest.ID() != ordersResize.ID() {
			t.Errorf("latest for dev/payments/orders: %s, %v; want %s", latest.ID(), err, ordersResize.ID())
		}
		if _, err := s.LatestRequest(ctx, "dev", "payments", "nothing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("latest for an unknown database: %v, want ErrNotFound", err)
		}
	})
}

func ids(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID())
	}
	return out
}

func TestCreateRequestIdempotent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		key := Idempotency{Scope: "slack", Key: "trigger-1"}
		in := NewRequest{
			Request: dbRequest("dev", "payments", "orders", "U1"),
			Key:     key,
			Jobs:    []NewJob{{Kind: "open-pr"}},
		}

		first, created, err := s.CreateRequest(ctx, in)
		if err != nil || !created {
			t.Fatalf("first create: created %v, %v", created, err)
		}
		mustTransition(t, s, first.ID(), request.PROpen)
		again, created, err := s.CreateRequest(ctx, in)
		if err != nil || created {
			t.Fatalf("second create: created %v, %v; want the first record", created, err)
		}
		if again.ID() != first.ID() || again.State != request.PROpen {
			t.Errorf("second create returned %s in %s, want %s as it is now (pr_open)", again.ID(), again.State, first.ID())
		}
		all, _ := s.ListRequests(ctx, Filter{})
		jobs, _ := s.ListJobs(ctx, JobFilter{RequestID: first.ID()})
		if len(all) != 1 || len(jobs) != 1 {
			t.Errorf("after a repeated create: %d requests and %d jobs, want 1 and 1", len(all), len(jobs))
		}

		// Many handlers racing on one key: one creates, all return it.
		raceKey := Idempotency{Scope: "api", Key: "race"}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners int
			got     = map[string]bool{}
		)
		for range 8 {
			wg.Go(func() {
				rec, created, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("dev", "search", "index", "U2"), Key: raceKey})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				got[rec.ID()] = true
				if created {
					winners++
				}
			})
		}
		wg.Wait()
		if winners != 1 || len(got) != 1 {
			t.Errorf("8 racing creates: %d created, %d distinct ids; want 1 and 1", winners, len(got))
		}

		// A key belongs to one operation.
		if _, _, err := s.Enqueue(ctx, NewJob{Kind: "plan", Key: key}); !errors.Is(err, ErrConflict) {
			t.Errorf("enqueue with a create's key: %v, want ErrConflict", err)
		}
	})
}

func TestTransition(t *testing.T) {
	t.Parallel()
	failure := request.Failure{Step: "applying", Reason: "terraform apply: exit 1", Retryable: true}
	tests := []struct {
		name    string
		path    []request.State // legal moves made first
		to      request.State
		opts    []TransitionOption
		wantErr func(error) bool // nil: success
		check   func(t *testing.T, rec Record)
	}{
		{name: "submitted to pr_open", to: request.PROpen},
		{name: "planned again on a push", path: []request.State{request.PROpen, request.Planned}, to: request.Planned},
		{name: "merged straight from pr_open", path: []request.State{request.PROpen}, to: request.Merged},
		{
			name: "failed carries its failure", path: []request.State{request.PROpen, request.Merged, request.Applying},
			to: request.Failed, opts: []TransitionOption{WithFailure(failure)},
			check: func(t *testing.T, rec Record) {
				if rec.Failure == nil || *rec.Failure != failure {
					t.Errorf("failure = %+v, want %+v", rec.Failure, failure)
				}
			},
		},
		{
			name: "retry clears the failure", path: []request.State{request.PROpen, request.Merged, request.Applying, request.Failed},
			to: request.Applying,
			check: func(t *testing.T, rec Record) {
				if rec.Failure != nil {
					t.Errorf("failure = %+v after the retry, want none", rec.Failure)
				}
			},
		},
		{name: "illegal: skip the PR", to: request.Merged, wantErr: isIllegal},
		{name: "illegal: leave a final state", path: []request.State{request.Cancelled}, to: request.Submitted, wantErr: isIllegal},
		{name: "illegal: unknown state", to: request.State("exploded"), wantErr: isIllegal},
		{name: "failed without a failure", to: request.Failed, wantErr: anyError},
		{name: "failure without failing", to: request.PROpen, opts: []TransitionOption{WithFailure(failure)}, wantErr: anyError},
		{name: "stale version", to: request.PROpen, opts: []TransitionOption{IfVersion(0)}, wantErr: is(ErrConflict)},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
				for _, st := range tc.path {
					var opts []TransitionOption
					if st == request.Failed {
						opts = append(opts, WithFailure(failure))
					}
					var err error
					if rec, err = s.Transition(ctx, rec.ID(), st, request.Event{Actor: "clustro"}, opts...); err != nil {
						t.Fatal(err)
					}
				}
				before, _ := s.Events(ctx, rec.ID())

				got, err := s.Transition(ctx, rec.ID(), tc.to, request.Event{Actor: "U9", Origin: "slack"}, tc.opts...)
				after, _ := s.Events(ctx, rec.ID())
				stored, _ := s.GetRequest(ctx, rec.ID())
				if tc.wantErr != nil {
					if err == nil || !tc.wantErr(err) {
						t.Fatalf("transition %s -> %s: %v, want an error", rec.State, tc.to, err)
					}
					if !reflect.DeepEqual(stored, rec) || len(after) != len(before) {
						t.Errorf("a refused transition wrote: record %+v -> %+v, %d -> %d events", rec, stored, len(before), len(after))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.State != tc.to || got.Version != rec.Version+1 || !reflect.DeepEqual(stored, got) {
					t.Errorf("transition returned state %s version %d (stored %+v), want %s version %d", got.State, got.Version, stored, tc.to, rec.Version+1)
				}
				if len(after) != len(before)+1 {
					t.Fatalf("%d events after the transition, want %d", len(after), len(before)+1)
				}
				if ev := after[len(after)-1]; ev.From != rec.State || ev.To != tc.to || ev.Actor != "U9" {
					t.Errorf("event %+v, want %s -> %s by U9", ev, rec.State, tc.to)
				}
				if tc.check != nil {
					tc.check(t, got)
				}
			})
		}
		if _, err := s.Transition(ctx, "nope", request.PROpen, request.Event{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("transition an unknown request: %v, want ErrNotFound", err)
		}
	})
}

func isIllegal(err error) bool {
	var ill *request.IllegalTransitionError
	return errors.As(err, &ill)
}

func anyError(error) bool { return true }

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func TestEventTrail(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		r := dbRequest("dev", "payments", "orders", "U1")
		rec, _, err := s.CreateRequest(ctx, NewRequest{Request: r, Event: request.Event{Actor: "U1", Origin: "slack", Ref: "trigger-1", Detail: "asked in #db"}})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			to request.State
			ev request.Event
		}{
			{request.PROpen, request.Event{Actor: "clustro", Origin: "engine", Ref: "job-1", Detail: "opened PR #7"}},
			{request.Planned, request.Event{Actor: "clustro", Origin: "engine", Ref: "job-2"}},
			{request.Merged, request.Event{Actor: "octocat", Origin: "github", Ref: "delivery-9"}},
		}
		for _, st := range steps {
			clk.Advance(time.Minute)
			if _, err := s.Transition(ctx, rec.ID(), st.to, st.ev); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Minute)
		summary := "1 to add"
		if _, err := s.UpdateRequest(ctx, rec.ID(), Change{PlanSummary: &summary}, request.Event{Actor: "clustro", Origin: "engine"}); err != nil {
			t.Fatal(err)
		}

		start := newClock().Now()
		want := []request.Event{
			{RequestID: rec.ID(), At: start, From: "", To: request.Submitted, Actor: "U1", Origin: "slack", Ref: "trigger-1", Detail: "asked in #db"},
			{RequestID: rec.ID(), At: start.Add(1 * time.Minute), From: request.Submitted, To: request.PROpen, Actor: "clustro", Origin: "engine", Ref: "job-1", Detail: "opened PR #7"},
			{RequestID: rec.ID(), At: start.Add(2 * time.Minute), From: request.PROpen, To: request.Planned, Actor: "clustro", Origin: "engine", Ref: "job-2"},
			{RequestID: rec.ID(), At: start.Add(3 * time.Minute), From: request.Planned, To: request.Merged, Actor: "octocat", Origin: "github", Ref: "delivery-9"},
			{RequestID: rec.ID(), At: start.Add(4 * time.Minute), From: request.Merged, To: request.Merged, Actor: "clustro", Origin: "engine", Detail: "set plan summary"},
		}
		got, err := s.Events(ctx, rec.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("events:\n%+v\nwant\n%+v", got, want)
		}
		if _, err := s.Events(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("events of an unknown request: %v, want ErrNotFound", err)
		}
	})
}

func TestConcurrentTransitions(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		// Two replicas' worth of handles on the same database.
		dsn := b.newDSN(t)
		s := openDSN(t, dsn)
		replicas := []Store{s, openDSN(t, dsn)}

		race := func(rec Record, to func(i int) request.State, opts ...TransitionOption) (wins int, errs []error) {
			var (
				wg sync.WaitGroup
				mu sync.Mutex
			)
			for i := range 8 {
				wg.Go(func() {
					_, err := replicas[i%2].Transition(ctx, rec.ID(), to(i), request.Event{Actor: "racer"}, opts...)
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						wins++
					} else {
						errs = append(errs, err)
					}
				})
			}
			wg.Wait()
			return wins, errs
		}

		// Decisions taken on the same version: one wins, the rest conflict.
		rec := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
		wins, errs := race(rec, func(i int) request.State {
			return []request.State{request.PROpen, request.Cancelled}[i%2]
		}, IfVersion(rec.Version))
		if wins != 1 {
			t.Errorf("IfVersion race: %d transitions won, want 1", wins)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrConflict) {
				t.Errorf("IfVersion race loser: %v, want ErrConflict", err)
			}
		}
		if evs, _ := s.Events(ctx, rec.ID()); len(evs) != 2 {
			t.Errorf("%d events after the race, want 2 (created, the winner)", len(evs))
		}

		// Without IfVersion they queue: the first moves, the others find
		// the request already there and are illegal.
		rec = mustCreate(t, s, dbRequest("dev", "payments", "ledger", "U1"))
		wins, errs = race(rec, func(int) request.State { return request.PROpen })
		if wins != 1 {
			t.Errorf("same-move race: %d transitions won, want 1", wins)
		}
		for _, err := range errs {
			if !isIllegal(err) {
				t.Errorf("same-move race loser: %v, want an illegal transition", err)
			}
		}
	})
}

func TestUpdateRequest(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		rec := mustCreate(t, s, dbRequest("dev", "payments", "orders", "U1"))
		rec = mustTransition(t, s, rec.ID(), request.PROpen)
		other := mustCreate(t, s, dbRequest("dev", "payments", "ledger", "U1"))

		summary := "Plan: 4 to add, 0 to change, 0 to destroy."
		spec := rec.Request.Spec
		spec.Size, spec.Instances = request.SizeL, 3
		got, err := s.UpdateRequest(ctx, rec.ID(), Change{
			PR:          &PullRequest{Number: 42, URL: "https://github.test/infra/pull/42"},
			PlanSummary: &summary,
			Progress:    &SlackMessage{Channel: "C1", TS: "1700000000.000100"},
			Spec:        &spec,
		}, request.Event{Actor: "reviewer", Origin: "github", Detail: "size M -> L by reviewer"},
			IfVersion(rec.Version), AndEnqueue(NewJob{Kind: "plan", Workspace: "dev/payments/orders"}))
		if err != nil {
			t.Fatal(err)
		}
		if got.PR.Number != 42 || got.PlanSummary != summary || got.Progress.TS != "1700000000.000100" ||
			got.Request.Size != request.SizeL || got.Request.Instances != 3 || got.State != request.PROpen || got.Version != rec.Version+1 {
			t.Errorf("updated record %+v", got)
		}
		byPR, err := s.RequestByPR(ctx, 42)
		if err != nil || !reflect.DeepEqual(byPR, got) {
			t.Errorf("request of PR #42: %+v, %v; want %+v", byPR, err, got)
		}
		if _, err := s.RequestByPR(ctx, 43); !errors.Is(err, ErrNotFound) {
			t.Errorf("request of an unknown PR: %v, want ErrNotFound", err)
		}
		if jobs, _ := s.ListJobs(ctx, JobFilter{RequestID: rec.ID()}); len(jobs) != 1 || jobs[0].Kind != "plan" {
			t.Errorf("jobs of the request: %+v, want the plan enqueued with the update", jobs)
		}
		evs, _ := s.Events(ctx, rec.ID())
		if ev := evs[len(evs)-1]; ev.From != request.PROpen || ev.To != request.PROpen || ev.Detail != "size M -> L by reviewer" {
			t.Errorf("update event %+v", ev)
		}

		// A stale version changes nothing; the other request is untouched.
		if _, err := s.UpdateRequest(ctx, rec.ID(), Change{PlanSummary: &summary}, request.Event{}, IfVersion(rec.Version)); !errors.Is(err, ErrConflict) {
			t.Errorf("update at a stale version: %v, want ErrConflict", err)
		}
		if o, _ := s.GetRequest(ctx, other.ID()); !reflect.DeepEqual(o, other) {
			t.Errorf("another request changed: %+v", o)
		}
		if _, err := s.UpdateRequest(ctx, "nope", Change{}, request.Event{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("update an unknown request: %v, want ErrNotFound", err)
		}
	})
}

func TestRemember(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		key := Idempotency{Scope: "github-delivery", Key: "72d3162e-closed"}
		if _, err := s.Recall(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("recall before remember: %v, want ErrNotFound", err)
		}
		tests := []struct {
			key       Idempotency
			result    string
			wantFirst bool
			want      string
		}{
			{key, `{"status":202}`, true, `{"status":202}`},
			{key, `{"status":500}`, false, `{"status":202}`},
			{Idempotency{Scope: "slack", Key: "72d3162e-closed"}, `{"ok":true}`, true, `{"ok":true}`},
		}
		for i, tc := range tests {
			got, first, err := s.Remember(ctx, tc.key, []byte(tc.result))
			if err != nil || first != tc.wantFirst || string(got) != tc.want {
				t.Errorf("remember #%d: %s, first %v, %v; want %s, first %v", i, got, first, err, tc.want, tc.wantFirst)
			}
		}
		if got, err := s.Recall(ctx, key); err != nil || string(got) != `{"status":202}` {
			t.Errorf("recall: %s, %v", got, err)
		}
		if _, _, err := s.Remember(ctx, Idempotency{Key: "no scope"}, nil); err == nil {
			t.Error("remember without a scope succeeded")
		}
	})
}

// TestOneChangeAtATime: with OneAtATime, a second change of a database in
// flight is refused, even when the two arrive at once; a finished one
// frees the database.
func TestOneChangeAtATime(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		create := func(requester string) (Record, error) {
			rec, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("prod", "billing", "ledger", requester),
				Event: request.Event{Actor: requester, Origin: request.OriginSlack}, OneAtATime: true})
			return rec, err
		}
		// Eight at once: exactly one is stored.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := create(fmt.Sprintf("U%d", i))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		var ok, conflicts int
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Errorf("create: %v", err)
			}
		}
		if ok != 1 || conflicts != 7 {
			t.Fatalf("%d stored and %d refused, want 1 and 7", ok, conflicts)
		}
		recs, _ := s.ListRequests(ctx, Filter{Name: "ledger"})
		if len(recs) != 1 {
			t.Fatalf("%d requests stored", len(recs))
		}
		// Cancelled: the database is free again.
		mustTransition(t, s, recs[0].ID(), request.Cancelled)
		if _, err := create("U9"); err != nil {
			t.Errorf("after the cancel: %v", err)
		}
		// Another database is not affected.
		if _, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("prod", "billing", "other", "U1"), OneAtATime: true}); err != nil {
			t.Errorf("another database: %v", err)
		}
	})
}

// A second database whose qualified name is taken is refused in the
// transaction that would store it, naming the database that holds it. The
// encoding cannot produce such a pair, so the test forges one in the row.
func TestIdentityTaken(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		first, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("prod", "billing", "ops-ledger", "U1")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.(*sqlStore).w.ExecContext(ctx, s.(*sqlStore).q("UPDATE requests SET identity = ? WHERE id = ?"),
			request.QualifiedName("prod", "billing-ops", "ledger"), first.ID()); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateRequest(ctx, NewRequest{Request: dbRequest("prod", "billing-ops", "ledger", "U2"), OneAtATime: true})
		var ie *IdentityError
		if !errors.As(err, &ie) || ie.Other != "prod/billing/ops-ledger" || ie.Database != "prod/billing-ops/ledger" {
			t.Fatalf("got %v, want an IdentityError naming prod/billing/ops-ledger", err)
		}
		if !strings.Contains(err.Error(), `"ledger.billing-ops.prod"`) {
			t.Errorf("error does not name the shared key: %v", err)
		}
		if recs, _ := s.ListRequests(ctx, Filter{}); len(recs) != 1 {
			t.Errorf("%d requests stored, want the first only", len(recs))
		}
		// The same database again (a later change) is not refused.
		if _, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("prod", "billing", "ops-ledger", "U3")}); err != nil {
			t.Errorf("a second request for the same database: %v", err)
		}
	})
}

// TestUpdateCannotMoveARequest: a spec edit may change a database's
// settings, never which database the request is for (its state key,
// entity and row follow from that).
func TestUpdateCannotMoveARequest(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		s := b.open(t)
		rec, _, err := s.CreateRequest(ctx, NewRequest{Request: dbRequest("prod", "billing", "ledger", "U1")})
		if err != nil {
			t.Fatal(err)
		}
		moved := rec.Request.Spec
		moved.Team = "billing-ops"
		if _, err := s.UpdateRequest(ctx, rec.ID(), Change{Spec: &moved}, request.Event{Actor: "reviewer"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("moving the request: %v, want ErrConflict", err)
		}
		resized := rec.Request.Spec
		resized.Size = request.SizeL
		got, err := s.UpdateRequest(ctx, rec.ID(), Change{Spec: &resized}, request.Event{Actor: "reviewer"})
		if err != nil || got.Request.Size != request.SizeL || got.Request.Team != "billing" {
			t.Errorf("a resize: %+v, %v", got.Request.Spec, err)
		}
	})
}

// TestForget: records of a scope older than the cutoff go, newer ones and
// other scopes stay.
func TestForget(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		clk := newClock()
		s := b.open(t, WithClock(clk.Now))
		remember := func(scope, key string) {
			if _, _, err := s.Remember(ctx, Idempotency{Scope: scope, Key: key}, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		remember("slack-command", "old")
		remember("api", "old")
		clk.Advance(2 * time.Hour)
		remember("slack-command", "new")
		n, err := s.Forget(ctx, "slack-command", clk.Now().Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("forgot %d, %v; want the old slack-command record", n, err)
		}
		for _, k := range []Idempotency{{Scope: "slack-command", Key: "new"}, {Scope: "api", Key: "old"}} {
			if _, err := s.Recall(ctx, k); err != nil {
				t.Errorf("%s was forgotten: %v", k, err)
			}
		}
		if _, err := s.Recall(ctx, Idempotency{Scope: "slack-command", Key: "old"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("the old record is still there: %v", err)
		}
	})
}
