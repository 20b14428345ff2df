package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/asterisk"
	"github.com/ringside/ringside/adapters/freeswitch"
	"github.com/ringside/ringside/adapters/httpapi"
	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/buildinfo"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/health"
	"github.com/ringside/ringside/pkg/pipeline"
)

// signalSource feeds PBX-neutral signals into the pipeline until ctx ends:
// a PBX adapter, or the demo's call generator.
type signalSource interface {
	Run(ctx context.Context, sink *pipeline.Pipeline) error
	Ready() error
}

// daemonHooks are what differs between `serve` and `demo`.
type daemonHooks struct {
	// pbx builds the signal source; reg is for its metrics.
	pbx func(reg prometheus.Registerer) (signalSource, error)
	// consumers run beside the pipeline on the bus until the drain ends.
	consumers []func(ctx context.Context, bus *natsbus.Bus) error
	// prepare runs once the store (and Zoho, when configured) are up,
	// before consumers start: the demo seeds its tenants there.
	prepare func(ctx context.Context, s services) error
	// started is called once Ringside is ready to take work.
	started func(httpAddr net.Addr)
}

// services are what runDaemon built that hooks may use.
type services struct {
	// cfg is the effective configuration: http.public_url names the port
	// the server got when http.listen said port 0.
	cfg   config.Config
	store stateStore
	zoho  *zohoSide // nil when zoho.client_id is empty
	dir   *directory.Service
}

