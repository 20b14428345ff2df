package clicktocall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
)

// Reporter tells a Zoho user that their click-to-call failed (spec zoho.md
// §1.9). *zoho.Client satisfies it.
type Reporter interface {
	ClickToDialError(ctx context.Context, tenant, zohoUser, code, from, to, message string) error
}

// NodeOptions configure a Node.
type NodeOptions struct {
	Originator Originator
	Reporter   Reporter // nil: failures are only logged and counted
	// Endpoints are the dial-string rules (DefaultEndpoints of the PBX,
	// overridden by click_to_call.*).
	Endpoints Endpoints
	// RingTimeout and DialTimeout: click_to_call.ring_timeout (30s) and
	// dial_timeout (45s).
	RingTimeout, DialTimeout time.Duration
	// MaxCalls bounds click-to-calls in progress on this node (1000);
	// beyond it a command is refused as unavailable.
	MaxCalls int
	// ReportTimeout bounds one clicktodialerror report (10s).
	ReportTimeout time.Duration
	Logger        *zap.Logger
	Registerer    prometheus.Registerer
}

// Node executes originate commands on the node that owns the PBX. Each
// accepted command runs in a goroutine the Node owns; Close stops them
// and waits.
type Node struct {
	o   NodeOptions
	log *zap.Logger

	calls    *prometheus.CounterVec
	failures *prometheus.CounterVec
	reports  *prometheus.CounterVec

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	seen   map[string]time.Time // command ids accepted (redelivery is a no-op)
	active int
	closed bool
}

// seenTTL is how long a command id is remembered.
const seenTTL = 10 * time.Minute

// NewNode checks the options.
func NewNode(o NodeOptions) (*Node, error) {
	if o.Originator == nil {
		return nil, errors.New("clicktocall: node needs an Originator")
	}
	if o.Endpoints.Desk == "" || o.Endpoints.Outbound == "" {
		return nil, errors.New("clicktocall: node needs desk and outbound endpoints")
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 30 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 45 * time.Second
	}
	if o.MaxCalls <= 0 {
		o.MaxCalls = 1000
	}
	if o.ReportTimeout <= 0 {
		o.ReportTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	n := &Node{o: o, log: o.Logger.Named("clicktocall"), seen: map[string]time.Time{}}
	var err error
	if n.calls, err = counter(o.Registerer, "calls_total",
		"Click-to-calls placed by the node, by result (bridged, failed, cancelled, error).", "result"); err != nil {
		return nil, err
	}
	if n.failures, err = counter(o.Registerer, "failures_total",
		"Failed click-to-calls by leg (a: the user's terminal, b: the customer) and Zoho code.", "leg", "code"); err != nil {
		return nil, err
	}
	if n.reports, err = counter(o.Registerer, "error_reports_total",
		"clicktodialerror reports sent to Zoho, by result (ok, error).", "result"); err != nil {
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// Close cancels the click-to-calls in progress (the calls themselves stay
// up on the PBX) and waits for their goroutines.
func (n *Node) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}

// HandleCommand is the handler of ringside.v1.cmd.<node>.originate: it
// decodes an events.Originate, starts it and answers at once with the
// reply to send back (JSON of events.CommandReply).
func (n *Node) HandleCommand(payload []byte) []byte {
	r := n.Accept(payload)
	b, _ := json.Marshal(r)
	return b
}

// Accept decodes and starts an originate command. A command id seen in the
// last ten minutes is acknowledged without a second call.
func (n *Node) Accept(payload []byte) events.CommandReply {
	var c events.Originate
	if err := json.Unmarshal(payload, &c); err != nil || c.V != events.Version {
		return events.CommandReply{Code: "invalid", Error: "not a v1 originate command"}
	}
	req, err := n.o.Endpoints.Request(c, n.o.RingTimeout, n.o.DialTimeout)
	if err != nil {
		n.calls.WithLabelValues("error").Inc()
		return events.CommandReply{Code: "invalid", Error: err.Error()}
	}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return events.CommandReply{Code: "unavailable", Error: "node shutting down"}
	case !n.seen[c.ID].IsZero():
		return events.CommandReply{OK: true}
	case n.active >= n.o.MaxCalls:
		return events.CommandReply{Code: "unavailable", Error: "too many click-to-calls in progress"}
	}
	for id, t := range n.seen {
		if now.Sub(t) > seenTTL {
			delete(n.seen, id)
		}
	}
	n.seen[c.ID] = now
	n.active++
	n.wg.Go(func() {
		defer func() {
			n.mu.Lock()
			n.active--
			n.mu.Unlock()
		}()
		n.run(c, req)
	})
	return events.CommandReply{OK: true}
}

// run places one click-to-call and reports its outcome.
func (n *Node) run(c events.Originate, r Request) {
	log := n.log.With(zap.String("click_id", c.ID), zap.String("tenant", c.Tenant), zap.String("extension", c.Extension),
		zap.String("terminal", c.TerminalKind))
	log.Info("click-to-call: ringing the user's terminal")
	err := n.o.Originator.ClickToCall(n.ctx, r)
	if err == nil {
		n.calls.WithLabelValues("bridged").Inc()
		log.Info("click-to-call: connected and ended")
		return
	}
	if n.ctx.Err() != nil {
		return // shutting down: the call, if any, goes on without us
	}
	var f *Failure
	if !errors.As(err, &f) {
		// The PBX could not be asked (link down, refused request).
		f = &Failure{Leg: LegA, Err: err}
	}
	code, msg, report := Explain(f, c.Customer)
	if !report {
		n.calls.WithLabelValues("cancelled").Inc()
		log.Info("click-to-call: the user hung up before the customer answered")
		return
	}
	n.calls.WithLabelValues("failed").Inc()
	n.failures.WithLabelValues(string(f.Leg), code).Inc()
	log.Warn("click-to-call failed", zap.String("leg", string(f.Leg)), zap.String("cause", f.Cause.String()),
		zap.String("code", code), zap.Error(err))
	n.report(log, c.Tenant, c.ZohoUser, code, c.Extension, c.Customer, msg)
}

func (n *Node) report(log *zap.Logger, tenant, zohoUser, code, from, to, msg string) {
	if n.o.Reporter == nil || zohoUser == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.o.ReportTimeout)
	defer cancel()
	if err := n.o.Reporter.ClickToDialError(ctx, tenant, zohoUser, code, from, to, msg); err != nil {
		n.reports.WithLabelValues("error").Inc()
		log.Warn("click-to-call: clicktodialerror not delivered to Zoho", zap.Error(err))
		return
	}
	n.reports.WithLabelValues("ok").Inc()
}

// String describes a request for logs (no secrets in it).
func (r Request) String() string {
	return fmt.Sprintf("click %s: %s/%s via %s", r.ID, r.Tenant, r.Extension, r.Terminal)
}
