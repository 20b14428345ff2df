package callstate_test

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
)

// BenchmarkApply feeds a realistic mix (500 concurrent calls of every
// scenario, ring groups, transfers, recordings, both PBX flavors) through one
// machine. One op is one signal.
func BenchmarkApply(b *testing.B) {
	sigs := callgen.Mix(callgen.Config{
		Rand: rand.New(rand.NewPCG(2026, 3)), Concurrent: 500, Calls: 20000,
		Tenants: []string{"acme", "globex", "initech"},
	})
	m := callstate.New(callstate.Options{IDPrefix: "n1-", Node: "n1"})
	out := make([]events.Call, 0, 16)
	evs := 0
	b.ReportAllocs()
	b.ResetTimer()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	n := 0
	for b.Loop() {
		// The mix ends every call, and a pass has far more legs than a
		// machine remembers, so passes can repeat through one machine.
		out = m.Apply(sigs[n%len(sigs)], out[:0])
		evs += len(out)
		n++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	// allocs/op rounds down to 0; this is the exact average.
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/signal")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "signals/s")
	b.ReportMetric(float64(evs)/float64(n), "events/signal")
}
