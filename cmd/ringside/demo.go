package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// cmdDemo runs Ringside on its embedded default against the ARI
// simulator, which places a realistic stream of calls on a simulated
// Asterisk, with the Zoho simulator as the CRM and the portal to look at
// it all; a consumer logs every call event it reads back from JetStream.
func cmdDemo(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [-config FILE] [-concurrent N] [-speed F] [-duration D] [-listen ADDR] [-data DIR] [-seed N] [-zoho-mode rest|phonebridge]", stderr)
	path := fs.String("config", "", "configuration file (default: built-in defaults)")
	concurrent := fs.Int("concurrent", 4, "simulated calls in progress at once")
	speed := fs.Float64("speed", 4, "ring and talk this many times faster than real callers")
	duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
	listen := fs.String("listen", "", "HTTP address (default: http.listen)")
	dataDir := fs.String("data", "", "state directory (default: a temporary one, removed at exit)")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed of the calls")
	zohoMode := fs.String("zoho-mode", "rest", "mode of the demo tenant in the simulated Zoho CRM: rest or phonebridge")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *concurrent < 1 || *concurrent > 1000 {
		fmt.Fprintln(stderr, "ringside demo: -concurrent must be in [1, 1000]")
		return errUsage
	}
	if *speed <= 0 || *speed > 1000 {
		fmt.Fprintln(stderr, "ringside demo: -speed must be in (0, 1000]")
		return errUsage
	}
	if *zohoMode != string(store.ModeREST) && *zohoMode != string(store.ModePhoneBridge) {
		fmt.Fprintln(stderr, "ringside demo: -zoho-mode must be rest or phonebridge")
		return errUsage
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		for _, p := range splitJoined(err) {
			fmt.Fprintf(stderr, "%s: %v\n", *path, p)
		}
		return fmt.Errorf("invalid configuration")
	}
	if *listen != "" {
		if cfg.HTTP.PublicURL == "http://"+cfg.HTTP.Listen { // derived from the address -listen replaces
			cfg.HTTP.PublicURL = "http://" + *listen
		}
		cfg.HTTP.Listen = *listen
	}
	cfg.DataDir = *dataDir
	if cfg.DataDir == "" {
		tmp, err := os.MkdirTemp("", "ringside-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cfg.DataDir = tmp
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	log, err := newLogger(cfg.Log.Level, cfg.Log.Format, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	// The CRM of the demo tenant is the Zoho simulator, its PBX the ARI
	// simulator, both in this process.
	tenants := []string{demoTenant}
	zs, err := startDemoZoho(tenants, store.ZohoMode(*zohoMode))
	if err != nil {
		return err
	}
	defer zs.Close()
	if err := zs.configure(&cfg, cfg.DataDir); err != nil {
		return err
	}
	sim, err := startDemoPBX(&cfg)
	if err != nil {
		return err
	}
	defer sim.Close()
	startReport, stopReport := zs.reporter(stdout)
	defer stopReport()
	logins := newDemoLogins()
	calls := &demoCalls{sim: sim, rng: rand.New(rand.NewPCG(*seed, *seed)), concurrent: *concurrent, speed: *speed}
	callsCtx, stopCalls := context.WithCancel(ctx)
	var callsDone sync.WaitGroup
	defer callsDone.Wait()
	defer stopCalls()

	return runDaemon(ctx, cfg, log, daemonHooks{
		pbx:       newPBX(cfg, log),
		consumers: []func(context.Context, *natsbus.Bus) error{eventLogger(log.Named("events"))},
		prepare: func(ctx context.Context, s services) error {
			if err := zs.prepare(ctx, s); err != nil {
				return err
			}
			return logins.create(ctx, s.dir)
		},
		started: func(addr net.Addr) {
			fmt.Fprintf(stdout, "Ringside demo is running: a simulated Asterisk with %d calls at once, %gx faster than real callers, state in %s\n"+
				"  portal     http://%s/  (operator: %s / %s; company admin of %s: %s / %s)\n"+
				"  readiness  http://%s/readyz\n  metrics    http://%s/metrics\n"+
				"  zoho       %s (simulated Zoho CRM, tenant %s in %s mode; every call it logs is printed below)\n"+
				"Press Ctrl-C to stop (twice to force).\n", *concurrent, *speed, cfg.DataDir,
				addr, logins.operator, logins.operatorPassword, demoTenant, logins.admin, logins.adminPassword,
				addr, addr, zs.sim.URL(), strings.Join(tenants, ", "), *zohoMode)
			startReport()
			callsDone.Go(func() { calls.run(callsCtx) })
		},
	})
}

// eventLogger consumes every call event from JetStream and logs it: proof
// that events flow end to end, and what a CRM worker will build on.
func eventLogger(log *zap.Logger) func(context.Context, *natsbus.Bus) error {
	return func(ctx context.Context, bus *natsbus.Bus) error {
		return bus.Consume(ctx, natsbus.Consumer{
			Durable: "demo-log", FilterSubject: events.CallSubjects, Concurrency: 2,
		}, func(_ context.Context, m natsbus.Message) error {
			var e events.Call
			if err := json.Unmarshal(m.Data, &e); err != nil {
				return fault.Permanent(fmt.Errorf("decode call event %s: %w", m.MsgID, err))
			}
			fields := []zap.Field{
				zap.String("type", string(e.Type)), zap.String("call_id", e.CallID), zap.Uint32("seq", e.Seq),
				zap.String("tenant", e.Tenant), zap.String("direction", string(e.Direction)),
			}
			if e.External != "" {
				fields = append(fields, zap.String("external", e.External))
			}
			if e.Agent != "" {
				fields = append(fields, zap.String("agent", e.Agent))
			}
			if e.Reason != "" {
				fields = append(fields, zap.String("reason", e.Reason))
			}
			if e.Type == events.Ended {
				fields = append(fields, zap.String("disposition", string(e.Disposition)),
					zap.String("answered_by", e.AnsweredBy), zap.Int("talk_seconds", e.TalkSeconds))
			}
			if e.Recording != "" {
				fields = append(fields, zap.String("recording", e.Recording))
			}
			log.Info("call event", fields...)
			return nil
		})
	}
}
