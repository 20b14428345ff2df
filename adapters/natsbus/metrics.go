package natsbus

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a publish, the values of the result label of published_total.
const (
	resultOK        = "ok"
	resultDuplicate = "duplicate"
	resultError     = "error"
)

// Results of a consumed message, the values of the result label of
// consumed_total.
const (
	resultAck        = "ack"
	resultRetry      = "retry"
	resultDeadLetter = "dead_letter"
)

// metrics of one Bus. Labels are bounded: a result from the lists above and
// a durable name chosen by code; never a subject, call id or message id.
type metrics struct {
	connected   prometheus.Gauge
	reconnects  prometheus.Counter
	published   *prometheus.CounterVec
	publishTime prometheus.Histogram
	consumed    *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "ringside", "nats"
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "connected",
			Help: "1 while the connection to NATS is up, else 0.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "reconnects_total",
			Help: "Reconnections to NATS after a lost connection.",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "published_total",
			Help: "Messages published to JetStream, by result (ok, duplicate, error).",
		}, []string{"result"}),
		publishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "publish_duration_seconds",
			Help:    "Time from publish to JetStream acknowledgement (or failure).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "consumed_total",
			Help: "Messages handled by a durable consumer, by result (ack, retry, dead_letter).",
		}, []string{"consumer", "result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Messages a durable consumer moved to its dead-letter subject.",
		}, []string{"consumer"}),
	}
	for _, r := range []string{resultOK, resultDuplicate, resultError} {
		m.published.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.connected, err = register(reg, m.connected); err != nil {
		return nil, err
	}
	if m.reconnects, err = register(reg, m.reconnects); err != nil {
		return nil, err
	}
	if m.published, err = register(reg, m.published); err != nil {
		return nil, err
	}
	if m.publishTime, err = register(reg, m.publishTime); err != nil {
		return nil, err
	}
	if m.consumed, err = register(reg, m.consumed); err != nil {
		return nil, err
	}
	if m.deadLetters, err = register(reg, m.deadLetters); err != nil {
		return nil, err
	}
	return m, nil
}

// register adds c to reg, or returns the collector already registered under
// the same name (a Bus reopened in the same process keeps its counters).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// consumerMetrics are the series of one durable consumer, resolved once.
type consumerMetrics struct {
	ack, retry, deadLetter prometheus.Counter
	deadLetters            prometheus.Counter
}

func (m *metrics) forConsumer(durable string) consumerMetrics {
	return consumerMetrics{
		ack:         m.consumed.WithLabelValues(durable, resultAck),
		retry:       m.consumed.WithLabelValues(durable, resultRetry),
		deadLetter:  m.consumed.WithLabelValues(durable, resultDeadLetter),
		deadLetters: m.deadLetters.WithLabelValues(durable),
	}
}
