package terraform

import (
	"context"
	"errors"
	"sync"
)

// ErrPreempted is the cause of a background job's cancellation when a
// foreground job took its slot (see Background). The error of a preempted
// job wraps it (and context.Canceled): test it with errors.Is or
// IsPreempted.
var ErrPreempted = errors.New("preempted by a foreground job")

// IsPreempted reports whether err is the error of a background job that was
// cancelled to free its slot for a foreground job. Such a job may be run
// again later.
func IsPreempted(err error) bool { return errors.Is(err, ErrPreempted) }

// slots schedules the jobs of a Runner on its parallelism. The rules:
//
//   - At most size slots are held at once.
//   - A foreground job takes a free slot at once; foreground waiters are
//     served first come, first served, before any background waiter.
//   - A background job takes a slot only when one is free, no foreground
//     job is waiting, and fewer than maxBackground (max(size-1, 1))
//     background jobs hold one. Background waiters are served in order.
//   - When foreground jobs wait and every slot is held, running background
//     jobs are preempted, the newest first (it has done the least work),
//     one per waiting foreground job not yet covered by a preemption in
//     progress. A preempted job keeps its slot until it releases it (its
//     terraform stops on the cancellation); the slot then goes to the
//     first foreground waiter.
//
// The zero value is not usable: use newSlots.
type slots struct {
	size          int
	maxBackground int

	mu         sync.Mutex
	held       int                   // slots held, preempted ones included
	background map[*slot]struct{}    // background holders
	preempting int                   // preempted holders that have not released yet
	fg, bg     []*slot               // waiters, in arrival order
	seq        uint64                // for newest-first preemption
	onWait     func(background bool) // test hook: called (unlocked) when a job starts waiting
}

// slot is one job's claim: waiting, then held, then released.
type slot struct {
	s          *slots
	background bool
	preempt    func() // cancels the job; background only
	ready      chan struct{}
	granted    bool
	preempted  bool
	released   bool
	seq        uint64
}

func newSlots(size int) *slots {
	return &slots{
		size:          size,
		maxBackground: max(size-1, 1),
		background:    map[*slot]struct{}{},
	}
}

// acquire waits for a slot and returns the function that releases it
// (idempotent). A background job passes preempt, which the scheduler calls
// at most once, without holding its lock, to cancel the job for a
// foreground one; a foreground job passes nil. When ctx is done first,
// acquire returns ctx.Err() and holds nothing.
func (s *slots) acquire(ctx context.Context, background bool, preempt func()) (release func(), err error) {
	sl := &slot{s: s, background: background, preempt: preempt, ready: make(chan struct{})}
	s.mu.Lock()
	if background {
		s.bg = append(s.bg, sl)
	} else {
		s.fg = append(s.fg, sl)
	}
	preempts := s.dispatch()
	waiting := !sl.granted
	onWait := s.onWait
	s.mu.Unlock()
	runAll(preempts)
	if waiting && onWait != nil {
		onWait(background)
	}

	select {
	case <-sl.ready:
		return sl.release, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if sl.granted {
		// Granted as ctx ended: give the slot back.
		s.mu.Unlock()
		sl.release()
		return nil, ctx.Err()
	}
	if background {
		s.bg = removeSlot(s.bg, sl)
	} else {
		s.fg = removeSlot(s.fg, sl)
	}
	preempts = s.dispatch()
	s.mu.Unlock()
	runAll(preempts)
	return nil, ctx.Err()
}

// release gives the slot back.
func (sl *slot) release() {
	s := sl.s
	s.mu.Lock()
	if sl.released {
		s.mu.Unlock()
		return
	}
	sl.released = true
	s.held--
	if sl.background {
		delete(s.background, sl)
		if sl.preempted {
			s.preempting--
		}
	}
	preempts := s.dispatch()
	s.mu.Unlock()
	runAll(preempts)
}

// dispatch grants what the rules allow and picks the background jobs to
// preempt, whose preempt functions it returns for the caller to run once it
// has unlocked s.mu.
func (s *slots) dispatch() []func() {
	for len(s.fg) > 0 && s.held < s.size {
		sl := s.fg[0]
		s.fg = s.fg[1:]
		s.grant(sl)
	}
	for len(s.fg) == 0 && len(s.bg) > 0 && s.held < s.size && len(s.background) < s.maxBackground {
		sl := s.bg[0]
		s.bg = s.bg[1:]
		s.grant(sl)
		s.background[sl] = struct{}{}
	}
	var preempts []func()
	for len(s.fg) > s.preempting && s.held >= s.size {
		var newest *slot
		for sl := range s.background {
			if !sl.preempted && (newest == nil || sl.seq > newest.seq) {
				newest = sl
			}
		}
		if newest == nil {
			break
		}
		newest.preempted = true
		s.preempting++
		if newest.preempt != nil {
			preempts = append(preempts, newest.preempt)
		}
	}
	return preempts
}

func (s *slots) grant(sl *slot) {
	s.held++
	s.seq++
	sl.seq = s.seq
	sl.granted = true
	close(sl.ready)
}

func runAll(fns []func()) {
	for _, fn := range fns {
		fn()
	}
}

func removeSlot(q []*slot, sl *slot) []*slot {
	for i, x := range q {
		if x == sl {
			return append(q[:i:i], q[i+1:]...)
		}
	}
	return q
}
