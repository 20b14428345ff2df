// Package httpapi owns Ringside's HTTP listener: the hardened http.Server,
// the router later features mount their routes on (Zoho callbacks,
// recordings, admin API, portal), and the operational endpoints every
// deployment has:
//
//	GET /healthz   liveness: 200 "ok" while the process serves, nothing else
//	GET /readyz    readiness: 200 "ready", or 503 with one "component: reason" line per problem
//	GET /metrics   the Prometheus gatherer it was given
//
// It also owns the server's own metrics (ringside_http_*), the panic guard
// that keeps a bad handler from taking the daemon down, and debug-level
// request logging. See README.md for the contract.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ringside/ringside/pkg/health"
)

// Limits applied to every connection. They bound what a hostile or broken
// client can hold: a slow header (ReadHeaderTimeout), a slow body
// (ReadTimeout), a reader that never drains the response (WriteTimeout) and
// idle keep-alive connections (IdleTimeout).
//
// WriteTimeout also covers /metrics: gathering is in-memory and takes
// milliseconds, and Prometheus gives up on its own after scrape_timeout
// (10s by default), well before 30s. A handler that legitimately streams for
// longer (recordings) extends its own deadline with
// http.NewResponseController(w).SetWriteDeadline; the middleware's response
// writer supports that through Unwrap.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 10 * time.Second
)

// Readiness answers what keeps Ringside from taking work; no problems means
// ready. *health.Registry satisfies it.
type Readiness interface{ Problems() []health.Problem }

var _ Readiness = (*health.Registry)(nil)

// Options configure a Server.
type Options struct {
	Listen     string                // host:port; port 0 picks a free one (see Run's ready callback)
	Ready      Readiness             // nil means always ready
	Gatherer   prometheus.Gatherer   // served at /metrics; nil leaves /metrics unmounted
	Logger     *zap.Logger           // nil means no logging
	Registerer prometheus.Registerer // for the server's own metrics; nil leaves them unregistered
}

// Server is Ringside's HTTP server. Create it with New, mount routes with
// Handle, then call Run once.
type Server struct {
	listen  string
	ready   Readiness
	log     *zap.Logger
	mux     *http.ServeMux
	metrics *serverMetrics
	srv     *http.Server
}

// New builds a server with /healthz, /readyz and (if a gatherer is given)
// /metrics mounted. It panics if the server's metrics are already registered
// on o.Registerer: that is a wiring bug.
func New(o Options) *Server {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("http")
	s := &Server{
		listen:  o.Listen,
		ready:   o.Ready,
		log:     log,
		mux:     http.NewServeMux(),
		metrics: newServerMetrics(o.Registerer),
	}
	// The level is a valid constant, so NewStdLogAt cannot fail.
	errLog, _ := zap.NewStdLogAt(log, zapcore.WarnLevel)
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errLog,
	}
	s.Handle("GET /healthz", http.HandlerFunc(healthz))
	s.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	if o.Gatherer != nil {
		s.Handle("GET /metrics", metricsHandler(o.Gatherer, o.Registerer, log))
	}
	return s
}

// Handle mounts h on a Go 1.22+ ServeMux pattern ("POST /zoho/clicktodial",
// "GET /recordings/{token}"). The pattern, never the request path, becomes
// the handler label of the server's metrics. A GET pattern also answers HEAD;
// a path that matches only with another method gets 405 with an Allow header.
// Like http.ServeMux.Handle it panics on an invalid or conflicting pattern.
// It is safe to call while the server runs.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.metrics.initHandler(pattern)
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.handler = pattern
		}
		h.ServeHTTP(w, r)
	}))
}

// Run listens on the configured address, calls ready (if not nil) with the
// address actually bound, and serves until ctx is done. It then shuts down
// gracefully, giving in-flight requests a bounded time to finish, and
// returns nil. It returns an error if it cannot listen, if serving fails, or
// if in-flight requests outlive the shutdown timeout (their connections are
// then closed). Run must be called at most once.
func (s *Server) Run(ctx context.Context, ready func(addr net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("httpapi: listen %s: %w", s.listen, err)
	}
	addr := ln.Addr()
	s.log.Info("listening", zap.Stringer("addr", addr))
	if ready != nil {
		ready(addr)
	}

	// Serve's goroutine is owned by Run: it stops when Shutdown/Close is
	// called or the listener fails, and Run waits for it before returning.
	served := make(chan error, 1) // size one: the goroutine never blocks on send
	go func() { served <- s.srv.Serve(ln) }()

	select {
	case err := <-served:
		// Serve failed on its own (ctx is not done); it closed the listener.
		return fmt.Errorf("httpapi: serve %s: %w", addr, err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shutErr := s.srv.Shutdown(sctx)
	if shutErr != nil {
		// In-flight requests did not finish in time: cut them off.
		_ = s.srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpapi: serve %s: %w", addr, err)
	}
	if shutErr != nil {
		return fmt.Errorf("httpapi: shutdown %s: %w", addr, shutErr)
	}
	s.log.Info("stopped", zap.Stringer("addr", addr))
	return nil
}
