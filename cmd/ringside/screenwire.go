package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/ringside/ringside/adapters/asterisk"
	"github.com/ringside/ringside/adapters/freeswitch"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/pipeline"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// Screening of inbound calls (README, "Caller name, blacklist and owner
// routing"): the PBX adapter holds each call from the trunk before it rings
// and asks screenSide, which decides (pkg/screen) from the tenant's settings
// and links (kept screen.settings_ttl) and the caller-lookup cache alone —
// never the Zoho API — within screen.deadline. A cache miss rings with no
// name and is looked up in the background (screen.refresh_concurrency at
// once) so that the caller's next call finds it. Each decision is marked on
// the call's events (events.Screen) as the pipeline publishes them: the
// call id is node_id + "-" + the trunk channel's id, the call state
// machine's (pkg/callstate: IDPrefix + origin leg).

// screenStore is what screening reads.
type screenStore interface {
	store.Tenants
	store.Links
	store.Cache
}

// Marks are kept long enough for any call to end (its ended event carries
// the mark), and bounded.
const (
	markTTL  = 12 * time.Hour
	maxMarks = 100000
)

// screenSide is the daemon's screener of inbound calls.
type screenSide struct {
	cfg   config.Config
	st    screenStore
	look  *zoho.Lookup // nil without Zoho: misses are not refreshed
	marks *screen.Marks
	log   *zap.Logger
	now   func() time.Time

	refreshes *prometheus.CounterVec // result: ok, error, dropped

	sf      singleflight.Group // one load of a tenant at a time
	mu      sync.Mutex
	tenants map[string]screenTenant

	slots  chan struct{} // background refreshes running (screen.refresh_concurrency)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// screenTenant is what screening keeps of a tenant.
type screenTenant struct {
	at        time.Time
	settings  store.Settings
	connected bool              // its Zoho connection works: misses may be refreshed
	owners    map[string]string // CRM user id → linked extension (owner routing on)
}

// newScreenSide builds the screener and gives it to the PBX adapter. z is
// nil without Zoho.
func newScreenSide(cfg config.Config, pbx signalSource, st screenStore, z *zohoSide, log *zap.Logger, reg prometheus.Registerer) *screenSide {
	ctx, cancel := context.WithCancel(context.Background())
	s := &screenSide{cfg: cfg, st: st, marks: screen.NewMarks(markTTL, maxMarks), log: log.Named("screen"), now: time.Now,
		tenants: map[string]screenTenant{}, slots: make(chan struct{}, cfg.Screen.RefreshConcurrency), ctx: ctx, cancel: cancel,
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "screen",
			Name: "refreshes_total", Help: "Background lookups of callers the cache missed while their call waited, by result (ok, error, dropped: too many at once)."},
			[]string{"result"})}
	for _, r := range []string{"ok", "error", "dropped"} {
		s.refreshes.WithLabelValues(r)
	}
	reg.MustRegister(s.refreshes)
	if z != nil {
		s.look = z.lookup
	}
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

// stop ends the background refreshes and waits for them.
func (s *screenSide) stop() {
	s.cancel()
	s.wg.Wait()
}

// tenantID is the tenant a call belongs to.
func (s *screenSide) tenantID(c screen.Call) string {
	if c.Tenant != "" {
		return c.Tenant
	}
	return s.cfg.PBX.DefaultTenant
}

// Screen decides about a waiting call within ctx's deadline
// (asterisk.Screener).
func (s *screenSide) Screen(ctx context.Context, c screen.Call) screen.Verdict {
	id := s.tenantID(c)
	t, err := s.tenant(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.log.Warn("screening: tenant not read; the call rings as it is", zap.String("tenant", id), zap.Error(err))
		}
		return screen.Verdict{Outcome: screen.OutcomeLate}
	}
	in := screen.Input{Settings: t.settings, Owners: t.owners}
	in.Number, _ = zoho.Normalize(c.Number, t.settings.Region)
	if in.Number != "" && screen.NeedsLookup(t.settings) {
		if _, blocked := screen.Blocked(t.settings.Blacklist, in.Number); !blocked {
			in.Lookup, in.Record = s.cached(ctx, id, in.Number)
		}
	}
	return screen.Decide(in)
}

// cached reads the caller's record from the lookup cache (the entries
// zoho.Lookup writes).
func (s *screenSide) cached(ctx context.Context, tenant, e164 string) (screen.Lookup, screen.Record) {
	v, err := s.st.GetLookup(ctx, tenant, e164)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return screen.LookupMiss, screen.Record{}
	case err != nil:
		return screen.LookupLate, screen.Record{}
	}
	var m zoho.Match
	if json.Unmarshal(v, &m) != nil {
		return screen.LookupMiss, screen.Record{} // unreadable: looked up again
	}
	if !m.Found() {
		return screen.LookupNoRecord, screen.Record{}
	}
	return screen.LookupHit, screen.Record{Module: m.Module, ID: m.ID, Name: m.Name, Owner: m.Owner}
}

