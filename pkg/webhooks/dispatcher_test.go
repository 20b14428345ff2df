package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStore is the part of the store a Dispatcher uses, in memory, with
// the contract's compare-and-set and claim semantics (TTLs on the clock).
type memStore struct {
	clock *clock
	mu    sync.Mutex
	subs  map[string]store.Webhook // tenant/id
	claim map[string]time.Time     // key → expiry
	rec   map[string]string
	log   []store.Delivery
	audit []store.AuditEntry
}

func newMemStore(c *clock) *memStore {
	return &memStore{clock: c, subs: map[string]store.Webhook{}, claim: map[string]time.Time{}, rec: map[string]string{}}
}

func (m *memStore) add(w store.Webhook) store.Webhook {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w.Secret == "" {
		w.Secret = testSecret
	}
	if w.State == "" {
		w.State = store.WebhookActive
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = m.clock.Now().Add(-time.Hour)
	}
	if err := w.Validate(); err != nil {
		panic(err)
	}
	w.Version = 1
	m.subs[w.Tenant+"/"+w.ID] = w
	return w
}

func (m *memStore) get(tenant, id string) store.Webhook {
	w, _ := m.Webhook(context.Background(), tenant, id)
	return w
}

func (m *memStore) ListWebhooks(_ context.Context, tenant string) ([]store.Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Webhook
	for _, w := range m.subs {
		if tenant == "" || w.Tenant == tenant {
			out = append(out, w)
		}
	}
	return out, nil
}

func (m *memStore) Webhook(_ context.Context, tenant, id string) (store.Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.subs[tenant+"/"+id]
	if !ok {
		return store.Webhook{}, store.ErrNotFound
	}
	return w, nil
}

func (m *memStore) UpdateWebhook(_ context.Context, w store.Webhook) (store.Webhook, error) {
	if err := w.Validate(); err != nil {
		return store.Webhook{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.subs[w.Tenant+"/"+w.ID]
	switch {
	case !ok:
		return store.Webhook{}, store.ErrNotFound
	case cur.Version != w.Version:
		return store.Webhook{}, store.ErrConflict
	}
	w.Version++
	m.subs[w.Tenant+"/"+w.ID] = w
	return w, nil
}

func (m *memStore) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.claim[key]; ok && m.clock.Now().Before(exp) {
		return false, nil
	}
	m.claim[key] = m.clock.Now().Add(ttl)
	return true, nil
}

func (m *memStore) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claim, key)
	return nil
}

func (m *memStore) PutRecord(_ context.Context, key, value string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rec[key] = value
	return nil
}

func (m *memStore) GetRecord(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.rec[key]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

func (m *memStore) AppendDelivery(_ context.Context, d store.Delivery) (store.Delivery, error) {
	if err := d.Validate(); err != nil {
		return d, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, d)
	return d, nil
}

func (m *memStore) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return e, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return e, nil
}

func (m *memStore) deliveries() []store.Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Delivery(nil), m.log...)
}

// receiver is a fake Poster: it checks every request's signature with the
// subscription's secret (as a receiver would) and answers with answer.
type receiver struct {
	t      *testing.T
	clock  *clock
	mu     sync.Mutex
	answer func(r Request, typ string) (Response, error)
	got    []Request
}

func (r *receiver) Post(ctx context.Context, req Request) (Response, error) {
	r.t.Helper()
	if err := Verify(testSecret, req.Headers[HeaderSignature], req.Body, r.clock.Now(), ReplayWindow); err != nil {
		r.t.Errorf("delivery with a bad signature: %v", err)
	}
	var env struct {
		ID, Type, Challenge string
	}
	if err := json.Unmarshal(req.Body, &env); err != nil {
		r.t.Errorf("body is not JSON: %v", err)
	}
	for _, h := range []string{"Content-Type", "User-Agent", HeaderEventID, HeaderEventType, HeaderTimestamp} {
		if req.Headers[h] == "" {
			r.t.Errorf("request without %s", h)
		}
	}
	if req.Headers[HeaderEventID] != env.ID || req.Headers[HeaderEventType] != env.Type {
		r.t.Errorf("headers %v do not match the body's id and type %s %s", req.Headers, env.ID, env.Type)
	}
	r.mu.Lock()
	r.got = append(r.got, req)
	answer := r.answer
	r.mu.Unlock()
	if answer == nil {
		if env.Type == TypeVerify {
			return Response{Status: 200, Body: []byte(`{"challenge":"` + env.Challenge + `"}`)}, nil
		}
		return Response{Status: 204}, nil
	}
	return answer(req, env.Type)
}

