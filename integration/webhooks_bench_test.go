package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/webhook"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
	"github.com/ringside/ringside/pkg/webhooks"
)

// webhookStore is the store as the daemon's webhooks consumer uses it.
type webhookStore interface {
	store.Tenants
	store.Webhooks
	store.Keys
	store.Audit
}

// BenchmarkWebhookDeliveries measures the daemon's webhook path from a
// stored call event to a receiver that accepted it: the durable "webhooks"
// consumer (16 workers, as the daemon runs it), the dispatcher (done marker,
// claim, delivery log in the store), a signed POST over HTTP to a local
// receiver that checks the signature. One op is a round of 1000 call events
// published (8 publishers, as calls of four events) and delivered to one
// subscription; the clock includes publishing them, so deliveries/s is the
// end-to-end rate one subscription receives on this machine.
func BenchmarkWebhookDeliveries(b *testing.B) {
	b.Run("store=embedded", func(b *testing.B) {
		bus := openBus(b)
		js, err := jetstream.New(bus.Conn())
		if err != nil {
			b.Fatal(err)
		}
		st, err := natskv.New(context.Background(), js, "ringside")
		if err != nil {
			b.Fatal(err)
		}
		benchDeliveries(b, bus, st)
	})
	b.Run("store=redis", func(b *testing.B) {
		benchDeliveries(b, openBus(b), teststore.Redis(b))
	})
}

func benchDeliveries(b *testing.B, bus *natsbus.Bus, st webhookStore) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const secret = "whsec_bench_0123456789abcdef0123456789abcdef"
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
		b.Fatal(err)
	}
	var accepted atomic.Int64
	var want atomic.Int64
	done := make(chan struct{}, 1) // one signal per round; the waiter takes it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhooks.Verify(secret, r.Header.Get(webhooks.HeaderSignature), body, time.Now(), webhooks.ReplayWindow); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		if accepted.Add(1) == want.Load() {
			select {
			case done <- struct{}{}:
			default:
			}
		}
	}))
	defer srv.Close()
	past := time.Now().Add(-time.Minute)
	if _, err := st.CreateWebhook(ctx, store.Webhook{Tenant: "acme", ID: "wh_bench", URL: srv.URL + "/ringside",
		Secret: secret, State: store.WebhookActive, VerifiedAt: past}); err != nil {
		b.Fatal(err)
	}
	client := webhook.New(webhook.Options{Timeout: 5 * time.Second})
	defer client.Close()
	d, err := webhooks.New(webhooks.Options{Subscriptions: st, Keys: st, Log: st, Audit: st, Poster: client,
		Timeout: 5 * time.Second, AllowInsecure: true, DoneTTL: time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	var consumers sync.WaitGroup
	consumers.Go(func() {
		err := bus.Consume(ctx, natsbus.Consumer{Durable: "webhooks", FilterSubject: events.CallSubjects, MaxDeliver: -1,
			Concurrency: 16, AckWait: 30 * time.Second}, func(ctx context.Context, m natsbus.Message) error {
			return d.Handle(ctx, webhooks.Event{MsgID: m.MsgID, Data: m.Data, Published: m.Published, Attempt: m.Delivery})
		})
		if err != nil {
			b.Error(err)
		}
	})
	defer func() { cancel(); consumers.Wait() }()

	// The events: calls of four events each, published while the consumer
	// delivers them, as the pipeline does.
	types := []events.Type{events.Started, events.Ringing, events.Answered, events.Ended}
	publish := func(round, n int) {
		var wg sync.WaitGroup
		const publishers = 8
		for p := range publishers {
			wg.Go(func() {
				for i := p; i < n; i += publishers {
					call := fmt.Sprintf("bench-%d-%d", round, i/len(types))
					seq := uint32(i%len(types) + 1)
					e := events.Call{V: 1, ID: events.MsgID(call, seq), Type: types[seq-1], CallID: call, Seq: seq,
						Tenant: "acme", At: time.Now(), Direction: events.Inbound, External: "+4930123456", Agent: "1001"}
					data, _ := json.Marshal(e)
					if err := bus.PublishCall(ctx, events.CallSubject("acme", e.Type), e.ID, call, data); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.ResetTimer()
	var delivered int64
	for round := 0; b.Loop(); round++ {
		b.StopTimer()
		accepted.Store(0)
		want.Store(1000)
		b.StartTimer()
		publish(round, 1000)
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("round %d: %d of 1000 deliveries accepted", round, accepted.Load())
		}
		delivered += accepted.Load()
	}
	elapsed := b.Elapsed().Seconds()
	b.ReportMetric(float64(delivered)/elapsed, "deliveries/s")
	b.ReportMetric(elapsed*1e9/float64(delivered), "ns/delivery")
}
