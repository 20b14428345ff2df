package zohosim_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/zoho"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// world is Ringside's Zoho side on the embedded store against the
// simulator: tenant acme in REST mode, connected to an EU org.
type world struct {
	sim  *zohosim.Server
	st   *natskv.Store
	c    *zoho.Client
	sink *zoho.Sink
	look *zoho.Lookup
	stop func()
}

func newWorld(tb testing.TB, lo zoho.LookupOptions) *world {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{ServerName: "zoho-bench", JetStream: true, StoreDir: tb.TempDir(),
		DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		tb.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	st, err := natskv.New(ctx, js, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	sim := zohosim.New(zohosim.Options{})
	if err := sim.Start(); err != nil {
		tb.Fatal(err)
	}
	sim.AddOrg("org", "eu", zohosim.User{ID: "9001", ZohoUser: "pb-1", Email: "ana@acme.example"},
		zohosim.User{ID: "9002", ZohoUser: "pb-2", Email: "ben@acme.example"})
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme", Settings: store.Settings{Mode: store.ModeREST, Region: "DE", DefaultUser: "9001"}}); err != nil {
		tb.Fatal(err)
	}
	for i, ext := range []string{"1001", "1002"} {
		if _, err := st.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: ext}); err != nil {
			tb.Fatal(err)
		}
		if _, err := st.Link(ctx, store.Link{Tenant: "acme", Extension: ext, ZohoUser: fmt.Sprintf("pb-%d", i+1),
			Email: []string{"ana@acme.example", "ben@acme.example"}[i], Switches: store.Switches{Notifications: true}}); err != nil {
			tb.Fatal(err)
		}
	}
	ci, _ := zoho.NewCipher(bytes.Repeat([]byte{3}, 32))
	c, err := zoho.New(zoho.Options{ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), AccountsURL: sim.AccountsURL("us"),
		APIURL: sim.APIDomain("us"), Tenants: st, Records: st, Claims: st, Cipher: ci, Concurrency: 10})
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.ImportRefreshToken(ctx, "acme", sim.SelfClientToken("org", ""), sim.AccountsURL("eu")); err != nil {
		tb.Fatal(err)
	}
	look := zoho.NewLookup(c, st, lo)
	sink, err := zoho.NewSink(zoho.SinkOptions{Client: c, Links: st, Records: st, Claims: st, Lookup: look,
		RecordingWait: 48 * time.Hour, BatchDelay: 2 * time.Second}) // zoho.rest.batch_delay
	if err != nil {
		tb.Fatal(err)
	}
	return &world{sim: sim, st: st, c: c, sink: sink, look: look, stop: func() {
		sim.Close()
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	}}
}