func (r *receiver) set(answer func(Request, string) (Response, error)) {
	r.mu.Lock()
	r.answer = answer
	r.mu.Unlock()
}

// count returns how many requests of type typ (and with event id id, if
// not "") the receiver got.
func (r *receiver) count(typ, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.got {
		if q.Headers[HeaderEventType] == typ && (id == "" || q.Headers[HeaderEventID] == id) {
			n++
		}
	}
	return n
}

func status(code int) func(Request, string) (Response, error) {
	return func(Request, string) (Response, error) {
		return Response{Status: code, Body: []byte("<h1>" + strconv.Itoa(code) + "</h1>\n")}, nil
	}
}

type world struct {
	t     *testing.T
	clock *clock
	st    *memStore
	rcv   *receiver
	reg   *prometheus.Registry
	logs  *observer.ObservedLogs
	d     *Dispatcher
}

func newWorld(t *testing.T, tweak func(*Options)) *world {
	c := &clock{t: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	core, logs := observer.New(zap.InfoLevel)
	w := &world{t: t, clock: c, st: newMemStore(c), rcv: &receiver{t: t, clock: c}, reg: prometheus.NewRegistry(), logs: logs}
	o := Options{Subscriptions: w.st, Keys: w.st, Log: w.st, Audit: w.st, Poster: w.rcv, Timeout: time.Second,
		MaxFailures: 5, Backoff: backoff.Policy{Initial: time.Second, Max: 8 * time.Second, Jitter: -1},
		UserAgent: "Ringside/test", Logger: zap.New(core), Registerer: w.reg, Now: c.Now}
	if tweak != nil {
		tweak(&o)
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	w.d = d
	return w
}

// event returns the call event seq of call c of tenant acme, as published
// now.
func (w *world) event(c string, seq uint32, typ events.Type) Event {
	e := events.Call{V: 1, ID: events.MsgID(c, seq), Type: typ, CallID: c, Seq: seq, Tenant: "acme", At: w.clock.Now()}
	raw, err := json.Marshal(e)
	if err != nil {
		w.t.Fatal(err)
	}
	return Event{MsgID: e.ID, Data: raw, Published: w.clock.Now(), Attempt: 1}
}

// handle runs Handle, then drops the cache of subscriptions, as if the
// next event came after listTTL.
func (w *world) handle(ev Event) error {
	err := w.d.Handle(context.Background(), ev)
	w.d.mu.Lock()
	clear(w.d.cache)
	w.d.mu.Unlock()
	return err
}

func (w *world) metric(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// wantHeld checks that err asks for the event to be retried, not before
// min.
func wantHeld(t *testing.T, what string, err error, min time.Duration) {
	t.Helper()
	if err == nil || fault.IsPermanent(err) {
		t.Fatalf("%s: %v, want a retryable error", what, err)
	}
	if got := fault.RetryAfter(err); got < min {
		t.Fatalf("%s: retry after %s, want at least %s (%v)", what, got, min, err)
	}
}

// TestHandshakeThenDelivery: a pending subscription gets nothing (and
// holds nothing) until the sweep has verified its receiver; then the events
// published after that are delivered, once.
func TestHandshakeThenDelivery(t *testing.T) {
	w := newWorld(t, nil)
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/hooks", State: store.WebhookPending})
	early := w.event("c1", 1, events.Ringing)
	if err := w.handle(early); err != nil || len(w.rcv.got) != 0 {
		t.Fatalf("event for a pending subscription: %v, %d requests; want nothing sent, nothing held", err, len(w.rcv.got))
	}
	w.clock.Add(time.Second)
	w.d.sweep(context.Background())
	if n := w.rcv.count(TypeVerify, ""); n != 1 || len(w.rcv.got) != 1 {
		t.Fatalf("%d handshakes, %d requests; want the handshake only", n, len(w.rcv.got))
	}
	got := w.st.get("acme", "wh_1")
	if got.State != store.WebhookActive || !got.VerifiedAt.Equal(w.clock.Now()) || got.Failures != 0 {
		t.Fatalf("subscription after the handshake: %+v", got)
	}
	if err := w.handle(early); err != nil || len(w.rcv.got) != 1 {
		t.Fatalf("event published before the verification: %v, %d requests; want it not delivered", err, len(w.rcv.got))
	}
	w.clock.Add(time.Second)
	ev := w.event("c1", 2, events.Answered)
	if err := w.handle(ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	id := EventID(ev.MsgID)
	if n := w.rcv.count("call.answered", id); n != 1 {
		t.Fatalf("event delivered %d times, want once", n)
	}
	if first := w.rcv.got[0]; first.Headers[HeaderEventType] != TypeVerify || first.Headers["User-Agent"] != "Ringside/test" {
		t.Fatalf("first request %v, want the handshake", first.Headers)
	}
	var env Envelope
	if err := json.Unmarshal(w.rcv.got[1].Body, &env); err != nil || env.ID != id || env.Tenant != "acme" || env.Type != "call.answered" {
		t.Fatalf("delivered envelope %+v (%v)", env, err)
	}
	log := w.st.deliveries()
	if len(log) != 2 || log[0].EventType != TypeVerify || log[1].EventID != id || log[1].Result != store.DeliveryOK || log[1].Status != 204 || log[1].Attempt != 1 {
		t.Fatalf("delivery log %+v", log)
	}
	if n := w.metric(w.d.m.verifications.WithLabelValues("ok")); n != 1 {
		t.Errorf("verifications ok = %v", n)
	}
	if n := w.metric(w.d.m.deliveries.WithLabelValues("ok")); n != 1 {
		t.Errorf("deliveries ok = %v", n)
	}
	// The same event again (a redelivery): not sent again.
	if err := w.handle(ev); err != nil {
		t.Fatal(err)
	}
	if n := w.rcv.count("call.answered", id); n != 1 {
		t.Fatalf("redelivered event sent %d times, want once", n)
	}
}

func TestHandshakeEcho(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(challenge string) Response
		ok     bool
	}{
		{"json", func(c string) Response { return Response{Status: 200, Body: []byte(`{"challenge": "` + c + `"}`)} }, true},
		{"plain token", func(c string) Response { return Response{Status: 200, Body: []byte(c + "\n")} }, true},
		{"201 plain", func(c string) Response { return Response{Status: 201, Body: []byte(c)} }, true},
		{"200 without echo", func(string) Response { return Response{Status: 200, Body: []byte("ok")} }, false},
		{"wrong challenge", func(string) Response { return Response{Status: 200, Body: []byte(`{"challenge":"nope"}`)} }, false},
		{"404 with echo", func(c string) Response { return Response{Status: 404, Body: []byte(c)} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil)
			w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/hooks", State: store.WebhookPending})
			w.rcv.set(func(r Request, typ string) (Response, error) {
				var v Verification
				_ = json.Unmarshal(r.Body, &v)
				return tc.answer(v.Challenge), nil
			})
			got, err := w.d.Verify(context.Background(), "acme", "wh_1")
			if tc.ok {
				if err != nil || got.State != store.WebhookActive {
					t.Fatalf("Verify = %+v, %v; want active", got, err)
				}
				return
			}
			if err == nil || got.State != store.WebhookPending || got.Failures != 1 || !strings.Contains(got.Reason, "verification failed, 1 in a row") {
				t.Fatalf("Verify = %+v, %v; want pending with one failure", got, err)
			}
			if log := w.st.deliveries(); len(log) != 1 || log[0].Result != store.DeliveryHTTPError {
				t.Fatalf("delivery log %+v", log)
			}
		})
	}
}

// TestReceiverDownThenDeliveredOnce: 503 → held with the backoff, not
// tried again before it; the receiver back, the event goes once.
func TestReceiverDownThenDeliveredOnce(t *testing.T) {
	w := newWorld(t, nil)
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/hooks"})
	ev := w.event("c1", 5, events.Ended)
	id := EventID(ev.MsgID)
	w.rcv.set(status(503))
	wantHeld(t, "receiver down", w.handle(ev), 900*time.Millisecond)
	sub := w.st.get("acme", "wh_1")
	if sub.Failures != 1 || sub.State != store.WebhookActive || !strings.Contains(sub.Reason, "HTTP 503: <h1>503</h1>") {
		t.Fatalf("after a 503: %+v", sub)
	}
	// Redelivered before the backoff has passed: held, nothing sent.
	wantHeld(t, "in backoff", w.handle(ev), time.Millisecond)
	if n := w.rcv.count("call.ended", id); n != 1 {
		t.Fatalf("sent %d times during the backoff, want 1", n)
	}
	w.clock.Add(2 * time.Second)
	w.rcv.set(nil)
	if err := w.handle(ev); err != nil {
		t.Fatalf("receiver back: %v", err)
	}
	for range 3 { // more redeliveries: nothing more
		if err := w.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.rcv.count("call.ended", id); n != 2 {
		t.Fatalf("sent %d times, want 2 (the 503, then once)", n)
	}
	log := w.st.deliveries()
	if len(log) != 2 || log[0].Result != store.DeliveryHTTPError || log[0].Status != 503 || log[1].Result != store.DeliveryOK {
		t.Fatalf("delivery log %+v", log)
	}
	if sub := w.st.get("acme", "wh_1"); sub.Failures != 0 || !sub.RetryAt.IsZero() || sub.Reason != "" {
		t.Fatalf("failures not cleared after the success: %+v", sub)
	}
	if n := w.metric(w.d.m.deliveries.WithLabelValues("http_error")); n != 1 {
		t.Errorf("deliveries http_error = %v", n)
	}
}

// TestRedeliveryOnlyToThoseMissing: of two subscriptions, the one that
// got the event is not sent it again when the other's retry comes.
func TestRedeliveryOnlyToThoseMissing(t *testing.T) {
	w := newWorld(t, nil)
	w.st.add(store.Webhook{Tenant: "acme", ID: "up", URL: "https://up.example/"})
	w.st.add(store.Webhook{Tenant: "acme", ID: "down", URL: "https://down.example/"})
	w.rcv.set(func(r Request, _ string) (Response, error) {
		if strings.Contains(r.URL, "down") {
			return Response{Status: 500}, nil
		}
		return Response{Status: 200}, nil
	})
	ev := w.event("c1", 1, events.Ended)
	wantHeld(t, "one down", w.handle(ev), 900*time.Millisecond)
	w.clock.Add(2 * time.Second)
	w.rcv.set(nil)
	if err := w.handle(ev); err != nil {
		t.Fatal(err)
	}
	var up, down int
	for _, r := range w.rcv.got {
		if strings.Contains(r.URL, "down") {
			down++
		} else {
			up++
		}
	}
	if up != 1 || down != 2 {
		t.Fatalf("up got %d, down %d requests; want 1 and 2", up, down)
	}
}

// TestFailuresCountedOncePerRound: many workers failing at once count one
// round, and while the subscription is in backoff one probe goes at a time.
func TestFailuresCountedOncePerRound(t *testing.T) {
	w := newWorld(t, nil)
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/"})
	w.rcv.set(status(502))
	var wg sync.WaitGroup
	evs := make([]Event, 8)
	for i := range evs {
		evs[i] = w.event(fmt.Sprintf("c%d", i), 1, events.Ended)
	}
	_, _ = w.d.subscriptions(context.Background(), "acme") // every worker sees it failure-free
	for _, ev := range evs {
		wg.Go(func() { wantHeld(t, "worker", w.d.Handle(context.Background(), ev), time.Millisecond) })
	}
	wg.Wait()
	if sub := w.st.get("acme", "wh_1"); sub.Failures != 1 {
		t.Fatalf("%d failures counted, want 1 round", sub.Failures)
	}
	w.clock.Add(2 * time.Second)
	before := len(w.rcv.got)
	for _, ev := range evs {
		wg.Go(func() { wantHeld(t, "worker", w.d.Handle(context.Background(), ev), time.Millisecond) })
	}
	wg.Wait()
	if n := len(w.rcv.got) - before; n != 1 {
		t.Fatalf("%d probes in the second round, want 1", n)
	}
	if sub := w.st.get("acme", "wh_1"); sub.Failures != 2 {
		t.Fatalf("%d failures counted, want 2 rounds", sub.Failures)
	}
}

// TestBackoffCapped: the rounds of a failing subscription double from
// Backoff.Initial up to Backoff.Max.
func TestBackoffCapped(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.MaxFailures = 100 })
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/"})
	w.rcv.set(func(Request, string) (Response, error) { return Response{}, errors.New("connection refused") })
	var gaps []time.Duration
	for i := range 6 {
		now := w.clock.Now()
		wantHeld(t, "refused", w.handle(w.event("c1", uint32(i+1), events.Ended)), time.Millisecond)
		sub := w.st.get("acme", "wh_1")
		gaps = append(gaps, sub.RetryAt.Sub(now))
		w.clock.Add(sub.RetryAt.Sub(w.clock.Now()))
	}
	want := []time.Duration{1, 2, 4, 8, 8, 8}
	for i, g := range gaps {
		if g != want[i]*time.Second {
			t.Fatalf("round gaps %v, want %v seconds", gaps, want)
		}
	}
	if n := w.metric(w.d.m.deliveries.WithLabelValues("network_error")); n != 6 {
		t.Errorf("deliveries network_error = %v, want 6", n)
	}
}

// TestAutoDisable: after MaxFailures failed rounds the subscription is
// disabled, with a log line, the metric and an audit entry, and gets
// nothing more.
func TestAutoDisable(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.MaxFailures = 3 })
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/"})
	w.rcv.set(status(500))
	ev := w.event("c1", 1, events.Ended)
	for round := 1; round <= 3; round++ {
		err := w.handle(ev)
		if round < 3 {
			wantHeld(t, "round "+strconv.Itoa(round), err, time.Millisecond)
		} else if err != nil {
			t.Fatalf("last round: %v, want nil (nothing left to deliver to)", err)
		}
		w.clock.Add(10 * time.Second)
	}
	sub := w.st.get("acme", "wh_1")
	if sub.State != store.WebhookDisabled || !strings.HasPrefix(sub.Reason, "disabled after 3 consecutive failed attempts; last: HTTP 500") {
		t.Fatalf("after 3 failed rounds: %+v", sub)
	}
	if n := w.metric(w.d.m.disabled); n != 1 {
		t.Errorf("disabled_total = %v", n)
	}
	if len(w.st.audit) != 1 || w.st.audit[0].Action != "webhook.disable" || w.st.audit[0].Via != store.ViaDaemon || w.st.audit[0].Target != "wh_1" {
		t.Fatalf("audit %+v", w.st.audit)
	}
	if e := w.logs.FilterMessage("webhook subscription disabled").All(); len(e) != 1 || e[0].Level != zap.ErrorLevel {
		t.Fatalf("disable log lines %+v", e)
	}
	before := len(w.rcv.got)
	w.rcv.set(nil)
	for i := range 3 {
		if err := w.handle(w.event("c2", uint32(i+1), events.Ended)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.rcv.got) - before; n != 0 {
		t.Fatalf("a disabled subscription got %d requests", n)
	}
	for _, v := range w.st.audit {
		if strings.Contains(v.Detail, testSecret) {
			t.Fatal("the secret reached the audit log")
		}
	}
}

