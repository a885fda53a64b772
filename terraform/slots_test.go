package terraform

import (
	"context"
	"errors"
	"testing"
)

// slotsHarness drives a slots scheduler from a test: onWait tells when a
// job is queued (after the preemptions its arrival caused have run), so
// every assertion is made on a settled state, without sleeps.
type slotsHarness struct {
	t     *testing.T
	s     *slots
	waits chan bool
}

func newSlotsHarness(t *testing.T, size int) *slotsHarness {
	h := &slotsHarness{t: t, s: newSlots(size), waits: make(chan bool, 16)}
	h.s.onWait = func(bg bool) { h.waits <- bg }
	return h
}

type acquired struct {
	release func()
	err     error
}

// now acquires a slot that must be granted at once.
func (h *slotsHarness) now(bg bool, preempt func()) func() {
	h.t.Helper()
	release, err := h.s.acquire(context.Background(), bg, preempt)
	if err != nil {
		h.t.Fatalf("acquire: %v", err)
	}
	select {
	case <-h.waits:
		h.t.Fatal("a job that should get a slot at once waited")
	default:
	}
	return release
}

// queue starts an acquire that must wait, and returns once it is queued.
func (h *slotsHarness) queue(ctx context.Context, bg bool, preempt func()) <-chan acquired {
	h.t.Helper()
	ch := make(chan acquired, 1)
	go func() {
		release, err := h.s.acquire(ctx, bg, preempt)
		ch <- acquired{release, err}
	}()
	if got := <-h.waits; got != bg {
		h.t.Fatalf("queued a background=%v job, want background=%v", got, bg)
	}
	return ch
}

// state is the number of slots held and of waiters.
func (h *slotsHarness) state() (held, fg, bg int) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.held, len(h.s.fg), len(h.s.bg)
}

func (h *slotsHarness) wantState(held, fg, bg int) {
	h.t.Helper()
	gh, gf, gb := h.state()
	if gh != held || gf != fg || gb != bg {
		h.t.Fatalf("held %d, foreground waiting %d, background waiting %d; want %d, %d, %d", gh, gf, gb, held, fg, bg)
	}
}

func granted(t *testing.T, ch <-chan acquired) func() {
	t.Helper()
	a := <-ch
	if a.err != nil {
		t.Fatalf("acquire: %v", a.err)
	}
	return a.release
}

