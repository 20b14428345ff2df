package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/asterisk"
	"github.com/ringside/ringside/adapters/freeswitch"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/screen"
)

// newScreener builds the screening of inbound calls (pkg/screen; README,
// "Caller name, blacklist and owner routing") on the store and the
// caller-lookup cache, and gives it to the PBX adapter. z is nil without
// Zoho: cached callers are still named, misses are not looked up. Calls
// are marked under the call state machine's ids (node_id + "-" + the
// trunk channel's id).
func newScreener(cfg config.Config, pbx signalSource, st stateStore, z *zohoSide, log *zap.Logger, reg prometheus.Registerer) *screen.Screener {
	look := zoho.NewLookup(nil, st, zoho.LookupOptions{}) // the cache alone
	var refresh screen.Refresher
	if z != nil {
		look, refresh = z.lookup, z.lookup.Screening()
	}
	s := screen.New(screen.Options{Store: st, Cache: look.Screening(), Refresher: refresh, Normalize: zoho.Normalize,
		DefaultTenant: cfg.PBX.DefaultTenant, CallIDPrefix: cfg.NodeID + "-", SettingsTTL: cfg.Screen.SettingsTTL,
		RefreshConcurrency: cfg.Screen.RefreshConcurrency, RefreshTimeout: 2*cfg.Zoho.Timeout + 10*time.Second,
		Logger: log.Named("screen"), Registerer: reg})
	if src, ok := pbx.(pbxSource); ok {
		switch a := src.calls.(type) {
		case *asterisk.Adapter:
			a.SetScreener(s, cfg.Screen.Deadline)
		case *freeswitch.Adapter:
			a.SetScreener(s, cfg.Screen.Deadline)
		}
	}
	return s
}
