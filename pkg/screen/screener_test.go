package screen

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestScreenerMetric: a Screener registers the refresh counter with every
// result, before any refresh.
func TestScreenerMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{Registerer: reg})
	defer s.Close()
	if n, err := testutil.GatherAndCount(reg, "ringside_screen_refreshes_total"); err != nil || n != 3 {
		t.Errorf("%d series, %v; want ok, error and dropped", n, err)
	}
}
