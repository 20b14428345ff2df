package screen

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// Store is what a Screener reads of a tenant: its settings and Zoho
// connection, and its links (owner routing).
type Store interface {
	// Tenant returns the tenant, or store.ErrNotFound.
	Tenant(ctx context.Context, id string) (store.Tenant, error)
	// ListLinks returns one page of the tenant's links and their total.
	ListLinks(ctx context.Context, tenant string, p store.Page) ([]store.Link, int, error)
}

// Cache is the caller-lookup cache, read while a call waits.
type Cache interface {
	// Cached returns the CRM record cached for the caller e164 (E.164) of
	// tenant without asking the CRM: ok is false when nothing usable is
	// cached (a miss), a Record without ID with ok true is a caller cached
	// as matching no record, err is the cache failing.
	Cached(ctx context.Context, tenant, e164 string) (r Record, ok bool, err error)
}

// Refresher looks up a caller the cache missed, so that the caller's next
// call finds the record cached.
type Refresher interface {
	// Refresh asks the CRM for the record of number (read in region when
	// it has no country code) and caches the answer.
	Refresh(ctx context.Context, tenant, region, number string) error
}

// Options configure a Screener; zero values take the defaults in
// parentheses.
type Options struct {
	// Store holds the tenants and their links. Required to screen.
	Store Store
	// Cache is the caller-lookup cache. Required to screen.
	Cache Cache
	// Refresher looks up the callers the cache missed (nil: misses are not
	// looked up, as on a node without Zoho).
	Refresher Refresher
	// Normalize returns a number in E.164, reading numbers without a
	// country code in region; false when it is not a phone number.
	// Required to screen.
	Normalize func(number, region string) (string, bool)
	// DefaultTenant is the tenant of calls whose leg names none.
	DefaultTenant string
	// CallIDPrefix makes a call's id of its waiting leg (prefix + channel):
	// the call state machine's IDPrefix (node id + "-").
	CallIDPrefix string
	// SettingsTTL is how long a tenant's settings and links are kept (5s).
	SettingsTTL time.Duration
	// RefreshConcurrency bounds the background lookups running at once;
	// misses beyond it are not looked up (4).
	RefreshConcurrency int
	// RefreshTimeout bounds one background lookup (30s).
	RefreshTimeout time.Duration
	Logger         *zap.Logger           // (nop)
	Registerer     prometheus.Registerer // (a registry of its own)
	Now            func() time.Time      // (time.Now)
}

// Marks are kept long enough for any call to end (its ended event carries
// the mark), and bounded.
const (
	markTTL  = 12 * time.Hour
	maxMarks = 100000
)

// loadTimeout bounds one read of a tenant and its links.
const loadTimeout = 5 * time.Second

// Screener screens inbound calls for a PBX adapter (the Decider its Gate
// asks): it decides (Decide) from the tenant's settings and links,
// kept Options.SettingsTTL, and the caller-lookup cache alone — never the
// CRM — within the deadline of the call's context. A cache miss rings with
// no name and is looked up in the background (Options.RefreshConcurrency
// at once) so that the caller's next call finds it. Each decision is marked
// on the call's events as they are published (Publisher). Its metric is
// ringside_screen_refreshes_total{result}. Safe for concurrent use; Close
// ends its goroutines.
type Screener struct {
	o     Options
	marks *Marks

	refreshes *prometheus.CounterVec // result: ok, error, dropped

	sf      singleflight.Group // one load of a tenant at a time
	mu      sync.Mutex
	tenants map[string]kept

	slots  chan struct{} // background refreshes running (Options.RefreshConcurrency)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// kept is what a Screener keeps of a tenant.
type kept struct {
	at        time.Time
	settings  store.Settings
	connected bool              // its Zoho connection works: misses may be refreshed
	owners    map[string]string // CRM user id → linked extension (owner routing on)
}

// New returns a Screener and registers its metric.
func New(o Options) *Screener {
	if o.SettingsTTL <= 0 {
		o.SettingsTTL = 5 * time.Second
	}
	if o.RefreshConcurrency <= 0 {
		o.RefreshConcurrency = 4
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Screener{o: o, marks: NewMarks(markTTL, maxMarks), tenants: map[string]kept{},
		slots: make(chan struct{}, o.RefreshConcurrency), ctx: ctx, cancel: cancel,
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "screen",
			Name: "refreshes_total", Help: "Background lookups of callers the cache missed while their call waited, by result (ok, error, dropped: too many at once)."},
			[]string{"result"})}
	for _, r := range []string{"ok", "error", "dropped"} {
		s.refreshes.WithLabelValues(r)
	}
	o.Registerer.MustRegister(s.refreshes)
	return s
}

