package clicktocall

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of click-to-call, registered by the part that counts them
// (Service, Node, Terminals, Control): ringside_clicktocall_*. Labels are
// bounded enums; never a tenant, user, number or call id.

// Click results (requests_total).
const (
	clickAccepted     = "accepted"
	clickDuplicate    = "duplicate"
	clickUnauthorized = "unauthorized"
	clickDisabled     = "disabled"
	clickInvalid      = "invalid"
	clickUnavailable  = "unavailable"
)

// counter registers a counter vector ringside_clicktocall_<name>.
func counter(reg prometheus.Registerer, name, help string, labels ...string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ringside", Subsystem: "clicktocall", Name: name, Help: help}, labels)
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}
