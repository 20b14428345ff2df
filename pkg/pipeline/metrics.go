package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/pkg/callstate"
)

type metrics struct {
	signals   *prometheus.CounterVec
	events    *prometheus.CounterVec
	ended     *prometheus.CounterVec
	published *prometheus.CounterVec
	blocked   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, p *Pipeline) *metrics {
	m := &metrics{
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "pipeline", Name: "signals_total",
			Help: "PBX signals applied to the call state machine, by kind.",
		}, []string{"kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "pipeline", Name: "events_total",
			Help: "Call events emitted by the call state machine, by type.",
		}, []string{"type"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "calls", Name: "ended_total",
			Help: "Calls that ended, by direction and disposition.",
		}, []string{"direction", "disposition"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "pipeline", Name: "publish_attempts_total",
			Help: "Attempts to publish a call event, by result (ok, retry, permanent_error).",
		}, []string{"result"}),
		blocked: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "pipeline", Name: "backpressure_seconds_total",
			Help: "Time PBX intake waited because a publish queue was full.",
		}),
	}
	reg.MustRegister(m.signals, m.events, m.ended, m.published, m.blocked,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ringside", Subsystem: "pipeline", Name: "queued_events",
			Help: "Call events waiting to be published.",
		}, func() float64 { return float64(p.Queued()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ringside", Subsystem: "calls", Name: "active",
			Help: "Calls in progress.",
		}, func() float64 { return float64(p.Active()) }),
		&ignoredCollector{p: p},
	)
	return m
}

// ignoredCollector exports the machine's own counters of signals that
// changed nothing (duplicates, unknown legs, late arrivals), as of the last
// signal.
type ignoredCollector struct{ p *Pipeline }

var ignoredDesc = prometheus.NewDesc("ringside_callstate_ignored_signals_total",
	"Signals the call state machine ignored, by reason.", []string{"reason"}, nil)

func (c *ignoredCollector) Describe(ch chan<- *prometheus.Desc) { ch <- ignoredDesc }

func (c *ignoredCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	for r, n := range st.Ignored {
		ch <- prometheus.MustNewConstMetric(ignoredDesc, prometheus.CounterValue, float64(n),
			callstate.IgnoreReason(r).String())
	}
}
