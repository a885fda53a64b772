package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/clustropg/clustro/request"
)

// BenchmarkMergeToReady measures the time ClustroPG adds to an apply: from
// the merged webhook's transition to the ready notice, minus the terraform
// apply of the same workspace (the readiness wait on the operator
// stand-in, the connection check and the bookkeeping remain).
func BenchmarkMergeToReady(b *testing.B) {
	var overhead, apply time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w := newWorldB(b)
		rec := w.submit(fmt.Sprintf("bench%d", i), "perf", "dev", request.SizeS)
		rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
		b.StartTimer()
		w.gh.Merge(rec.PR.Number, "reviewer")
		w.waitState(rec.ID(), request.Ready, 3*time.Minute)
		b.StopTimer()
		evs, err := w.store.Events(w.ctx, rec.ID())
		if err != nil {
			b.Fatal(err)
		}
		var merged, ready time.Time
		for _, e := range evs {
			switch e.To {
			case request.Merged:
				merged = e.At
			case request.Ready:
				ready = e.At
			}
		}
		a := w.applied.last(string(request.Applying))
		apply += a
		overhead += ready.Sub(merged) - a
	}
	b.ReportMetric(float64(overhead.Milliseconds())/float64(b.N), "overhead-ms/op")
	b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "apply-ms/op")
}
