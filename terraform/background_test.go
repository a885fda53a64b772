package terraform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackgroundPreempted: with parallelism 1, a background Plan stuck in
// terraform (its http backend never answers) is preempted when a
// foreground Plan arrives: it returns the preempted error, and the
// foreground Plan then runs and succeeds.
func TestBackgroundPreempted(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	fgWS := f.workspace(t, "a", map[string]any{})
	bgWS := f.workspace(t, "drift", map[string]any{})

	inTerraform := make(chan struct{}) // closed at the backend's first request
	var once sync.Once
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(inTerraform) })
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first: unblocks the handler
	backend := fmt.Sprintf("terraform {\n  backend \"http\" {\n    address = %q\n  }\n}\n", srv.URL+"/state")
	if err := os.WriteFile(filepath.Join(f.root, filepath.FromSlash(bgWS.Dir), "backend.tf"), []byte(backend), 0o644); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		events []string
	)
	hooks := Hooks{
		OnStart: func(j Job) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprintf("start background=%v", j.Background))
		},
		OnEnd: func(j Job, err error) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprintf("end background=%v preempted=%v", j.Background, IsPreempted(err)))
		},
	}
	r := newRunner(t, WithParallelism(1), WithWaitDelay(3*time.Second), WithHooks(hooks))
	ctx := context.Background()

	bgErr := make(chan error, 1)
	go func() {
		_, err := r.Plan(ctx, bgWS, Background())
		bgErr <- err
	}()
	select {
	case <-inTerraform:
	case err := <-bgErr:
		t.Fatalf("background Plan ended before reaching its backend: %v", err)
	case <-time.After(2 * time.Minute): // guards against a hang only
		t.Fatal("background Plan never reached its backend")
	}

	p, err := r.Plan(ctx, fgWS)
	if err != nil {
		t.Fatalf("foreground Plan: %v", err)
	}
	if got, want := p.Summary.String(), "Plan: 6 to add, 0 to change, 0 to destroy."; got != want {
		t.Errorf("foreground Plan: %q, want %q", got, want)
	}

	err = <-bgErr
	t.Logf("background Plan: %v", err)
	if !IsPreempted(err) || !errors.Is(err, ErrPreempted) {
		t.Fatalf("background Plan: %v, want a preempted error", err)
	}
	var te *Error
	if !errors.As(err, &te) || !te.Cancelled() || !errors.Is(err, context.Canceled) {
		t.Errorf("background Plan: %v, want a cancelled *Error", err)
	}
	if !strings.Contains(err.Error(), ErrPreempted.Error()) {
		t.Errorf("error does not say the job was preempted: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"start background=true", "end background=true preempted=true", "start background=false", "end background=false preempted=false"}
	if strings.Join(events, "; ") != strings.Join(want, "; ") {
		t.Errorf("events %q, want %q", events, want)
	}
}

// TestRunOptionsRefused: Background on Apply or Destroy, and Approve on a
// Plan (or nil), fail the job before anything runs.
func TestRunOptionsRefused(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	ws := f.workspace(t, "a", map[string]any{})
	r := newRunner(t)
	ctx := context.Background()
	check := func(name string, err error, want string) {
		t.Helper()
		var te *Error
		if err == nil || !strings.Contains(err.Error(), want) || errors.As(err, &te) {
			t.Errorf("%s: %v, want an error with %q before any command", name, err, want)
		}
	}
	_, err := r.Apply(ctx, ws, Background())
	check("Apply in the background", err, "cannot run in the background")
	_, err = r.Destroy(ctx, ws, Background())
	check("Destroy in the background", err, "cannot run in the background")
	_, err = r.Plan(ctx, ws, Approve(func(*Plan) error { return nil }))
	check("Plan with Approve", err, "nothing to approve")
	_, err = r.Apply(ctx, ws, Approve(nil))
	check("Apply with a nil Approve", err, "approve function is nil")
	if _, err := os.Stat(f.statePath(ws)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state written: %v", err)
	}
}

// TestApprove: an Apply whose plan is refused applies nothing and returns
// the plan; a later Apply whose plan has the same changes as the refused
// one, approved, applies it.
func TestApprove(t *testing.T) {
	t.Parallel()
	f := newInfra(t)
	ws := f.workspace(t, "a", map[string]any{})
	r := newRunner(t)
	ctx := context.Background()

	refusal := errors.New("not confirmed yet")
	var shown *Plan
	res, err := r.Apply(ctx, ws, Approve(func(p *Plan) error {
		shown = p
		return refusal
	}))
	if !errors.Is(err, ErrNotApproved) || !errors.Is(err, refusal) {
		t.Fatalf("refused Apply: %v, want an error wrapping ErrNotApproved and the refusal", err)
	}
	if res == nil || res.Plan == nil || res.Plan != shown {
		t.Fatalf("refused Apply: result %+v, want the refused plan", res)
	}
	if !strings.Contains(res.Log, "$ terraform plan") || strings.Contains(res.Log, "$ terraform apply") {
		t.Errorf("refused Apply's log:\n%s", res.Log)
	}
	want := map[string]Action{itemA: ActionCreate, itemB: ActionCreate, label: ActionCreate, gen: ActionCreate, genCBD: ActionCreate, secretR: ActionCreate}
	if got := changeActions(shown.Changes); !maps.Equal(got, want) {
		t.Errorf("refused plan: changes %v, want %v", got, want)
	}
	if _, err := os.Stat(f.statePath(ws)); err == nil {
		if got := f.stateAddresses(t, ws); len(got) > 0 {
			t.Errorf("refused Apply changed the state: %v", got)
		}
	}

	// Planning again shows the same changes: nothing was applied.
	p, err := r.Plan(ctx, ws)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if got := changeActions(p.Changes); !maps.Equal(got, want) {
		t.Errorf("plan after the refusal: changes %v, want %v", got, want)
	}

	// Confirmed: apply only if the plan is still the one shown.
	res, err = r.Apply(ctx, ws, Approve(func(p *Plan) error {
		if !maps.Equal(changeActions(p.Changes), changeActions(shown.Changes)) || p.Summary != shown.Summary {
			return errors.New("the plan changed since it was shown")
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("approved Apply: %v", err)
	}
	if got := changeActions(res.Plan.Changes); !maps.Equal(got, want) {
		t.Errorf("approved plan: changes %v, want %v", got, want)
	}
	if got, want := f.stateAddresses(t, ws), []string{gen, genCBD, itemA, itemB, label, secretR}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("state after the approved Apply: %v, want %v", got, want)
	}
}