// Screened marks the call's events with the verdict applied and refreshes a
// missed caller in the background (asterisk.Screener).
func (s *screenSide) Screened(c screen.Call, v screen.Verdict) {
	if m := v.Mark(); m != nil {
		s.marks.Set(s.cfg.NodeID+"-"+c.Channel, *m, s.now())
	}
	if !v.Refresh || s.look == nil {
		return
	}
	id := s.tenantID(c)
	s.mu.Lock()
	t := s.tenants[id]
	s.mu.Unlock()
	if !t.connected || s.ctx.Err() != nil {
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.refreshes.WithLabelValues("dropped").Inc()
		return
	}
	number, region := c.Number, t.settings.Region
	s.wg.Go(func() {
		defer func() { <-s.slots }()
		ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.Zoho.Timeout+10*time.Second)
		defer cancel()
		if _, err := s.look.Find(ctx, id, region, number); err != nil {
			s.refreshes.WithLabelValues("error").Inc()
			s.log.Warn("screening: caller lookup failed; the next call asks again", zap.String("tenant", id), zap.Error(err))
			return
		}
		s.refreshes.WithLabelValues("ok").Inc()
	})
}

// tenant returns what screening keeps of tenant id, read again once older
// than screen.settings_ttl; when reading fails, what was kept before.
func (s *screenSide) tenant(ctx context.Context, id string) (screenTenant, error) {
	s.mu.Lock()
	t, ok := s.tenants[id]
	s.mu.Unlock()
	if ok && s.now().Sub(t.at) < s.cfg.Screen.SettingsTTL {
		return t, nil
	}
	type loaded struct {
		t   screenTenant
		err error
	}
	ch := make(chan loaded, 1) // read by this call or dropped after its deadline
	s.wg.Go(func() {
		// Not the call's context: a load that outlives one call's deadline
		// still serves the next calls.
		v, err, _ := s.sf.Do(id, func() (any, error) {
			lctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			defer cancel()
			return s.load(lctx, id)
		})
		lt, _ := v.(screenTenant)
		ch <- loaded{lt, err}
	})
	select {
	case r := <-ch:
		if r.err != nil {
			if ok {
				return t, nil
			}
			return screenTenant{}, r.err
		}
		return r.t, nil
	case <-ctx.Done():
		if ok {
			return t, nil
		}
		return screenTenant{}, ctx.Err()
	}
}

// load reads a tenant and, with owner routing on, its links.
func (s *screenSide) load(ctx context.Context, id string) (screenTenant, error) {
	tn, err := s.st.Tenant(ctx, id)
	if err != nil {
		return screenTenant{}, err
	}
	t := screenTenant{at: s.now(), settings: tn.Settings, connected: tn.Normalize().Zoho.Status == store.Connected}
	if tn.Settings.Features[screen.FeatureOwnerRouting] {
		t.owners = map[string]string{}
		for p := (store.Page{Limit: store.MaxLimit}); ; p.Offset += store.MaxLimit {
			links, total, err := s.st.ListLinks(ctx, id, p)
			if err != nil {
				return screenTenant{}, err
			}
			for _, l := range links {
				t.owners[l.ZohoUser] = l.Extension // REST-mode tenants link by CRM user id
			}
			for _, l := range links {
				if l.CRMUser != "" {
					t.owners[l.CRMUser] = l.Extension
				}
			}
			if p.Offset+len(links) >= total || len(links) == 0 {
				break
			}
		}
	}
	s.mu.Lock()
	s.tenants[id] = t
	s.mu.Unlock()
	return t, nil
}

// publisher marks the events of screened calls on their way to the bus.
func (s *screenSide) publisher(next pipeline.Publisher) pipeline.Publisher {
	return markingPublisher{next: next, marks: s.marks, now: s.now}
}

// markingPublisher puts a call's screening decision on each of its events
// (pkg/screen Marks.Apply) before publishing it; events of other calls pass
// untouched.
type markingPublisher struct {
	next  pipeline.Publisher
	marks *screen.Marks
	now   func() time.Time
}

func (p markingPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	if i := strings.LastIndexByte(msgID, ':'); i > 0 {
		if _, marked := p.marks.Get(msgID[:i], p.now()); marked {
			var e events.Call
			if json.Unmarshal(data, &e) == nil && p.marks.Apply(&e, p.now()) {
				if b, err := json.Marshal(e); err == nil {
					data = b
				}
			}
		}
	}
	return p.next.Publish(ctx, subject, msgID, data)
}