func TestFilters(t *testing.T) {
	w := newWorld(t, nil)
	w.st.add(store.Webhook{Tenant: "acme", ID: "ended", URL: "https://a.example/", Events: []string{"ended"}})
	w.st.add(store.Webhook{Tenant: "acme", ID: "all", URL: "https://b.example/"})
	w.st.add(store.Webhook{Tenant: "globex", ID: "other", URL: "https://c.example/"})
	w.st.add(store.Webhook{Tenant: "acme", ID: "later", URL: "https://d.example/", CreatedAt: w.clock.Now().Add(time.Minute)})
	for i, typ := range []events.Type{events.Ringing, events.Ended} {
		if err := w.handle(w.event("c1", uint32(i+1), typ)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	for _, r := range w.rcv.got {
		got[r.URL]++
	}
	if got["https://a.example/"] != 1 || got["https://b.example/"] != 2 || len(got) != 2 {
		t.Fatalf("requests by URL %v: want ended only to a, both to b, nothing to globex or to a subscription created after the events", got)
	}
}

func TestInsecureURL(t *testing.T) {
	w := newWorld(t, nil)
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "http://127.0.0.1:9/hooks"})
	if err := w.handle(w.event("c1", 1, events.Ended)); err != nil {
		t.Fatal(err)
	}
	if sub := w.st.get("acme", "wh_1"); sub.State != store.WebhookDisabled || !strings.Contains(sub.Reason, "URL not allowed") {
		t.Fatalf("http URL without allow_insecure: %+v", sub)
	}
	if len(w.rcv.got) != 0 {
		t.Fatal("an http URL got a request without allow_insecure")
	}

	w = newWorld(t, func(o *Options) { o.AllowInsecure = true })
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "http://127.0.0.1:9/hooks"})
	if err := w.handle(w.event("c1", 1, events.Ended)); err != nil || len(w.rcv.got) != 1 {
		t.Fatalf("http to loopback with allow_insecure: %v, %d requests", err, len(w.rcv.got))
	}
}