// preemptSignal returns a preempt function and a channel it closes.
func preemptSignal(t *testing.T) (func(), chan struct{}) {
	ch := make(chan struct{})
	return func() {
		select {
		case <-ch:
			t.Error("preempted twice")
		default:
			close(ch)
		}
	}, ch
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestSlotsForegroundFirst: a foreground job that arrives after a
// background waiter gets the next free slot.
func TestSlotsForegroundFirst(t *testing.T) {
	h := newSlotsHarness(t, 1)
	relA := h.now(false, nil)
	bgB := h.queue(context.Background(), true, nil)
	fgC := h.queue(context.Background(), false, nil)
	h.wantState(1, 1, 1)

	relA()
	relC := granted(t, fgC)
	h.wantState(1, 0, 1)
	relC()
	relB := granted(t, bgB)
	h.wantState(1, 0, 0)
	relB()
	relB() // idempotent
	h.wantState(0, 0, 0)
}

// TestSlotsBackgroundWaitsForForegroundWaiters: a free slot does not go to
// a background job while a foreground one waits (here the foreground
// waiter arrived first and the slot frees up for it).
func TestSlotsBackgroundWaitsForForegroundWaiters(t *testing.T) {
	h := newSlotsHarness(t, 2)
	relA := h.now(false, nil)
	relB := h.now(false, nil)
	fgC := h.queue(context.Background(), false, nil)
	bgD := h.queue(context.Background(), true, nil)
	relA()
	relC := granted(t, fgC)
	h.wantState(2, 0, 1)
	relB()
	relD := granted(t, bgD)
	relC()
	relD()
	h.wantState(0, 0, 0)
}

// TestSlotsBackgroundLimit: at most parallelism-1 background jobs run, so
// a foreground job finds a free slot; with parallelism 1, one may run.
func TestSlotsBackgroundLimit(t *testing.T) {
	h := newSlotsHarness(t, 3)
	bg1 := h.now(true, nil)
	bg2 := h.now(true, nil)
	bg3 := h.queue(context.Background(), true, nil)
	h.wantState(2, 0, 1)
	fg := h.now(false, nil) // the slot left for foreground work
	h.wantState(3, 0, 1)
	fg()
	h.wantState(2, 0, 1) // the free slot is still not for a third background job
	bg1()
	bg3rel := granted(t, bg3)
	bg2()
	bg3rel()
	h.wantState(0, 0, 0)

	one := newSlotsHarness(t, 1)
	one.now(true, nil)()
	one.wantState(0, 0, 0)
}

// TestSlotsPreempt: a foreground job that finds every slot taken, one by a
// background job, preempts that job once, and gets its slot when the
// preempted job releases it.
func TestSlotsPreempt(t *testing.T) {
	h := newSlotsHarness(t, 2)
	relA := h.now(false, nil)
	preempt, preempted := preemptSignal(t)
	relB := h.now(true, preempt)
	if isClosed(preempted) {
		t.Fatal("preempted with no foreground job waiting")
	}
	fgC := h.queue(context.Background(), false, nil)
	if !isClosed(preempted) {
		t.Fatal("background job not preempted for a waiting foreground job")
	}
	// A second foreground waiter finds no other background job: only
	// foreground jobs hold slots, nothing more is preempted (preemptSignal
	// fails the test on a second call).
	fgD := h.queue(context.Background(), false, nil)
	h.wantState(2, 2, 0)

	relB()
	relC := granted(t, fgC)
	relA()
	relD := granted(t, fgD)
	relC()
	relD()
	h.wantState(0, 0, 0)
}

// TestSlotsPreemptNewest: the newest background job is preempted, and
// only as many as foreground jobs wait.
func TestSlotsPreemptNewest(t *testing.T) {
	h := newSlotsHarness(t, 3)
	preemptOld, oldPreempted := preemptSignal(t)
	relOld := h.now(true, preemptOld)
	preemptNew, newPreempted := preemptSignal(t)
	relNew := h.now(true, preemptNew)
	relA := h.now(false, nil)

	fgC := h.queue(context.Background(), false, nil)
	if !isClosed(newPreempted) || isClosed(oldPreempted) {
		t.Fatalf("preempted: newest %v, oldest %v; want only the newest", isClosed(newPreempted), isClosed(oldPreempted))
	}
	fgD := h.queue(context.Background(), false, nil)
	if !isClosed(oldPreempted) {
		t.Fatal("second foreground waiter did not preempt the other background job")
	}
	relNew()
	relC := granted(t, fgC)
	relOld()
	relD := granted(t, fgD)
	for _, rel := range []func(){relA, relC, relD} {
		rel()
	}
	h.wantState(0, 0, 0)
}

// TestSlotsNoPreemptWithFreeSlot: a foreground job that finds a free slot
// takes it and preempts nothing.
func TestSlotsNoPreemptWithFreeSlot(t *testing.T) {
	h := newSlotsHarness(t, 2)
	preempt, preempted := preemptSignal(t)
	relB := h.now(true, preempt)
	relA := h.now(false, nil)
	if isClosed(preempted) {
		t.Fatal("preempted although a slot was free")
	}
	relA()
	relB()
}

// TestSlotsCancelledWait: a waiter whose context ends returns its error and
// holds nothing; a background waiter behind a cancelled foreground waiter
// then gets the slot.
func TestSlotsCancelledWait(t *testing.T) {
	h := newSlotsHarness(t, 1)
	relA := h.now(false, nil)
	ctx, cancel := context.WithCancel(context.Background())
	fgC := h.queue(ctx, false, nil)
	bgB := h.queue(context.Background(), true, nil)
	cancel()
	if a := <-fgC; !errors.Is(a.err, context.Canceled) || a.release != nil {
		t.Fatalf("cancelled acquire: %v", a.err)
	}
	h.wantState(1, 0, 1)
	relA()
	relB := granted(t, bgB)
	relB()
	h.wantState(0, 0, 0)
}
