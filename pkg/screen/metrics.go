package screen

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are what a PBX adapter reports about screening: namespace
// ringside, subsystem screen; the outcome label is one of Outcomes.
type Metrics struct {
	delay *prometheus.HistogramVec
	calls *prometheus.CounterVec
}

// DelayBuckets resolve the added ringing delay around the default deadline
// (150ms): most calls take a few milliseconds, a cold store tens.
var DelayBuckets = []float64{.001, .0025, .005, .01, .02, .05, .1, .15, .2, .3, .5, 1, 2}

// NewMetrics registers the screening metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "ringside", Subsystem: "screen",
			Name: "delay_seconds", Buckets: DelayBuckets,
			Help: "Ringing delay screening added to an inbound call: from the PBX handing the call over to the call going on (or being rejected), by outcome."},
			[]string{"outcome"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "screen",
			Name: "calls_total", Help: "Inbound calls screened, by outcome."}, []string{"outcome"}),
	}
	for _, o := range Outcomes {
		m.delay.WithLabelValues(string(o))
		m.calls.WithLabelValues(string(o))
	}
	reg.MustRegister(m.delay, m.calls)
	return m
}

// Observe counts one screened call and the delay it added.
func (m *Metrics) Observe(o Outcome, delay time.Duration) {
	m.calls.WithLabelValues(string(o)).Inc()
	m.delay.WithLabelValues(string(o)).Observe(delay.Seconds())
}
