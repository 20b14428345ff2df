package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
)

const testStream = "RINGSIDE_CALLS"

// noLeaks checks for leaked goroutines after every other cleanup of t.
func noLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

func testOptions(t *testing.T, dir string, reg prometheus.Registerer) Options {
	return Options{
		DataDir:         dir,
		Name:            "node1",
		Stream:          testStream,
		Subjects:        []string{events.CallSubjects},
		MaxAge:          time.Hour,
		DuplicateWindow: time.Minute,
		Reconnect:       backoff.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Logger:          zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Registerer:      reg,
	}
}

func open(t *testing.T, o Options) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// consume runs Consume in the background; the returned stop cancels it and
// waits for it to return, failing the test on an error.
func consume(t *testing.T, b *Bus, c Consumer, h Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1) // one result; the receiver may be gone
	go func() { done <- b.Consume(ctx, c, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Consume: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publish(t *testing.T, b *Bus, tenant, callID string, seq uint32, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subj := events.CallSubject(tenant, events.Ringing)
	if err := b.PublishCall(ctx, subj, events.MsgID(callID, seq), callID, []byte(data)); err != nil {
		t.Fatalf("publish %s:%d: %v", callID, seq, err)
	}
}

func streamMsgs(t *testing.T, b *Bus, name string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().State.Msgs
}

func lastDeadLetter(t *testing.T, b *Bus, durable string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, b.dlqStream)
	if err != nil {
		t.Fatalf("dlq stream: %v", err)
	}
	m, err := s.GetLastMsgForSubject(ctx, DeadLetterSubject(durable))
	if err != nil {
		t.Fatalf("dead letter of %s: %v", durable, err)
	}
	return m
}

// value reads a counter or gauge without the testutil package (whose
// dependencies are not in go.sum).
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	r := prometheus.NewPedanticRegistry()
	if err := r.Register(c); err != nil {
		t.Fatalf("register: %v", err)
	}
	mfs, err := r.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var v float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

func TestRoundTripEmbedded(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	if err := b.Ready(); err != nil {
		t.Fatalf("Ready = %v, want nil", err)
	}
	if b.Conn() == nil || !b.Conn().IsConnected() {
		t.Fatal("Conn not connected")
	}
	publish(t, b, "acme", "c1", 1, `{"seq":1}`)
	publish(t, b, "acme", "c1", 2, `{"seq":2}`)

	got := make(chan Message) // unbuffered: the handler waits for the test
	consume(t, b, Consumer{Durable: "roundtrip", AckWait: 5 * time.Second}, func(ctx context.Context, m Message) error {
		select {
		case got <- m:
		case <-ctx.Done():
		}
		return nil
	})
	for seq := 1; seq <= 2; seq++ {
		select {
		case m := <-got:
			if want := events.MsgID("c1", uint32(seq)); m.MsgID != want {
				t.Errorf("MsgID = %q, want %q", m.MsgID, want)
			}
			if m.CallID != "c1" || m.Delivery != 1 || m.Subject != "ringside.v1.acme.call.ringing" ||
				string(m.Data) != fmt.Sprintf(`{"seq":%d}`, seq) || m.Sequence != uint64(seq) {
				t.Errorf("message %d = %+v", seq, m)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d not consumed", seq)
		}
	}
}

func TestDuplicateStoredAndConsumedOnce(t *testing.T) {
	noLeaks(t)
	reg := prometheus.NewRegistry()
	b := open(t, testOptions(t, t.TempDir(), reg))
	for range 3 {
		publish(t, b, "acme", "dup", 1, "x")
	}
	if n := streamMsgs(t, b, testStream); n != 1 {
		t.Fatalf("stream holds %d messages, want 1", n)
	}
	if v := value(t, b.m.published.WithLabelValues(resultDuplicate)); v != 2 {
		t.Errorf("published_total{duplicate} = %v, want 2", v)
	}
	var calls atomic.Int32
	consume(t, b, Consumer{Durable: "dup"}, func(context.Context, Message) error {
		calls.Add(1)
		return nil
	})
	eventually(t, 5*time.Second, "one consumption", func() bool { return calls.Load() == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestRetryAfterNakDelay(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	publish(t, b, "acme", "r1", 1, "x")

	const delay = 300 * time.Millisecond
	var (
		mu    sync.Mutex
		times []time.Time
		deliv []int
	)
	done := make(chan struct{})
	consume(t, b, Consumer{
		Durable: "retry", MaxDeliver: 5, AckWait: 5 * time.Second,
		Retry: backoff.Policy{Initial: delay, Max: delay, Jitter: -1},
	}, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		deliv = append(deliv, m.Delivery)
		if len(times) == 1 {
			return errors.New("zoho 503")
		}
		close(done)
		return nil
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("message not redelivered")
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < delay-50*time.Millisecond {
		t.Errorf("redelivered after %s, want >= %s", gap, delay)
	}
	if deliv[0] != 1 || deliv[1] != 2 {
		t.Errorf("deliveries = %v, want [1 2]", deliv)
	}
	cm := b.m.forConsumer("retry")
	eventually(t, time.Second, "ack counted", func() bool { return value(t, cm.ack) == 1 })
	if v := value(t, cm.retry); v != 1 {
		t.Errorf("consumed_total{retry} = %v, want 1", v)
	}
}

func TestRetryAfterFromError(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	publish(t, b, "acme", "r2", 1, "x")
	var first time.Time
	var n atomic.Int32
	done := make(chan time.Time, 1) // one send, then the handler acks
	consume(t, b, Consumer{Durable: "retryafter", Retry: backoff.Policy{Initial: time.Millisecond, Max: time.Millisecond}},
		func(context.Context, Message) error {
			if n.Add(1) == 1 {
				first = time.Now()
				return fault.Retryable(errors.New("429"), 400*time.Millisecond)
			}
			done <- time.Now()
			return nil
		})
	select {
	case at := <-done:
		if gap := at.Sub(first); gap < 350*time.Millisecond {
			t.Errorf("redelivered after %s, want >= 400ms (RetryAfter)", gap)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not redelivered")
	}
}

func TestOrderPerCallUnderLoad(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	const calls, perCall = 50, 40 // 2,000 messages

	// Publishers interleave calls; each call's seqs are published in order.
	var wg sync.WaitGroup
	for p := range 5 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for seq := uint32(1); seq <= perCall; seq++ {
				for c := p; c < calls; c += 5 {
					id := "call-" + strconv.Itoa(c)
					data := id + "|" + strconv.Itoa(int(seq))
					if err := b.PublishCall(ctx, events.CallSubject("t"+strconv.Itoa(c%3), events.Answered), events.MsgID(id, seq), id, []byte(data)); err != nil {
						t.Errorf("publish: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()

	var (
		mu       sync.Mutex
		last     = map[string]int{}
		inFlight = map[string]bool{}
		total    int
		bad      []string
	)
	done := make(chan struct{})
	consume(t, b, Consumer{Durable: "order", Concurrency: 8, AckWait: 10 * time.Second},
		func(_ context.Context, m Message) error {
			id, s, _ := strings.Cut(string(m.Data), "|")
			seq, _ := strconv.Atoi(s)
			mu.Lock()
			if inFlight[id] {
				bad = append(bad, "concurrent "+id)
			}
			inFlight[id] = true
			if seq != last[id]+1 {
				bad = append(bad, fmt.Sprintf("%s: seq %d after %d", id, seq, last[id]))
			}
			mu.Unlock()
			if seq%7 == 0 {
				time.Sleep(200 * time.Microsecond) // let other calls overtake
			}
			mu.Lock()
			defer mu.Unlock()
			inFlight[id] = false
			last[id] = seq
			total++
			if total == calls*perCall {
				close(done)
			}
			return nil
		})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumed %d of %d", total, calls*perCall)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%d order violations, first: %v", len(bad), bad[0])
	}
}

func TestPermanentErrorDeadLetters(t *testing.T) {
	noLeaks(t)
	reg := prometheus.NewRegistry()
	b := open(t, testOptions(t, t.TempDir(), reg))
	publish(t, b, "acme", "p1", 1, `{"bad":true}`)
	var calls atomic.Int32
	consume(t, b, Consumer{Durable: "zoho", MaxDeliver: 5, Retry: backoff.Policy{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond}},
		func(context.Context, Message) error {
			calls.Add(1)
			return fault.Permanent(errors.New("zoho: 400 INVALID_DATA\nfield phone"))
		})
	eventually(t, 5*time.Second, "dead letter", func() bool { return streamMsgs(t, b, testStream+"_DLQ") == 1 })
	time.Sleep(200 * time.Millisecond) // well past the nak delay
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1 (no redelivery after a permanent error)", n)
	}
	dl := lastDeadLetter(t, b, "zoho")
	if dl.Subject != "ringside.v1.deadletter.zoho" {
		t.Errorf("dead letter subject = %q", dl.Subject)
	}
	for k, want := range map[string]string{
		HeaderReason:          "zoho: 400 INVALID_DATA field phone",
		HeaderOriginalSubject: "ringside.v1.acme.call.ringing",
		HeaderDeliveries:      "1",
		HeaderOriginalMsgID:   "p1:1",
		HeaderCallID:          "p1",
	} {
		if got := dl.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if string(dl.Data) != `{"bad":true}` {
		t.Errorf("dead letter data = %q", dl.Data)
	}
	cm := b.m.forConsumer("zoho")
	eventually(t, time.Second, "counters", func() bool {
		return value(t, cm.deadLetter) == 1 && value(t, cm.deadLetters) == 1
	})
}

func TestMaxDeliverDeadLetters(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	publish(t, b, "acme", "m1", 1, "x")
	var calls atomic.Int32
	consume(t, b, Consumer{Durable: "webhook", MaxDeliver: 3, Retry: backoff.Policy{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond}},
		func(context.Context, Message) error {
			calls.Add(1)
			return errors.New("receiver down")
		})
	eventually(t, 5*time.Second, "dead letter", func() bool { return streamMsgs(t, b, testStream+"_DLQ") == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}
	dl := lastDeadLetter(t, b, "webhook")
	if got := dl.Header.Get(HeaderDeliveries); got != "3" {
		t.Errorf("%s = %q, want 3", HeaderDeliveries, got)
	}
	if got := dl.Header.Get(HeaderReason); got != "receiver down" {
		t.Errorf("%s = %q", HeaderReason, got)
	}
	cm := b.m.forConsumer("webhook")
	if r, d := value(t, cm.retry), value(t, cm.deadLetter); r != 2 || d != 1 {
		t.Errorf("consumed_total retry=%v dead_letter=%v, want 2 and 1", r, d)
	}
}

func TestSurvivesRestart(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	reg := prometheus.NewRegistry() // shared: a reopened Bus reuses its collectors
	o := testOptions(t, dir, reg)
	c := Consumer{Durable: "restart"}

	b1, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint32(1); seq <= 5; seq++ {
		publish(t, b1, "acme", "k", seq, "x")
	}
	var seen atomic.Int32
	stop := consume(t, b1, c, func(context.Context, Message) error { seen.Add(1); return nil })
	eventually(t, 5*time.Second, "5 consumed", func() bool { return seen.Load() == 5 })
	eventually(t, 5*time.Second, "acks stored", func() bool {
		ci, err := b1.js.Consumer(context.Background(), testStream, "restart")
		return err == nil && ci.CachedInfo().NumAckPending == 0 && ci.CachedInfo().AckFloor.Stream == 5
	})
	stop()
	for seq := uint32(6); seq <= 8; seq++ {
		publish(t, b1, "acme", "k", seq, "x")
	}
	if err := b1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b1.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close = %v", err)
	}

	b2 := open(t, o)
	if n := streamMsgs(t, b2, testStream); n != 8 {
		t.Fatalf("stream holds %d messages after restart, want 8", n)
	}
	publish(t, b2, "acme", "k", 3, "x") // inside the window: still a duplicate
	if n := streamMsgs(t, b2, testStream); n != 8 {
		t.Fatalf("duplicate stored after restart: %d messages", n)
	}
	var mu sync.Mutex
	var got []string
	consume(t, b2, c, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.MsgID)
		return nil
	})
	eventually(t, 5*time.Second, "3 consumed", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 3 })
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "k:6,k:7,k:8" {
		t.Fatalf("after restart consumed %v, want k:6,k:7,k:8", got)
	}
}

// startServer runs a standalone nats-server with JetStream on 127.0.0.1.
func startServer(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true, Authorization: "s3cret",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("test server not ready")
	}
	return s
}

func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

func TestExternalServerOutage(t *testing.T) {
	noLeaks(t)
	dir := t.TempDir()
	s := startServer(t, server.RANDOM_PORT, dir)
	port := s.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { stopServer(s) })

	o := testOptions(t, "", prometheus.NewRegistry())
	o.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	o.Token = "s3cret"
	b := open(t, o)
	publish(t, b, "acme", "e", 1, "x")
	if err := b.Ready(); err != nil {
		t.Fatalf("Ready = %v", err)
	}

	stopServer(s)
	eventually(t, 5*time.Second, "disconnected", func() bool { return errors.Is(b.Ready(), ErrDisconnected) })
	if v := value(t, b.m.connected); v != 0 {
		t.Errorf("connected gauge = %v while down", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	start := time.Now()
	err := b.Publish(ctx, events.CallSubject("acme", events.Ended), "e:2", []byte("x"))
	cancel()
	if err == nil || fault.IsPermanent(err) {
		t.Fatalf("Publish while down = %v, want a retryable error", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("Publish while down took %s", time.Since(start))
	}

	s = startServer(t, port, dir)
	eventually(t, 10*time.Second, "ready again", func() bool { return b.Ready() == nil })
	publish(t, b, "acme", "e", 2, "x")
	publish(t, b, "acme", "e", 1, "x") // stored before the outage: duplicate
	if n := streamMsgs(t, b, testStream); n != 2 {
		t.Errorf("stream holds %d messages, want 2", n)
	}
	if v := value(t, b.m.reconnects); v < 1 {
		t.Errorf("reconnects_total = %v", v)
	}
}

func TestOpenNothingListening(t *testing.T) {
	noLeaks(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	o := testOptions(t, "", nil)
	o.URL = "nats://user:pw@" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	b, err := Open(ctx, o)
	if b != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open = %v, %v; want ctx deadline error", b, err)
	}
	if strings.Contains(err.Error(), "pw") {
		t.Errorf("error leaks credentials: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open returned after %s", d)
	}
}

func TestEmbeddedListen(t *testing.T) {
	noLeaks(t)
	o := testOptions(t, t.TempDir(), nil)
	o.Listen = "127.0.0.1:0"
	o.Token = "tok"
	b := open(t, o)
	publish(t, b, "acme", "l", 1, "x")

	// A second node joins the embedded server over TCP.
	u := b.srv.ClientURL()
	o2 := testOptions(t, "", nil)
	o2.URL, o2.Token, o2.Name = u, "tok", "node2"
	b2 := open(t, o2)
	publish(t, b2, "acme", "l", 1, "x")
	if n := streamMsgs(t, b2, testStream); n != 1 {
		t.Errorf("stream holds %d, want 1", n)
	}
}

func TestBadPublishIsPermanent(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), nil))
	ctx := context.Background()
	for _, tc := range []struct{ subject, id string }{
		{"ringside.v1.acme.other.x", "a:1"},            // not in the stream
		{"ringside.v1.*.call.ended", "a:1"},            // wildcard
		{events.CallSubject("acme", events.Ended), ""}, // no id
	} {
		err := b.Publish(ctx, tc.subject, tc.id, []byte("x"))
		if !fault.IsPermanent(err) {
			t.Errorf("Publish(%q, %q) = %v, want permanent", tc.subject, tc.id, err)
		}
	}
	big := make([]byte, 2<<20)
	if err := b.Publish(ctx, events.CallSubject("acme", events.Ended), "big:1", big); !fault.IsPermanent(err) {
		t.Errorf("Publish(2 MiB) = %v, want permanent", err)
	}
	if err := b.Consume(ctx, Consumer{Durable: "bad.name"}, nil); !fault.IsPermanent(err) {
		t.Errorf("Consume(bad durable) = %v", err)
	}
}

func TestMetricsLint(t *testing.T) {
	noLeaks(t)
	reg := prometheus.NewRegistry()
	b := open(t, testOptions(t, t.TempDir(), reg))
	publish(t, b, "acme", "lint", 1, "x")
	publish(t, b, "acme", "lint", 1, "x")
	var n atomic.Int32
	consume(t, b, Consumer{Durable: "lint"}, func(context.Context, Message) error { n.Add(1); return nil })
	eventually(t, 5*time.Second, "consumed", func() bool { return n.Load() == 1 })

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "result" && l.GetName() != "consumer" {
					t.Errorf("%s has unexpected label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
	for _, want := range []string{
		"ringside_nats_connected", "ringside_nats_reconnects_total", "ringside_nats_published_total",
		"ringside_nats_publish_duration_seconds", "ringside_nats_consumed_total", "ringside_nats_dead_letters_total",
	} {
		if !names[want] {
			t.Errorf("metric %s missing", want)
		}
	}
}

func TestSubjects(t *testing.T) {
	dl := DeadLetterSubject("zoho")
	if subjectMatches(events.CallSubjects, dl) || subjectMatches(events.CallSubjects, DeadLetterPrefix+".call.x") == subjectMatches(DeadLetterPrefix+".*", DeadLetterPrefix+".call.x") {
		t.Errorf("call and dead-letter subjects overlap")
	}
	for _, tc := range []struct {
		pattern, subject string
		want             bool
	}{
		{events.CallSubjects, "ringside.v1.acme.call.ended", true},
		{events.CallSubjects, "ringside.v1.acme.call.ended.x", false},
		{events.CallSubjects, "ringside.v1.deadletter.zoho", false},
		{"ringside.v1.deadletter.*", "ringside.v1.deadletter.zoho", true},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{"a.b", "a.b", true},
		{"a.*", "a.", false},
	} {
		if got := subjectMatches(tc.pattern, tc.subject); got != tc.want {
			t.Errorf("subjectMatches(%q, %q) = %v", tc.pattern, tc.subject, got)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	got := redactURLs("nats://tok@a:4222, nats://u:p@b:4222,nats://c:4222")
	if want := "nats://a:4222,nats://b:4222,nats://c:4222"; got != want {
		t.Errorf("redactURLs = %q, want %q", got, want)
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\r\nb", 100); got != "a  b" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine("héllo", 2); got != "h" {
		t.Errorf("oneLine cut = %q", got)
	}
}

func TestStopHandsBackPulledMessages(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), nil))
	const total = 100
	for i := range total {
		publish(t, b, "acme", "h"+strconv.Itoa(i), 1, "x")
	}
	c := Consumer{Durable: "handback", AckWait: 30 * time.Second}
	var mu sync.Mutex
	seen := map[string]bool{}
	h := func(_ context.Context, m Message) error {
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		seen[m.MsgID] = true
		return nil
	}
	stop := consume(t, b, c, h)
	eventually(t, 5*time.Second, "a few handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 5 })
	stop()
	// Without the hand-back the buffered messages would wait for AckWait.
	consume(t, b, c, h)
	eventually(t, 5*time.Second, "all handled by the second consumer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == total
	})
}

// Messages waiting out a nak delay count against MaxAckPending: at the
// limit, the server delivers nothing more, so one tenant's failing messages
// stop the others' unless the limit leaves room for them.
func TestMaxAckPendingBoundsWhatWaitingMessagesHoldUp(t *testing.T) {
	noLeaks(t)
	for _, c := range []struct {
		limit     int
		delivered bool
	}{{limit: 5, delivered: false}, {limit: 100, delivered: true}} {
		b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
		for i := range 10 {
			publish(t, b, "stuck", fmt.Sprintf("s%d", i), 1, "x")
		}
		publish(t, b, "acme", "ok1", 1, "x")
		got := make(chan struct{}, 1)
		consume(t, b, Consumer{
			Durable: "pending", MaxDeliver: -1, AckWait: 30 * time.Second, Concurrency: 4, MaxAckPending: c.limit,
			Retry: backoff.Policy{Initial: time.Minute, Max: time.Minute, Jitter: -1},
		}, func(_ context.Context, m Message) error {
			if strings.Contains(m.Subject, ".stuck.") {
				return errors.New("receiver down")
			}
			got <- struct{}{}
			return nil
		})
		select {
		case <-got:
			if !c.delivered {
				t.Errorf("MaxAckPending %d: the other tenant's message was delivered past the limit", c.limit)
			}
		case <-time.After(2 * time.Second):
			if c.delivered {
				t.Errorf("MaxAckPending %d: the other tenant's message waited behind the failing ones", c.limit)
			}
		}
	}
}