// runDaemon runs Ringside until ctx is cancelled (SIGTERM) or a component
// fails, then drains: not ready → stop intake (click-to-dial, the node's
// commands, then the PBX) → persist the calls in progress → publish what is
// queued (bounded by shutdown.drain_timeout) → stop consumers → close NATS
// → stop HTTP.
func runDaemon(ctx context.Context, cfg config.Config, log *zap.Logger, h daemonHooks) error {
	info := buildinfo.Get()
	log.Info("starting", zap.String("version", info.Version), zap.String("commit", info.Commit),
		zap.String("node_id", cfg.NodeID), zap.String("pbx", cfg.PBX.Kind), zap.String("data_dir", cfg.DataDir))

	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	reg := httpapi.NewRegistry(info)
	pbx, err := h.pbx(reg)
	if err != nil {
		return fmt.Errorf("pbx: %w", err)
	}
	ready := health.New()
	ready.Register("pbx", pbx.Ready)
	var bus atomic.Pointer[natsbus.Bus]
	ready.Register("nats", func() error {
		if b := bus.Load(); b != nil {
			return b.Ready()
		}
		return errors.New("connecting")
	})

	// HTTP first, so that /healthz and /readyz answer while NATS connects.
	srv := httpapi.New(httpapi.Options{
		Listen: cfg.HTTP.Listen, Ready: ready, Gatherer: reg, Registerer: reg,
		Logger: log,
	})
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	listening := make(chan net.Addr, 1) // written once by Run's callback
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := srv.Run(httpCtx, func(a net.Addr) { listening <- a }); err != nil {
			fail(err)
		}
	}()
	var httpAddr net.Addr
	select {
	case httpAddr = <-listening:
	case <-runCtx.Done():
		stopHTTP()
		<-httpDone
		return cause(ctx, runCtx)
	}
	defer func() { stopHTTP(); <-httpDone }()
	cfg.HTTP.PublicURL = boundPublicURL(cfg.HTTP.PublicURL, httpAddr)
	rec, err := newRecordings(cfg, log)
	if err != nil {
		return orCause(ctx, runCtx, err)
	}
	var recLink func(context.Context, events.Call) (string, error) // nil: call logs carry no recording link
	if rec != nil {
		srv.Handle("GET /recordings/{token}", rec)
		recLink = rec.LinkFunc()
		log.Info("recordings served", zap.String("url", cfg.HTTP.PublicURL+"/recordings/"), zap.Strings("dirs", cfg.Recordings.DirList()))
	}

	if cfg.NATS.Embedded() {
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return orCause(ctx, runCtx, err)
		}
		defer lock.Unlock()
	}
	b, err := natsbus.Open(runCtx, natsbus.Options{
		URL: cfg.NATS.URL, Token: cfg.NATS.Token.Value(), Listen: cfg.NATS.Listen,
		DataDir: filepath.Join(cfg.DataDir, "nats"), Name: "ringside-" + cfg.NodeID,
		Stream: cfg.NATS.Stream, Subjects: []string{events.CallSubjects},
		Replicas: cfg.NATS.Replicas, MaxAge: cfg.NATS.MaxAge, DuplicateWindow: cfg.NATS.DuplicateWindow,
		Logger: log.Named("nats"), Registerer: reg,
	})
	if err != nil {
		return orCause(ctx, runCtx, fmt.Errorf("nats: %w", err))
	}
	bus.Store(b)
	defer func() {
		if err := b.Close(); err != nil {
			log.Warn("closing nats", zap.Error(err))
		}
	}()

	st, closeStore, err := openStore(runCtx, cfg, b)
	if err != nil {
		return orCause(ctx, runCtx, err)
	}
	defer closeStore()
	probeCtx, stopProbe := context.WithCancel(context.WithoutCancel(ctx))
	probe := newProber(st.Ready, 5*time.Second)
	probeDone := make(chan struct{})
	go func() { defer close(probeDone); probe.Run(probeCtx) }()
	defer func() { stopProbe(); <-probeDone }()
	ready.Register("store", probe.Ready)
	if created, err := ensureTenant(runCtx, st, cfg.PBX.DefaultTenant); err != nil {
		return orCause(ctx, runCtx, err)
	} else if created {
		log.Info("default tenant created", zap.String("tenant", cfg.PBX.DefaultTenant))
	}
	svc := services{cfg: cfg, store: st}
	terms, err := clicktocall.NewTerminals(st, st, log, reg)
	if err != nil {
		return err
	}
	consumerFns := append(append([]func(context.Context, *natsbus.Bus) error(nil), h.consumers...), terminalsConsumer(terms), webhooksConsumer(cfg, st, log, reg))
	// Click-to-call reports failures to the user through Zoho; the HTTP
	// side is Zoho's to call, so it exists only with Zoho.
	var click clickSide
	defer click.stop()
	var reporter clicktocall.Reporter
	if zohoEnabled(cfg) {
		z, err := newZohoSide(cfg, st, recLink, log, reg)
		if err != nil {
			return err // "zoho: …" already
		}
		svc.zoho = z
		reporter = z.client
		srv.Handle("GET "+cfg.Zoho.CallbackPath, z.client.CallbackHandler())
		ready.Register("zoho", z.client.Ready)
		calls, err := click.mountHTTP(cfg, srv, st, b, reporter, z.lookup, log, reg)
		if err != nil {
			return err
		}
		consumerFns = append(consumerFns, z.consumer(cfg), calls)
		log.Info("zoho enabled", zap.String("accounts_url", cfg.Zoho.AccountsURL), zap.String("redirect_uri", redirectURL(cfg)),
			zap.String("click_to_dial", clicktocall.ClickToDialURL(cfg.HTTP.PublicURL, "<tenant>")))
	} else {
		log.Info("zoho off: no click-to-dial or call-control URLs served (zoho.client_id is empty)")
	}
	var zc *zoho.Client
	var disc directory.Discoverer
	if svc.zoho != nil {
		zc = svc.zoho.client
	}
	if d, ok := pbx.(discoverer); ok {
		disc = d.discoverer()
	}
	if svc.dir, err = newDirectory(cfg, st, zc, disc, log); err != nil {
		return err
	}
	admin := adminSide{cfg: cfg, srv: srv, dir: svc.dir, bus: b, zoho: zc, log: log.Named("admin"), reg: reg}
	if err := admin.mount(runCtx); err != nil {
		return orCause(ctx, runCtx, err)
	}
	if h.prepare != nil {
		if err := h.prepare(runCtx, svc); err != nil {
			return orCause(ctx, runCtx, err)
		}
	}

	scr := newScreener(cfg, pbx, st, svc.zoho, log, reg) // screening of inbound calls (screen.go)
	defer scr.Close()
	machine := callstate.New(callstate.Options{
		IDPrefix: cfg.NodeID + "-", Node: cfg.NodeID, DefaultTenant: cfg.PBX.DefaultTenant,
	})
	restoreCalls(cfg.DataDir, machine, log)
	pipe := pipeline.New(machine, scr.Publisher(b), pipeline.Options{
		Shards: cfg.Pipeline.Shards, Queue: cfg.Pipeline.Queue,
		PublishTimeout: cfg.Pipeline.PublishTimeout, Retry: cfg.Pipeline.Retry,
		Logger: log.Named("pipeline"), Registerer: reg,
	})

	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPub()
	pipeDone := make(chan struct{})
	go func() {
		defer close(pipeDone)
		if err := pipe.Run(pubCtx); err != nil && pubCtx.Err() == nil {
			fail(err)
		}
	}()
	consumeCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var consumers sync.WaitGroup
	for _, c := range consumerFns {
		consumers.Go(func() {
			if err := c(consumeCtx, b); err != nil && consumeCtx.Err() == nil {
				fail(err)
			}
		})
	}
	if cp, ok := pbx.(interface{ callPBX() callPBX }); ok {
		if err := click.serveNode(cfg, b, cp.callPBX(), reporter, log, reg); err != nil {
			return err
		}
	} else {
		log.Info("click-to-call: this PBX source places no calls; originate commands are not served")
	}
	// The PBX has its own context: it stops after the click-to-call
	// commands, which use it.
	pbxCtx, stopPBX := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPBX()
	srcDone := make(chan struct{})
	go func() {
		defer close(srcDone)
		if err := pbx.Run(pbxCtx, pipe); err != nil && pbxCtx.Err() == nil {
			fail(fmt.Errorf("pbx: %w", err))
		}
	}()

	discoverCtx, stopDiscovery := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDiscovery()
	discoveryDone := make(chan struct{})
	go func() {
		defer close(discoveryDone)
		if disc != nil {
			runDiscovery(discoverCtx, svc.dir, cfg.Admin.DiscoveryInterval, log.Named("discovery"))
		}
	}()
	defer func() { stopDiscovery(); <-discoveryDone }()

	notify(log, daemon.SdNotifyReady)
	log.Info("ready", zap.Stringer("http", httpAddr))
	if h.started != nil {
		h.started(httpAddr)
	}

	<-runCtx.Done()
	start := time.Now()
	log.Info("draining", zap.NamedError("reason", context.Cause(runCtx)))
	notify(log, daemon.SdNotifyStopping)
	ready.Drain()
	click.stop()
	stopDiscovery()
	<-discoveryDone
	stopPBX()
	<-srcDone
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.DrainTimeout)
	defer cancelDrain()
	snaps, err := pipe.Close(drainCtx)
	if err != nil {
		log.Error("drain", zap.Error(err))
	}
	if err := pipeline.SaveCalls(cfg.DataDir, snaps); err != nil {
		log.Error("calls in progress not persisted", zap.Int("calls", len(snaps)), zap.Error(err))
	} else if len(snaps) > 0 {
		log.Info("calls in progress persisted", zap.Int("calls", len(snaps)))
	}
	select {
	case <-pipeDone:
	case <-drainCtx.Done():
		log.Error("drain timeout: queued call events not published", zap.Int("queued", pipe.Queued()))
		stopPub()
		<-pipeDone
	}
	stopConsumers()
	consumers.Wait()
	log.Info("stopped", zap.Duration("drain", time.Since(start)))
	return cause(ctx, runCtx)
}

