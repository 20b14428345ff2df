package clicktocall

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/asterisk"
	"github.com/ringside/ringside/adapters/freeswitch"
	"github.com/ringside/ringside/adapters/httpapi"
	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/zoho"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

const (
	org      = "org-acme"
	node     = "pbx-01"
	zohoUser = "pb-1001"
	customer = "+4930123456"
)

// sink feeds a real state machine like the pipeline, and hands
// terminal_set events to Terminals like the consumer the daemon runs.
type sink struct {
	mu     sync.Mutex
	m      *callstate.Machine
	events []events.Call
	terms  *clicktocall.Terminals
	calls  *clicktocall.Calls
	t      testing.TB
}

func (s *sink) Submit(ctx context.Context, sig callstate.Signal) error {
	s.mu.Lock()
	n := len(s.events)
	s.events = s.m.Apply(sig, s.events)
	fresh := append([]events.Call(nil), s.events[n:]...)
	s.mu.Unlock()
	for _, ev := range fresh {
		s.calls.Observe(ev)
		if ev.Type == events.TerminalSet {
			if err := s.terms.Handle(ctx, ev); err != nil {
				s.t.Errorf("terminals: %v", err)
			}
		}
	}
	return ctx.Err()
}

func (s *sink) LiveLegs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.LiveLegs()
}

func (s *sink) snapshot() []events.Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]events.Call(nil), s.events...)
}

// world is one test's Ringside: embedded NATS and store, Zoho simulator
// and client, HTTP server with the click-to-dial handler, the node with one
// PBX adapter on its simulator.
type world struct {
	t      testing.TB
	ctx    context.Context
	kv     *natskv.Store
	zsim   *zohosim.Server
	base   string
	secret string
	sink   *sink
	lookup *zoho.Lookup // the caller-lookup cache the click reads leg A's name from
	ids    atomic.Int64
	ari    *arisim.Server
	ast    *asterisk.Adapter
	esl    *eslsim.Server
	node   *clicktocall.Node
	reg    *prometheus.Registry
	// onOriginate, if set, is called when the node accepts an originate.
	onOriginate func()
}

func newWorld(t testing.TB, pbx string) *world { return newWorldVia(t, pbx, nil) }

