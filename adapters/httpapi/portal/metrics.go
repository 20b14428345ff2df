package portal

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the portal's own; its requests are counted by the server
// (ringside_http_requests_total, by route pattern).
type metrics struct {
	logins      *prometheus.CounterVec
	csrfRefused prometheus.Counter
}

// loginResults are the values of the result label, all initialised.
var loginResults = []string{"ok", "wrong", "locked", "error"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "portal", Name: "logins_total",
			Help: "Portal login attempts by result: ok, wrong (username or password), locked (too many failures from the address), error.",
		}, []string{"result"}),
		csrfRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "ringside", Subsystem: "portal", Name: "csrf_refused_total",
			Help: "Portal form posts refused for a missing or wrong CSRF token.",
		}),
	}
	for _, r := range loginResults {
		m.logins.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.logins, m.csrfRefused} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("portal: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
