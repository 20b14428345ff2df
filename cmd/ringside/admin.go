package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/httpapi"
	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/livecalls"
	"github.com/ringside/ringside/pkg/store"
)

// adminSide is what the admin surfaces (JSON API, portal) are mounted
// with in the daemon.
type adminSide struct {
	cfg  config.Config
	srv  *httpapi.Server
	dir  *directory.Service
	bus  *natsbus.Bus
	zoho *zoho.Client // nil without zoho.client_id
	log  *zap.Logger
	reg  prometheus.Registerer
	// live is the live calls board the portal and the JSON API show; mount
	// starts it.
	live *livecalls.Board
}

// mount starts the live calls board and mounts the JSON API and the portal.
func (a adminSide) mount(ctx context.Context) error {
	board, stop, err := followLiveCalls(ctx, a)
	if err != nil {
		return err
	}
	a.live = board
	if err := mountAPI(a); err != nil {
		_ = stop()
		return err
	}
	if err := mountPortal(a); err != nil {
		_ = stop()
		return err
	}
	return nil
}

// discoverer is a PBX source that can list its extensions.
type discoverer interface {
	discoverer() directory.Discoverer
}

// discoveryActor runs the daemon's own discovery: an operator-level actor
// with no surface, so the periodic runs do not fill the audit log.
var discoveryActor = directory.Actor{Username: "ringside", Role: store.RoleOperator}

// runDiscovery reads the PBX's extensions into the store every interval,
// and every 10 s until the first run succeeds (the PBX may still be
// connecting).
func runDiscovery(ctx context.Context, dir *directory.Service, interval time.Duration, log *zap.Logger) {
	wait := 2 * time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		d, err := dir.Discover(ctx, discoveryActor, "")
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("extension discovery failed", zap.Error(err))
			}
			wait = min(10*time.Second, interval)
			continue
		}
		if d.Updated > 0 || d.Skipped > 0 {
			log.Info("extensions discovered", zap.Int("updated", d.Updated), zap.Int("skipped", d.Skipped))
		}
		wait = interval
	}
}
