package integration

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/pipeline"
)

// openBus starts the embedded NATS server with JetStream in a temp dir, as
// Ringside does with an empty nats.url.
func openBus(tb testing.TB) *natsbus.Bus {
	tb.Helper()
	bus, err := natsbus.Open(context.Background(), natsbus.Options{
		DataDir: tb.TempDir(), Name: "bench", Stream: "RINGSIDE_CALLS",
		Subjects: []string{events.CallSubjects}, DuplicateWindow: 2 * time.Minute, MaxAge: time.Hour,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = bus.Close() })
	return bus
}

// BenchmarkPipelineToJetStream measures the path a PBX event takes through
// Ringside up to a stored, acknowledged JetStream message: state machine,
// sharded queues, JSON, publish with de-duplication id, PubAck. One op is one
// signal; the call events/s figure is what the CRM workers receive.
func BenchmarkPipelineToJetStream(b *testing.B) {
	sigs := callgen.Mix(callgen.Config{
		Rand: rand.New(rand.NewPCG(1, 2)), Calls: 2000, Concurrent: 200,
		Tenants: []string{"acme", "globex"},
	})
	bus := openBus(b)
	b.ReportAllocs()
	b.ResetTimer()
	var published int
	for round := 0; b.Loop(); round++ {
		p := pipeline.New(callstate.New(callstate.Options{IDPrefix: "bench-" + strconv.Itoa(round) + "-"}), bus,
			pipeline.Options{Shards: 8, Queue: 256, Registerer: prometheus.NewRegistry()})
		done := make(chan error, 1)
		go func() { done <- p.Run(context.Background()) }()
		for _, s := range sigs {
			if err := p.Submit(context.Background(), s); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := p.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		st := p.Stats()
		published += int(st.Events)
	}
	elapsed := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(sigs))/elapsed, "signals/s")
	b.ReportMetric(float64(published)/elapsed, "events/s")
	b.ReportMetric(elapsed*1e9/float64(b.N*len(sigs)), "ns/signal")
}