// Close ends the background reads and lookups and waits for them.
func (s *Screener) Close() {
	s.cancel()
	s.wg.Wait()
}

// tenantID is the tenant a call belongs to, read as the call machine reads
// it (events.TenantToken): a name with dots is the tenant with underscores,
// no name or an invalid one the default tenant.
func (s *Screener) tenantID(c Call) string {
	if t := events.TenantToken(c.Tenant); t != "" {
		return t
	}
	return s.o.DefaultTenant
}

// Screen decides about a waiting call within ctx's deadline. When the
// tenant cannot be read in time (and none was kept), or is unknown, the
// call rings as it is (OutcomeLate).
func (s *Screener) Screen(ctx context.Context, c Call) Verdict {
	id := s.tenantID(c)
	t, err := s.tenant(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.o.Logger.Warn("screening: tenant not read; the call rings as it is", zap.String("tenant", id), zap.Error(err))
		}
		return Verdict{Outcome: OutcomeLate}
	}
	in := Input{Settings: t.settings, Owners: t.owners}
	in.Number, _ = s.o.Normalize(c.Number, t.settings.Region)
	if in.Number != "" && NeedsLookup(t.settings) {
		if _, blocked := Blocked(t.settings.Blacklist, in.Number); !blocked {
			in.Lookup, in.Record = s.cached(ctx, id, in.Number)
		}
	}
	return Decide(in)
}

// cached reads the caller's record from the lookup cache.
func (s *Screener) cached(ctx context.Context, tenant, e164 string) (Lookup, Record) {
	r, ok, err := s.o.Cache.Cached(ctx, tenant, e164)
	switch {
	case err != nil:
		return LookupLate, Record{}
	case !ok:
		return LookupMiss, Record{}
	case r.ID == "":
		return LookupNoRecord, Record{}
	}
	return LookupHit, r
}

// Screened is told the verdict applied to a call: it marks the call's
// events with it and looks a missed caller up in the background when the
// tenant's Zoho connection works.
func (s *Screener) Screened(c Call, v Verdict) {
	if m := v.Mark(); m != nil {
		s.marks.Set(s.o.CallIDPrefix+c.Channel, *m, s.o.Now())
	}
	if !v.Refresh || s.o.Refresher == nil {
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
		ctx, cancel := context.WithTimeout(s.ctx, s.o.RefreshTimeout)
		defer cancel()
		if err := s.o.Refresher.Refresh(ctx, id, region, number); err != nil {
			s.refreshes.WithLabelValues("error").Inc()
			s.o.Logger.Warn("screening: caller lookup failed; the next call asks again", zap.String("tenant", id), zap.Error(err))
			return
		}
		s.refreshes.WithLabelValues("ok").Inc()
	})
}

// tenant returns what is kept of tenant id, read again once older than
// Options.SettingsTTL; when reading fails, what was kept before.
func (s *Screener) tenant(ctx context.Context, id string) (kept, error) {
	s.mu.Lock()
	t, ok := s.tenants[id]
	s.mu.Unlock()
	if ok && s.o.Now().Sub(t.at) < s.o.SettingsTTL {
		return t, nil
	}
	type loaded struct {
		t   kept
		err error
	}
	ch := make(chan loaded, 1) // read by this call or dropped after its deadline
	s.wg.Go(func() {
		// Not the call's context: a load that outlives one call's deadline
		// still serves the next calls.
		v, err, _ := s.sf.Do(id, func() (any, error) {
			lctx, cancel := context.WithTimeout(s.ctx, loadTimeout)
			defer cancel()
			return s.load(lctx, id)
		})
		lt, _ := v.(kept)
		ch <- loaded{lt, err}
	})
	select {
	case r := <-ch:
		if r.err != nil {
			if ok {
				return t, nil
			}
			return kept{}, r.err
		}
		return r.t, nil
	case <-ctx.Done():
		if ok {
			return t, nil
		}
		return kept{}, ctx.Err()
	}
}

// load reads a tenant and, with owner routing on, its links.
func (s *Screener) load(ctx context.Context, id string) (kept, error) {
	tn, err := s.o.Store.Tenant(ctx, id)
	if err != nil {
		return kept{}, err
	}
	t := kept{at: s.o.Now(), settings: tn.Settings, connected: tn.Normalize().Zoho.Status == store.Connected}
	if tn.Settings.Features[FeatureOwnerRouting] {
		t.owners = map[string]string{}
		for p := (store.Page{Limit: store.MaxLimit}); ; p.Offset += store.MaxLimit {
			links, total, err := s.o.Store.ListLinks(ctx, id, p)
			if err != nil {
				return kept{}, err
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