// restoreCalls loads the calls persisted at the last shutdown into machine.
// A problem is logged, not fatal: the PBX reconciliation adopts live calls.
func restoreCalls(dir string, machine *callstate.Machine, log *zap.Logger) {
	snaps, err := pipeline.TakeCalls(dir)
	if err == nil {
		err = machine.Restore(snaps)
	}
	switch {
	case err != nil:
		log.Error("calls in progress at the last shutdown not restored", zap.Error(err))
	case len(snaps) > 0:
		log.Info("calls in progress restored", zap.Int("calls", len(snaps)))
	}
}

// cause is what runDaemon returns: nil when the parent context ended it (a
// signal: a clean stop), else why a component stopped it.
func cause(parent, run context.Context) error {
	if parent.Err() != nil {
		return nil
	}
	return context.Cause(run)
}

// orCause prefers a clean stop over err when the parent ended.
func orCause(parent, run context.Context, err error) error {
	if parent.Err() != nil {
		return nil
	}
	if c := context.Cause(run); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// notify tells systemd about the service state; without NOTIFY_SOCKET it is a
// no-op.
func notify(log *zap.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify", zap.String("state", state), zap.Error(err))
	}
}

// newPBX builds the adapter of the configured PBX.
func newPBX(cfg config.Config, log *zap.Logger) func(prometheus.Registerer) (signalSource, error) {
	return func(reg prometheus.Registerer) (signalSource, error) {
		switch cfg.PBX.Kind {
		case config.PBXAsterisk:
			a, err := asterisk.New(asterisk.Options{PBX: cfg.PBX, Parties: asteriskParties(cfg.PBX.Asterisk),
				Logger: log.Named("asterisk"), Registerer: reg})
			if err != nil {
				return nil, err
			}
			return pbxSource{run: func(ctx context.Context, p *pipeline.Pipeline) error { return a.Run(ctx, p) }, ready: a.Ready, calls: a, disc: a}, nil
		case config.PBXFreeSWITCH:
			a, err := freeswitch.New(freeswitch.Options{FreeSWITCH: cfg.PBX.FreeSWITCH, PBX: cfg.PBX,
				ExternalProfiles: splitList(cfg.PBX.FreeSWITCH.ExternalProfiles),
				Logger:           log.Named("freeswitch"), Registerer: reg})
			if err != nil {
				return nil, err
			}
			return pbxSource{run: func(ctx context.Context, p *pipeline.Pipeline) error { return a.Run(ctx, p) }, ready: a.Ready, calls: a, disc: a}, nil
		default:
			return nil, fmt.Errorf("unknown pbx.kind %q", cfg.PBX.Kind)
		}
	}
}

// asteriskParties turns the validated pbx.asterisk patterns into the
// adapter's party rules.
func asteriskParties(c config.Asterisk) asterisk.Parties {
	p := asterisk.Parties{
		Extension:           regexp.MustCompile(c.ExtensionPattern),
		InternationalPrefix: c.InternationalPrefix,
	}
	p.Trunks = splitList(c.Trunks)
	if c.TrunkContext != "" {
		p.TrunkContext = regexp.MustCompile(c.TrunkContext)
	}
	return p
}

// pbxSource adapts a PBX adapter, whose Run takes its own Sink interface, to
// signalSource, and hands the adapter to click-to-call.
type pbxSource struct {
	run   func(context.Context, *pipeline.Pipeline) error
	ready func() error
	calls callPBX
	disc  directory.Discoverer
}

func (s pbxSource) Run(ctx context.Context, p *pipeline.Pipeline) error { return s.run(ctx, p) }
func (s pbxSource) Ready() error                                        { return s.ready() }
func (s pbxSource) callPBX() callPBX                                    { return s.calls }
func (s pbxSource) discoverer() directory.Discoverer                    { return s.disc }

// splitList splits a comma-separated configuration value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
