package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/httpapi"
	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
)

// callPBX is a PBX adapter that places click-to-calls and acts on calls in
// progress: both the Asterisk and the FreeSWITCH adapter.
type callPBX interface {
	clicktocall.Originator
	clicktocall.CallController
}

// callsLookback is how far back an HTTP node reads the call events at start
// to know the calls in progress (call control finds them by callrefid).
// Every event carries the whole call, so a longer call is known again at
// its next event.
const callsLookback = 12 * time.Hour

// newRecordings builds the signed recording links and their handler from
// recordings.*; nil when recordings.key_file is empty (nothing served, no
// link in the call logs).
func newRecordings(cfg config.Config, log *zap.Logger) (*httpapi.Recordings, error) {
	if cfg.Recordings.KeyFile == "" {
		return nil, nil
	}
	key, err := httpapi.LoadRecordingKey(cfg.Recordings.KeyFile)
	if err != nil {
		return nil, err
	}
	return httpapi.NewRecordings(httpapi.RecordingsOptions{Dirs: cfg.Recordings.DirList(), Key: key,
		PublicURL: cfg.HTTP.PublicURL, TTL: cfg.Recordings.LinkTTL, Logger: log})
}

// clickSide is the daemon's click-to-call wiring: the node side (originate
// and call-control commands for this node, executed on the PBX) and the
// HTTP side (Zoho's click-to-dial and call-control URLs). stop ends both;
// it is part of stopping the intake, before the PBX adapter stops.
type clickSide struct {
	svc      *clicktocall.Service // nil without Zoho
	node     *clicktocall.Node    // nil when the PBX cannot originate (demo)
	stopCmds []func()
	once     sync.Once
}

// serveNode answers ringside.v1.cmd.<node_id>.originate and .callcontrol
// with the PBX. reporter (Zoho) may be nil: failures are then only logged
// and counted.
func (c *clickSide) serveNode(cfg config.Config, bus *natsbus.Bus, pbx callPBX, reporter clicktocall.Reporter,
	log *zap.Logger, reg prometheus.Registerer) error {
	ep := clicktocall.Endpoints{Desk: cfg.ClickToCall.DeskEndpoint, Outbound: cfg.ClickToCall.OutboundEndpoint,
		CallerID: cfg.ClickToCall.CallerID}.Or(clicktocall.DefaultEndpoints(cfg.PBX.Kind))
	node, err := clicktocall.NewNode(clicktocall.NodeOptions{Originator: pbx, Reporter: reporter, Endpoints: ep,
		RingTimeout: cfg.ClickToCall.RingTimeout, DialTimeout: cfg.ClickToCall.DialTimeout, Logger: log, Registerer: reg})
	if err != nil {
		return fmt.Errorf("click-to-call: %w", err)
	}
	c.node = node
	stop, err := bus.Serve(events.CommandSubject(cfg.NodeID, events.CommandOriginate),
		func(_ context.Context, data []byte) []byte { return node.HandleCommand(data) })
	if err != nil {
		return fmt.Errorf("click-to-call: %w", err)
	}
	c.stopCmds = append(c.stopCmds, stop)
	ctl := clicktocall.Controller{PBX: pbx, IDPrefix: cfg.NodeID + "-"}
	stop, err = bus.Serve(events.CommandSubject(cfg.NodeID, events.CommandCallControl), ctl.HandleCommand)
	if err != nil {
		return fmt.Errorf("click-to-call: %w", err)
	}
	c.stopCmds = append(c.stopCmds, stop)
	return nil
}

// mountHTTP serves the click-to-dial and call-control URLs (Zoho's
// clicktodialuri and callcontrol URIs) and returns the consumer that keeps
// the calls in progress for call control: every HTTP node follows every
// call event itself (an ephemeral consumer from callsLookback ago, so a
// restarted node knows the calls in progress again; a shared durable would
// split the events between nodes and, after a restart, skip the ones it
// had acked before).
func (c *clickSide) mountHTTP(cfg config.Config, srv *httpapi.Server, st stateStore, bus *natsbus.Bus, reporter clicktocall.Reporter,
	names clicktocall.Names, log *zap.Logger, reg prometheus.Registerer) (func(context.Context, *natsbus.Bus) error, error) {
	svc, err := clicktocall.NewService(clicktocall.ServiceOptions{Users: st, Claims: st, Commander: bus, Reporter: reporter, Names: names,
		NodeOf: func(string) string { return cfg.NodeID }, AuthParam: cfg.ClickToCall.AuthParam,
		DedupWindow: cfg.ClickToCall.DedupWindow, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("click-to-call: %w", err)
	}
	c.svc = svc
	calls := clicktocall.NewCalls(zoho.PhoneBridgeCallID)
	control, err := clicktocall.NewControl(clicktocall.ControlOptions{Users: st, Calls: calls, Commander: bus,
		AuthParam: cfg.ClickToCall.AuthParam, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("click-to-call: %w", err)
	}
	srv.Handle("GET /zoho/{tenant}/clicktodial", svc)
	srv.Handle("POST /zoho/{tenant}/clicktodial", svc)
	srv.Handle("GET /zoho/{tenant}/callcontrol/{action}", control)
	srv.Handle("POST /zoho/{tenant}/callcontrol/{action}", control)
	return func(ctx context.Context, bus *natsbus.Bus) error {
		return bus.Follow(ctx, events.CallSubjects, time.Now().Add(-callsLookback), func(m natsbus.Message) {
			var ev events.Call
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				log.Warn("call control: undecodable call event", zap.String("msg_id", m.MsgID), zap.Error(err))
				return
			}
			calls.Observe(ev)
		})
	}, nil
}

// stop refuses further clicks and waits for the refusals being reported,
// stops answering commands, and lets go of the click-to-calls in progress
// (they stay up on the PBX). Idempotent.
func (c *clickSide) stop() {
	c.once.Do(func() {
		if c.svc != nil {
			c.svc.Close()
		}
		for _, stop := range c.stopCmds {
			stop()
		}
		if c.node != nil {
			c.node.Close()
		}
	})
}

// terminalsConsumer is the durable "terminals" consumer: terminal_set
// events (*037, 3037) set the extensions' default terminals in the store.
// A store outage only delays them; an event that cannot be stored is
// dead-lettered.
func terminalsConsumer(terms *clicktocall.Terminals) func(context.Context, *natsbus.Bus) error {
	return func(ctx context.Context, bus *natsbus.Bus) error {
		return bus.Consume(ctx, natsbus.Consumer{
			Durable: "terminals", FilterSubject: events.CallSubject("*", events.TerminalSet), MaxDeliver: -1,
			Retry: backoff.Policy{Initial: time.Second, Max: time.Minute},
		}, func(ctx context.Context, m natsbus.Message) error { return terms.HandleMessage(ctx, m.Data) })
	}
}

// boundPublicURL puts the port the server got into a public URL that says
// port 0 (http.public_url derived from http.listen: 127.0.0.1:0), so links
// and registrations name a port that answers.
func boundPublicURL(public string, addr net.Addr) string {
	u, err := url.Parse(public)
	tcp, ok := addr.(*net.TCPAddr)
	if err != nil || !ok || u.Port() != "0" {
		return public
	}
	u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(tcp.Port))
	return u.String()
}
