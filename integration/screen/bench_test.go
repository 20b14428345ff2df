package screen_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/asterisk"
	"github.com/ringside/ringside/adapters/zoho"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// discardSink takes the adapter's signals and keeps nothing.
type discardSink struct{}

func (discardSink) Submit(context.Context, callstate.Signal) error { return nil }
func (discardSink) LiveLegs() []string                             { return nil }

// BenchmarkScreenDelay measures the ringing delay screening adds to an
// inbound call, the way the daemon runs it on the embedded default: the
// ARI simulator puts the call in Stasis(ringside,screen), the Asterisk
// adapter reads the StasisStart from its WebSocket and asks the Screener
// (pkg/screen), which reads the tenant (kept) and the lookup cache from the
// embedded NATS key-value store; then CALLERID(name), RINGSIDE_OWNER and
// continue go back over ARI REST. The delay is the simulator's: from
// emitting StasisStart to receiving the continue. warm: the caller's
// record is cached (name and owner set); cold: never seen (a cache miss,
// no name; the background lookup has no Zoho to ask here). Reported: p50,
// p99 and max in ms.
func BenchmarkScreenDelay(b *testing.B) {
	for _, warm := range []bool{true, false} {
		name := map[bool]string{true: "warm", false: "cold"}[warm]
		b.Run(name, func(b *testing.B) { benchScreen(b, warm) })
	}
}

func benchScreen(b *testing.B, warm bool) {
	st := teststore.Embedded(b)
	ctx := context.Background()
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "acme", Settings: store.Settings{Region: "DE",
		Blacklist: []string{"+4990*", "+4930999999"},
		Features:  map[string]bool{screen.FeatureCallerName: true, screen.FeatureOwnerRouting: true}}}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1002"}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Link(ctx, store.Link{Tenant: "acme", Extension: "1002", ZohoUser: "pb-1002", CRMUser: "9002"}); err != nil {
		b.Fatal(err)
	}
	remember(b, st, "acme", arisim.Customer, zoho.Match{Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"})

	sim := arisim.New(arisim.Options{Tenant: "acme"})
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	cfg := config.Default()
	cfg.NodeID, cfg.PBX.DefaultTenant = "bench", "acme"
	cfg.PBX.Tenant = config.TenantRule{From: config.TenantContextPrefix, Separator: "-"}
	cfg.PBX.Asterisk = config.Asterisk{URL: sim.URL(), Username: "ringside", Password: "secret", App: "ringside"}
	ad, err := asterisk.New(asterisk.Options{PBX: cfg.PBX, Logger: zap.NewNop(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	s := screen.New(screen.Options{Store: st, Cache: zoho.NewLookup(nil, st, zoho.LookupOptions{}).Screening(),
		Normalize: zoho.Normalize, DefaultTenant: cfg.PBX.DefaultTenant, CallIDPrefix: cfg.NodeID + "-",
		SettingsTTL: cfg.Screen.SettingsTTL, RefreshConcurrency: cfg.Screen.RefreshConcurrency,
		Logger: zap.NewNop(), Registerer: prometheus.NewRegistry()})
	defer s.Close()
	ad.SetScreener(s, cfg.Screen.Deadline)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ad.Run(runCtx, discardSink{}) }()
	defer func() { stop(); <-done }()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sim.WaitSockets(wctx, 1); err != nil {
		b.Fatal(err)
	}
	if err := sim.Flush(wctx); err != nil {
		b.Fatal(err)
	}

	var delays []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		from := arisim.Customer
		if !warm {
			from = fmt.Sprintf("+4989%07d", i) // never looked up
		}
		trunk := sim.StartScreened(arisim.ScreenedCall{From: from})
		sc, err := sim.WaitScreened(wctx, trunk)
		if err != nil {
			b.Fatal(err)
		}
		if warm != (sc.Owner == "1002") || sc.Status != "SUCCESS" {
			b.Fatalf("call %d: %+v", i, sc)
		}
		delays = append(delays, sc.Left.Sub(sc.Entered))
	}
	b.StopTimer()
	slices.Sort(delays)
	at := func(q float64) float64 {
		return float64(delays[min(len(delays)-1, int(q*float64(len(delays))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
}
