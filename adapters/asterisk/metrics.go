package asterisk

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/pkg/callstate"
)

// metrics of the adapter: namespace ringside, subsystem asterisk; every label
// is a small closed set (event types outside Asterisk 22's list are "other").
type metrics struct {
	connected   prometheus.Gauge
	reconnects  prometheus.Counter
	disconnects *prometheus.CounterVec // reason
	events      *prometheus.CounterVec // type
	undecodable prometheus.Counter
	signals     []prometheus.Counter   // by callstate.Kind
	reconciled  *prometheus.CounterVec // result: adopted, lost
	requests    *prometheus.CounterVec // op, result
	extensions  *prometheus.CounterVec // result: listed, or why an endpoint was left out
	eventByType map[string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "connected", Help: "1 while the ARI event WebSocket is connected and reconciled."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "reconnects_total", Help: "Connection attempts after a failed or lost connection."}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "disconnects_total", Help: "Connections lost or refused, by reason."}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "events_received_total", Help: "ARI events received, by type (unknown types as other)."}, []string{"type"}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "events_undecodable_total", Help: "WebSocket frames that were not ARI events, skipped."}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "reconciled_legs_total", Help: "Legs reconciled after a connect: adopted from the PBX, or closed as lost."}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "requests_total", Help: "ARI REST requests, by operation and result (ok, retryable, permanent)."}, []string{"op", "result"}),
		extensions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
			Name: "endpoints_discovered_total", Help: "Endpoints read by extension discovery: listed as extensions, or left out and why (malformed, technology, trunk, pattern, duplicate); no_config counts extensions listed without their configuration."}, []string{"result"}),
		eventByType: make(map[string]prometheus.Counter),
	}
	for _, r := range []string{"listed", "malformed", "technology", "trunk", "pattern", "duplicate", "no_config"} {
		m.extensions.WithLabelValues(r)
	}
	signals := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
		Name: "signals_total", Help: "Call signals submitted to the pipeline, by kind."}, []string{"kind"})
	for k := callstate.Kind(0); k == 0 || k.String() != "unknown"; k++ {
		m.signals = append(m.signals, signals.WithLabelValues(k.String()))
	}
	for _, reason := range []string{"connect", "unauthorized", "reconcile", "read", "watchdog", "replaced"} {
		m.disconnects.WithLabelValues(reason)
	}
	reg.MustRegister(m.connected, m.reconnects, m.disconnects, m.events, m.undecodable, signals, m.reconciled, m.requests, m.extensions)
	return m
}

func (m *metrics) event(typ string) {
	c := m.eventByType[typ]
	if c == nil {
		c = m.events.WithLabelValues(typeLabel(typ))
		if typeLabel(typ) == typ {
			m.eventByType[typ] = c // bounded by the known types
		}
	}
	c.Inc()
}

func (m *metrics) signal(k callstate.Kind) {
	if int(k) < len(m.signals) {
		m.signals[k].Inc()
	}
}

// discovered counts the outcome of an extension listing.
func (m *metrics) discovered(d Discovery) {
	for r, n := range map[string]int{"listed": d.Extensions, "malformed": d.Malformed, "technology": d.Technology,
		"trunk": d.Trunks, "pattern": d.Pattern, "duplicate": d.Duplicates, "no_config": d.NoConfig} {
		m.extensions.WithLabelValues(r).Add(float64(n))
	}
}
