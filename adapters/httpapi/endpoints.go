package httpapi

import (
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxConcurrentScrapes bounds concurrent /metrics requests: each one runs
// every collector (the process collector reads /proc), so a flood of scrapes
// gets 503 instead of CPU. Prometheus servers scraping one target are few.
const maxConcurrentScrapes = 4

// healthz is liveness: if this handler runs, the process serves. It never
// consults components; a broken PBX link must not get the daemon restarted.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

// readyz is readiness: 200 "ready" with no problems, else 503 naming every
// failing component, one "component: reason" line each, in the order given.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.ready == nil {
		writeText(w, http.StatusOK, "ready\n")
		return
	}
	problems := s.ready.Problems()
	if len(problems) == 0 {
		writeText(w, http.StatusOK, "ready\n")
		return
	}
	var b strings.Builder
	for _, p := range problems {
		reason := "not ready"
		if p.Err != nil {
			reason = p.Err.Error()
		}
		// One line per problem, whatever the error text holds.
		line := p.Component + ": " + reason
		b.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(line))
		b.WriteByte('\n')
	}
	writeText(w, http.StatusServiceUnavailable, b.String())
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// metricsHandler serves g in the classic Prometheus text format.
//
// ContinueOnError: one failing collector must not blank the whole scrape
// (and with it every alert); the error is logged and counted in
// promhttp_metric_handler_errors_total on reg.
//
// OpenMetrics stays off: we export no exemplars, and the text format is what
// every Prometheus version and promlint read, with no _created series or
// negotiation differences between scrapers.
func metricsHandler(g prometheus.Gatherer, reg prometheus.Registerer, log *zap.Logger) http.Handler {
	// The level is a valid constant, so NewStdLogAt cannot fail.
	errLog, _ := zap.NewStdLogAt(log.Named("metrics"), zapcore.ErrorLevel)
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            errLog,
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: maxConcurrentScrapes,
		EnableOpenMetrics:   false,
	})
}
