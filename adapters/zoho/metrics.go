package zoho

import "github.com/prometheus/client_golang/prometheus"

// metrics of the Zoho adapter. Labels are bounded enums; never a tenant,
// user, number or call id.
type metrics struct {
	requests     *prometheus.CounterVec // api, result
	duration     *prometheus.HistogramVec
	credits      *prometheus.CounterVec // kind
	remaining    prometheus.Gauge
	refreshes    *prometheus.CounterVec // result
	disconnected prometheus.Gauge
	events       *prometheus.CounterVec // mode, result
	lookups      *prometheus.CounterVec // result
	leads        *prometheus.CounterVec // result
	tasks        *prometheus.CounterVec // result
	internal     *prometheus.CounterVec // policy
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "ringside", "zoho"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests to Zoho APIs by api (crm, phonebridge) and result (ok, retry, throttled, auth, permanent)."}, []string{"api", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help: "Duration of requests to Zoho APIs.", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"api"}),
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_credits_total",
			Help: "CRM API credits spent, by kind (search, coql, write, read)."}, []string{"kind"}),
		remaining: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "api_credits_remaining",
			Help: "Last X-API-CREDITS-REMAINING seen (Zoho sends it once half the credits are used)."}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "token_refreshes_total",
			Help: "Access token refreshes by result (ok, revoked, throttled, error)."}, []string{"result"}),
		disconnected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "tenants_disconnected",
			Help: "Tenants whose Zoho connection does not work (events paused)."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "sink_events_total",
			Help: "Call events handled by the Zoho sink, by mode (phonebridge, rest, off) and result (ok, skipped, retry, paused, dead_letter)."}, []string{"mode", "result"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "lookups_total",
			Help: "Caller lookups by result (hit, negative_hit, match, no_match, coalesced, error)."}, []string{"result"}),
		leads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "leads_created_total",
			Help: "Records for unknown callers by result (created; existing: the upsert or the recent-creation memory found one; " +
				"scope_error: the token may not write the module; rejected: Zoho refused the record; retry)."}, []string{"result"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tasks_created_total",
			Help: "Missed-call tasks by result (created; no_owner: no record owner and no default user, skipped; " +
				"scope_error; rejected; retry)."}, []string{"result"}),
		internal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "calls", Name: "internal_total",
			Help: "Internal calls (between two extensions) that ended, by what the tenant's policy made of them in the CRM " +
				"(skip, log, light; technical: a technical extension was involved, never logged)."}, []string{"policy"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.credits, m.remaining, m.refreshes, m.disconnected, m.events, m.lookups,
		m.leads, m.tasks, m.internal} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
