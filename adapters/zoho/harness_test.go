package zoho

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const org = "org-acme"

// env is one test's world: a Zoho simulator with an org in the EU data
// centre, a store with tenant "acme" connected to it, a client and a sink.
type env struct {
	t      *testing.T
	sim    *zohosim.Server
	st     *memStore
	c      *Client
	sink   *Sink
	logs   *bytes.Buffer
	users  []zohosim.User
	key    []byte
	ctx    context.Context
	copts  Options
	sopts  SinkOptions
	region string
}

type envOpt struct {
	sim    zohosim.Options
	client func(*Options)
	sink   func(*SinkOptions)
	mode   store.ZohoMode
}

func newEnv(t *testing.T, eo envOpt) *env {
	t.Helper()
	sim := zohosim.New(eo.sim)
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	users := []zohosim.User{
		{ID: "9001", ZohoUser: "pb-1001", Email: "ana@acme.example", Name: "Ana", Admin: true},
		{ID: "9002", ZohoUser: "pb-1002", Email: "ben@acme.example", Name: "Ben"},
		{ID: "9003", ZohoUser: "pb-1003", Email: "cleo@acme.example", Name: "Cleo"},
		{ID: "9009", ZohoUser: "pb-9", Email: "boss@acme.example", Name: "Boss"},
	}
	sim.AddOrg(org, "eu", users...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, sim: sim, st: newMemStore(), users: users, ctx: ctx, logs: &bytes.Buffer{}, region: "DE"}
	mode := eo.mode
	if mode == "" {
		mode = store.ModeREST
	}
	e.st.putTenant(store.Tenant{ID: "acme", Settings: store.Settings{Mode: mode, Region: "DE", DefaultUser: "9009"}})
	for i, ext := range []string{"1001", "1002", "1003"} {
		e.st.link(store.Link{Tenant: "acme", Extension: ext, ZohoUser: users[i].ZohoUser, Email: users[i].Email,
			Switches: store.Switches{Notifications: true, ClickToCall: true}})
	}
	e.key = bytes.Repeat([]byte{7}, 32)
	ci, _ := NewCipher(e.key)
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&syncBuf{b: e.logs}), zap.DebugLevel)
	e.copts = Options{ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), AccountsURL: sim.AccountsURL("us"),
		APIURL: sim.APIDomain("us"), RedirectURL: "http://ringside.test/zoho/oauth/callback", Tenants: e.st, Records: e.st,
		Claims: e.st, Cipher: ci, Timeout: 2 * time.Second, Logger: zap.New(core), Registerer: prometheus.NewRegistry(),
		PausedRetry: 50 * time.Millisecond, Backoff: backoffFast}
	if eo.client != nil {
		eo.client(&e.copts)
	}
	e.c = mustClient(t, e.copts)
	e.sopts = SinkOptions{Client: e.c, Links: e.st, Records: e.st, Claims: e.st, RecordingLink: testRecordingLink,
		RecordingWait: 24 * time.Hour, BatchDelay: 20 * time.Millisecond}
	e.sopts.Lookup = NewLookup(e.c, e.st, LookupOptions{})
	if eo.sink != nil {
		eo.sink(&e.sopts)
	}
	s, err := NewSink(e.sopts)
	if err != nil {
		t.Fatal(err)
	}
	e.sink = s
	rt := sim.SelfClientToken(org, "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.coql.READ,PhoneBridge.call.log")
	if err := e.c.ImportRefreshToken(ctx, "acme", rt, sim.AccountsURL("eu")); err != nil {
		t.Fatalf("import: %v", err)
	}
	sim.ResetRequests()
	return e
}

func mustClient(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncBuf is a goroutine-safe log buffer.
type syncBuf struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// t0 is an hour ago: call times must not be in the future for Zoho.
var t0 = time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)

// script plays calls through the real state machine and returns their
// events in order.
func script(calls ...callgen.Call) []events.Call {
	m := callstate.New(callstate.Options{IDPrefix: "pbx-01-", Node: "pbx-01"})
	ids := &callgen.IDs{Prefix: "L"}
	var out []events.Call
	at := t0
	for _, c := range calls {
		if c.Tenant == "" {
			c.Tenant = "acme"
		}
		for _, s := range callgen.Script(c, ids, at) {
			out = m.Apply(s, out)
		}
		at = at.Add(2 * time.Minute)
	}
	return out
}

// deliver hands events to the sink as a JetStream consumer would: in
// order, a failed message retried after the call's later messages
// (overtaken), until every message was acked or dead-lettered. It returns
// the dead-lettered errors.
func (e *env) deliver(evs []events.Call) []error {
	e.t.Helper()
	queue := append([]events.Call(nil), evs...)
	var dead []error
	for n := 0; len(queue) > 0; n++ {
		if n > 20*len(evs)+200 {
			e.t.Fatalf("events never delivered: %d left, first %s %s", len(queue), queue[0].ID, queue[0].Type)
		}
		ev := queue[0]
		queue = queue[1:]
		err := e.sink.Handle(e.ctx, ev)
		switch {
		case err == nil:
		case fault.IsPermanent(err):
			dead = append(dead, err)
		default:
			if d := fault.RetryAfter(err); d > 0 && d < 200*time.Millisecond && !errors.Is(err, errWaitRecording) {
				time.Sleep(d)
			}
			queue = append(queue, ev)
		}
	}
	return dead
}

var backoffFast = backoff.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

// testRecordingLink stands for the daemon's signed recording links.
func testRecordingLink(_ context.Context, ev events.Call) (string, error) {
	return "https://pbx.example.com/recordings/" + ev.CallID, nil
}
