package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ringside/ringside/pkg/buildinfo"
)

// handlerOther is the handler label of every request no mounted pattern
// matched (404, 405, path-cleaning redirects): the raw path never becomes a
// label value.
const handlerOther = "other"

// codeAborted is the code label of a request whose handler aborted
// (http.ErrAbortHandler) before sending any status.
const codeAborted = "aborted"

// NewRegistry returns a fresh registry holding the Go runtime and process
// collectors and ringside_build_info{version,revision,goversion} 1, ready to
// be both the Gatherer and the Registerer of a Server.
func NewRegistry(info buildinfo.Info) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "ringside",
		Name:      "build_info",
		Help:      "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{
			"version":   info.Version,
			"revision":  info.Commit,
			"goversion": info.GoVersion,
		},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
	)
	return reg
}

type serverMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	m := &serverMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ringside",
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests served, by mounted route pattern (\"other\" when none matched) and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ringside",
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Time to serve an HTTP request, by mounted route pattern (\"other\" when none matched).",
			Buckets:   prometheus.DefBuckets,
		}, []string{"handler"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	m.initHandler(handlerOther)
	return m
}

// initHandler makes the duration series of a route exist before its first
// request, so dashboards and rate() see zero rather than nothing.
func (m *serverMetrics) initHandler(handler string) {
	m.duration.WithLabelValues(handler)
}

func (m *serverMetrics) observe(handler string, status int, took time.Duration) {
	code := codeAborted
	if status != 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(handler, code).Inc()
	m.duration.WithLabelValues(handler).Observe(took.Seconds())
}
