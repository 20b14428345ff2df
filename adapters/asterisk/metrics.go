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
		eventByType: make(map[string]prometheus.Counter),
	}
	signals := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "asterisk",
		Name: "signals_total", Help: "Call signals submitted to the pipeline, by kind."}, []string{"kind"})
	for k := callstate.Kind(0); k == 0 || k.String() != "unknown"; k++ {
		m.signals = append(m.signals, signals.WithLabelValues(k.String()))
	}
	for _, reason := range []string{"connect", "unauthorized", "reconcile", "read", "watchdog", "replaced"} {
		m.disconnects.WithLabelValues(reason)
	}
	reg.MustRegister(m.connected, m.reconnects, m.disconnects, m.events, m.undecodable, signals, m.reconciled, m.requests)
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