// BenchmarkCachedLookup measures caller lookups answered from the store's
// cache (the embedded store), in parallel.
func BenchmarkCachedLookup(b *testing.B) {
	w := newWorld(b, zoho.LookupOptions{})
	defer w.stop()
	ctx := context.Background()
	for i := range 100 {
		if i%2 == 0 {
			w.sim.AddRecord("org", "Contacts", zohosim.Record{"Last_Name": "C", "Phone": fmt.Sprintf("+49301000%03d", i)})
		}
		if _, err := w.look.Find(ctx, "acme", "DE", fmt.Sprintf("+49301000%03d", i)); err != nil {
			b.Fatal(err)
		}
	}
	before := w.sim.Credits("org")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := w.look.Find(ctx, "acme", "DE", fmt.Sprintf("+49301000%03d", i%100)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	if w.sim.Credits("org") != before {
		b.Fatal("cached lookups spent credits")
	}
}

// BenchmarkCredits1000Calls logs 1,000 realistic calls from 100 distinct
// numbers (60 Contacts, 20 Leads, 20 unknown) in REST mode, 128 handlers at
// once as a JetStream consumer would run them, and reports the credits the
// simulator counted: lookups (search or COQL), Calls writes and the rest.
// search is one number per request (five formats × two fields fill the ten
// criteria); coql batches two numbers per request (25 criteria) with the
// default batch wait.
func BenchmarkCredits1000Calls(b *testing.B) {
	for _, lo := range []zoho.LookupOptions{{Method: "search"}, {Method: "coql", BatchWait: 500 * time.Millisecond}} {
		b.Run(lo.Method, func(b *testing.B) { benchCredits(b, lo) })
	}
}

func benchCredits(b *testing.B, lo zoho.LookupOptions) {
	for range b.N {
		w := newWorld(b, lo)
		numbers := make([]string, 100)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+4930200%04d", i)
			switch {
			case i < 60:
				w.sim.AddRecord("org", "Contacts", zohosim.Record{"Last_Name": "C", "Phone": numbers[i]})
			case i < 80:
				w.sim.AddRecord("org", "Leads", zohosim.Record{"Last_Name": "L", "Mobile": strings.TrimPrefix(numbers[i], "+")})
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		scen := []callgen.Scenario{callgen.InboundAnswered, callgen.InboundRingGroup, callgen.InboundMissed, callgen.OutboundAnswered,
			callgen.OutboundNoAnswer, callgen.BlindTransfer}
		m := callstate.New(callstate.Options{IDPrefix: "pbx-01-"})
		ids := &callgen.IDs{Prefix: "L"}
		perCall := map[string][]events.Call{}
		var order []string
		at := time.Now().UTC().Add(-30 * time.Hour)
		for i := range 1000 {
			c := callgen.Call{Scenario: scen[r.IntN(len(scen))], Tenant: "acme", External: numbers[r.IntN(100)],
				Agents: []string{"1001", "1002"}, Winner: 1}
			if r.IntN(10) < 3 {
				c.Recording = callgen.RecordingAfterEnd
			}
			var out []events.Call
			for _, s := range callgen.Script(c, ids, at.Add(time.Duration(i)*time.Minute)) {
				out = m.Apply(s, out)
			}
			for _, ev := range out {
				if _, seen := perCall[ev.CallID]; !seen {
					order = append(order, ev.CallID)
				}
				perCall[ev.CallID] = append(perCall[ev.CallID], ev)
			}
		}
		w.sim.ResetRequests()
		ctx := context.Background()
		work := make(chan string)
		var wg sync.WaitGroup
		for range 128 {
			wg.Go(func() {
				for id := range work {
					queue := perCall[id]
					for n := 0; len(queue) > 0; n++ {
						ev := queue[0]
						queue = queue[1:]
						err := w.sink.Handle(ctx, ev)
						if err != nil && !fault.IsPermanent(err) {
							queue = append(queue, ev) // nak: later events of the call overtake it
						} else if err != nil {
							b.Error(err)
						}
						if n > 50 {
							b.Errorf("call %s stuck: %v", id, err)
							return
						}
					}
				}
			})
		}
		for _, id := range order {
			work <- id
		}
		close(work)
		wg.Wait()
		search, writes, other, inserts := 0, 0, 0, 0
		for _, rq := range w.sim.Requests("") {
			switch {
			case strings.HasSuffix(rq.Path, "/search"), rq.Path == "/crm/v8/coql" && !strings.Contains(string(rq.Body), "from Calls"):
				search++
			case rq.Method == "POST" && rq.Path == "/crm/v8/Calls", rq.Method == "PUT" && rq.Path == "/crm/v8/Calls":
				n := strings.Count(string(rq.Body), "Ringside call ")
				writes += (n + 9) / 10
				if rq.Method == "POST" {
					inserts++
				}
			case strings.HasPrefix(rq.Path, "/crm/"):
				other++
			}
		}
		logged := len(w.sim.Records("org", "Calls"))
		w.stop()
		if logged != len(order) {
			b.Fatalf("%d Calls records for %d calls", logged, len(order))
		}
		b.ReportMetric(float64(search), "search_credits")
		b.ReportMetric(float64(writes), "log_credits")
		b.ReportMetric(float64(other), "other_credits")
		b.ReportMetric(float64(inserts), "insert_requests")
		b.ReportMetric(float64(logged), "calls_logged")
	}
}