func TestTimeout(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.Timeout = 20 * time.Millisecond })
	w.st.add(store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://slow.example/"})
	w.rcv.set(func(r Request, _ string) (Response, error) {
		time.Sleep(50 * time.Millisecond) // the Poster returns when its context ends; this one is late
		return Response{}, fmt.Errorf("post: %w", context.DeadlineExceeded)
	})
	wantHeld(t, "timeout", w.handle(w.event("c1", 1, events.Ended)), time.Millisecond)
	log := w.st.deliveries()
	if len(log) != 1 || log[0].Result != store.DeliveryTimeout || log[0].Error != "no answer within 20ms" {
		t.Fatalf("delivery log %+v", log)
	}
	if n := w.metric(w.d.m.deliveries.WithLabelValues("timeout")); n != 1 {
		t.Errorf("deliveries timeout = %v", n)
	}
}

func TestUndecodableEvent(t *testing.T) {
	w := newWorld(t, nil)
	if err := w.d.Handle(context.Background(), Event{MsgID: "x:1", Data: []byte("{")}); !fault.IsPermanent(err) {
		t.Fatalf("undecodable event: %v, want permanent", err)
	}
}

// TestSweep: Run verifies a pending subscription without waiting for a
// call, and leaves active and disabled ones alone.
func TestSweep(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.SweepInterval = 10 * time.Millisecond })
	w.st.add(store.Webhook{Tenant: "acme", ID: "pending", URL: "https://a.example/", State: store.WebhookPending})
	w.st.add(store.Webhook{Tenant: "acme", ID: "active", URL: "https://b.example/"})
	w.st.add(store.Webhook{Tenant: "acme", ID: "off", URL: "https://c.example/", State: store.WebhookDisabled})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.d.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for w.st.get("acme", "pending").State != store.WebhookActive {
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not verify the pending subscription")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if n := w.rcv.count(TypeVerify, ""); n != 1 || len(w.rcv.got) != 1 {
		t.Fatalf("%d handshakes, %d requests; want one handshake only", n, len(w.rcv.got))
	}
}

func TestMetricsLint(t *testing.T) {
	w := newWorld(t, nil)
	problems, err := testutil.GatherAndLint(w.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(w.reg)
	if err != nil || n != 10 {
		t.Errorf("%d metrics (%v), want deliveries×4, verifications×4, disabled and the duration histogram", n, err)
	}
}