// newWorldVia lets via put something (a timing proxy) between the
// Asterisk adapter and the simulator's ARI URL.
func newWorldVia(t testing.TB, pbx string, via func(ariURL string) string) *world {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	log := zap.NewNop()
	if tt, ok := t.(*testing.T); ok {
		log = zaptest.NewLogger(tt, zaptest.Level(zap.WarnLevel))
	}
	w := &world{t: t, ctx: ctx, secret: zoho.NewSecret(), reg: prometheus.NewRegistry()}

	bus, err := natsbus.Open(ctx, natsbus.Options{DataDir: t.TempDir(), Name: node, Stream: "RINGSIDE_CALLS",
		Subjects: []string{events.CallSubjects}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	js, err := jetstream.New(bus.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if w.kv, err = natskv.New(ctx, js, "ringside"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.kv.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme", Settings: store.Settings{Mode: store.ModePhoneBridge}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.kv.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001", Name: "Ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.kv.Link(ctx, store.Link{Tenant: "acme", Extension: "1001", ZohoUser: zohoUser, Secret: w.secret,
		Switches: store.Switches{Notifications: true, ClickToCall: true}}); err != nil {
		t.Fatal(err)
	}

	// Zoho.
	w.zsim = zohosim.New(zohosim.Options{})
	if err := w.zsim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.zsim.Close)
	w.zsim.AddOrg(org, "eu", zohosim.User{ID: "9001", ZohoUser: zohoUser, Email: "ana@acme.example", Name: "Ana"})
	ci, _ := zoho.NewCipher(bytes.Repeat([]byte{7}, 32))
	zc, err := zoho.New(zoho.Options{ClientID: w.zsim.ClientID(), ClientSecret: w.zsim.ClientSecret(),
		AccountsURL: w.zsim.AccountsURL("us"), APIURL: w.zsim.APIDomain("us"), Tenants: w.kv, Records: w.kv, Claims: w.kv,
		Cipher: ci, Timeout: 2 * time.Second, Logger: log, Backoff: backoff.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	rt := w.zsim.SelfClientToken(org, "ZohoCRM.modules.ALL,PhoneBridge.call.log")
	if err := zc.ImportRefreshToken(ctx, "acme", rt, w.zsim.AccountsURL("eu")); err != nil {
		t.Fatal(err)
	}

	// The PBX and the node.
	w.sink = &sink{m: callstate.New(callstate.Options{IDPrefix: node + "-", Node: node, DefaultTenant: "acme"}), t: t,
		calls: clicktocall.NewCalls(zoho.PhoneBridgeCallID)}
	terms, err := clicktocall.NewTerminals(w.kv, w.kv, log, w.reg)
	if err != nil {
		t.Fatal(err)
	}
	w.sink.terms = terms
	var orig interface {
		clicktocall.Originator
		clicktocall.CallController
	}
	runCtx, stopPBX := context.WithCancel(context.Background())
	var pbxDone sync.WaitGroup
	switch pbx {
	case config.PBXAsterisk:
		w.ari = arisim.New(arisim.Options{Tenant: "acme", ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}})
		if err := w.ari.Start(); err != nil {
			t.Fatal(err)
		}
		ariURL := w.ari.URL()
		if via != nil {
			ariURL = via(ariURL)
		}
		w.ast, err = asterisk.New(asterisk.Options{PBX: config.PBX{DefaultTenant: "acme",
			Tenant:    config.TenantRule{From: config.TenantContextPrefix, Separator: "-"},
			Asterisk:  config.Asterisk{URL: ariURL, Username: "ringside", Password: "secret", App: "ringside"},
			Reconnect: backoff.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}},
			RequestTimeout: 2 * time.Second, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		pbxDone.Go(func() { _ = w.ast.Run(runCtx, w.sink) })
		if err := w.ari.WaitSockets(ctx, 1); err != nil {
			t.Fatal(err)
		}
		orig = w.ast
	case config.PBXFreeSWITCH:
		w.esl, err = eslsim.Start(eslsim.Options{Password: "ClueCon", HeartbeatInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := freeswitch.New(freeswitch.Options{FreeSWITCH: config.FreeSWITCH{Address: w.esl.Addr(), Password: "ClueCon"},
			PBX:    config.PBX{DefaultTenant: "acme", Tenant: config.TenantRule{From: config.TenantVariable, Variable: "domain_name"}},
			Logger: log, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		pbxDone.Go(func() { _ = fs.Run(runCtx, w.sink) })
		eventually(t, "FreeSWITCH connected", func() bool { return fs.Ready() == nil })
		orig = fs
	}
	w.node, err = clicktocall.NewNode(clicktocall.NodeOptions{Originator: orig, Reporter: zc,
		Endpoints: clicktocall.DefaultEndpoints(pbx), RingTimeout: 30 * time.Second, DialTimeout: 45 * time.Second,
		Logger: log, Registerer: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := bus.Conn().Subscribe(events.CommandSubject(node, events.CommandOriginate), func(m *nats.Msg) {
		if w.onOriginate != nil {
			w.onOriginate()
		}
		_ = m.Respond(w.node.HandleCommand(m.Data))
	})
	if err != nil {
		t.Fatal(err)
	}
	ctl := clicktocall.Controller{PBX: orig, IDPrefix: node + "-"}
	ctlSub, err := bus.Conn().Subscribe(events.CommandSubject(node, events.CommandCallControl), func(m *nats.Msg) {
		_ = m.Respond(ctl.HandleCommand(ctx, m.Data))
	})
	if err != nil {
		t.Fatal(err)
	}

	// HTTP: the click-to-dial and call-control handlers.
	w.lookup = zoho.NewLookup(zc, w.kv, zoho.LookupOptions{})
	svc, err := clicktocall.NewService(clicktocall.ServiceOptions{Users: w.kv, Claims: w.kv, Commander: bus,
		Reporter: zc, Names: w.lookup, NodeOf: func(string) string { return node }, AuthParam: "ringside_auth", DedupWindow: 2 * time.Second,
		Logger: log, Registerer: w.reg, NewID: func() string { return fmt.Sprintf("t%d", w.ids.Add(1)) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Listen: "127.0.0.1:0", Logger: log})
	srv.Handle("GET /zoho/{tenant}/clicktodial", svc)
	srv.Handle("POST /zoho/{tenant}/clicktodial", svc)
	control, err := clicktocall.NewControl(clicktocall.ControlOptions{Users: w.kv, Calls: w.sink.calls,
		Commander: bus, AuthParam: "ringside_auth", Logger: log, Registerer: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("GET /zoho/{tenant}/callcontrol/{action}", control)
	srv.Handle("POST /zoho/{tenant}/callcontrol/{action}", control)
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	var httpDone sync.WaitGroup
	httpDone.Go(func() { _ = srv.Run(httpCtx, func(a net.Addr) { addr <- a }) })
	w.base = "http://" + (<-addr).String()
	if err := zc.RegisterUser(ctx, "acme", zoho.Registration{ZohoUser: zohoUser,
		ClickToDial: clicktocall.ClickToDialURL(w.base, "acme"), CallControl: clicktocall.CallControlURLs(w.base, "acme"),
		Secret: w.secret}); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() {
		stopHTTP()
		httpDone.Wait()
		svc.Close()
		_ = sub.Unsubscribe()
		_ = ctlSub.Unsubscribe()
		w.node.Close()
		stopPBX()
		pbxDone.Wait()
		if w.ari != nil {
			w.ari.Close()
		}
		if w.esl != nil {
			_ = w.esl.Close()
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return w
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// click plays the Zoho user clicking number (through the simulator, with
// the registered secret).
func (w *world) click(number string) int {
	w.t.Helper()
	code, err := w.zsim.ClickToDial(w.ctx, org, zohoUser, number)
	if err != nil {
		w.t.Fatal(err)
	}
	return code
}

// post sends a click-to-dial request by hand.
func (w *world) post(form url.Values) int {
	w.t.Helper()
	resp, err := http.Post(clicktocall.ClickToDialURL(w.base, "acme"), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// dialErrors are the clicktodialerror requests Zoho received.
func (w *world) dialErrors() []url.Values {
	var out []url.Values
	w.zsim.Org(org, func(o *zohosim.Org) { out = append(out, o.DialErrors...) })
	return out
}

// c2cCalls returns the click_to_call calls' ended events, and how many
// calls started.
func (w *world) c2cCalls() (ended []events.Call, started int) {
	for _, e := range w.sink.snapshot() {
		if e.Origin != events.OriginClickToCall {
			continue
		}
		switch e.Type {
		case events.Started:
			started++
		case events.Ended:
			ended = append(ended, e)
		}
	}
	return ended, started
}
