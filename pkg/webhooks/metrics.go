package webhooks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/pkg/store"
)

// metrics are ringside_webhook_*. Labels are bounded: the result of an
// attempt (store.DeliveryOK, ...); never a tenant, URL or subscription.
type metrics struct {
	deliveries    *prometheus.CounterVec // result
	duration      prometheus.Histogram
	verifications *prometheus.CounterVec // result
	disabled      prometheus.Counter
}

// results are the values of the result label.
var results = []string{store.DeliveryOK, store.DeliveryHTTPError, store.DeliveryNetworkError, store.DeliveryTimeout}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "webhook",
			Name: "deliveries_total", Help: "Attempts to deliver a call event to a webhook subscription, by result."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ringside", Subsystem: "webhook",
			Name: "delivery_duration_seconds", Help: "How long delivery attempts took, answered or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "webhook",
			Name: "verifications_total", Help: "Verification handshakes with webhook receivers, by result."}, []string{"result"}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "webhook",
			Name: "disabled_total", Help: "Webhook subscriptions disabled after too many consecutive failures."}),
	}
	for _, r := range results {
		m.deliveries.WithLabelValues(r)
		m.verifications.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.deliveries, m.duration, m.verifications, m.disabled} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
