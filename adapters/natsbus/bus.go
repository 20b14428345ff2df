// Package natsbus owns Ringside's NATS JetStream plumbing: the embedded
// nats-server of the default setup (or the connection to an external
// cluster), the call-event stream and its dead-letter stream, a publisher that
// de-duplicates by Nats-Msg-Id and waits for the stream's acknowledgement, and
// durable pull consumers with ack / nak-with-delay / dead-letter semantics.
//
// Delivery is at least once: handlers must be idempotent (events carry
// call_id and seq). Errors are classified with pkg/fault at this boundary.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/fault"
)

// Options configure a Bus.
type Options struct {
	URL             string        // empty: start an embedded server; else one or more comma-separated nats:// URLs
	Token           string        // auth token (external server, or the embedded one's Listen port); never logged
	DataDir         string        // embedded: JetStream store directory
	Listen          string        // embedded: also accept clients on host:port; empty = in-process only
	Name            string        // connection name (node id); also the embedded server's name
	Stream          string        // stream name, e.g. RINGSIDE_CALLS
	Subjects        []string      // stream subjects, e.g. events.CallSubjects
	Replicas        int           // stream replicas; 0 = 1
	MaxAge          time.Duration // 0 = keep until other limits
	DuplicateWindow time.Duration // 0 = the server's default (2m)
	Reconnect       backoff.Policy
	Logger          *zap.Logger
	Registerer      prometheus.Registerer // nil: metrics are kept but not exported
}

// Header names Ringside sets on messages.
const (
	// HeaderCallID carries the call id; consumers keep one call's messages
	// on one worker, in order.
	HeaderCallID = "Ringside-Call-Id"
	// Dead-letter headers, added to the original ones.
	HeaderReason          = "Ringside-Reason"
	HeaderOriginalSubject = "Ringside-Original-Subject"
	HeaderDeliveries      = "Ringside-Deliveries"
	HeaderOriginalMsgID   = "Ringside-Original-Msg-Id"
)

// DeadLetterPrefix is the subject prefix of dead letters; a consumer's dead
// letters go to DeadLetterPrefix + "." + durable.
const DeadLetterPrefix = "ringside.v1.deadletter"

// DeadLetterSubject is where the durable consumer's dead letters go. It has
// four tokens, so call subjects (ringside.v1.<tenant>.call.<type>, five
// tokens) never match it, and the two streams never overlap.
func DeadLetterSubject(durable string) string { return DeadLetterPrefix + "." + durable }

// ErrDisconnected is wrapped (as fault.Retryable) by Publish while the
// connection to NATS is down; Ready reports it too.
var ErrDisconnected = errors.New("disconnected")

// ErrClosed is returned by a Bus after Close.
var ErrClosed = errors.New("closed")

// Timings that are not worth a config key.
const (
	apiTimeout       = 5 * time.Second  // one JetStream API call (stream info, create...)
	streamCheckEvery = 5 * time.Second  // how often readiness re-checks the streams
	closeWait        = 35 * time.Second // drain (30s in nats.go) plus slack
)

// Bus is a connection to NATS JetStream, with the embedded server it owns,
// if any. It is safe for concurrent use.
type Bus struct {
	o         Options
	log       *zap.Logger
	m         *metrics
	srv       *server.Server // nil with an external server
	nc        *nats.Conn
	js        jetstream.JetStream
	dlqStream string

	streamOK       atomic.Bool
	closed         atomic.Bool
	closeOnce      sync.Once
	connClosed     chan struct{} // closed by the connection's closed handler
	connClosedOnce sync.Once
	poke           chan struct{} // size 1: "re-check the streams now"; a full channel already asks for it
	stopWatch      context.CancelFunc
	watchDone      chan struct{}
}

// Open starts the embedded server (URL empty) or connects to the external
// one, creating or updating the stream and its dead-letter stream. While an
// external server cannot be reached Open keeps trying with the Reconnect
// backoff, logging each failure, until ctx is done; it then returns an error
// wrapping ctx.Err(). Once open, the connection reconnects forever.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if o.Stream == "" || len(o.Subjects) == 0 {
		return nil, errors.New("natsbus: open: stream name and subjects are required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Reconnect == (backoff.Policy{}) {
		o.Reconnect = backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("natsbus: metrics: %w", err)
	}
	b := &Bus{
		o:          o,
		log:        o.Logger,
		m:          m,
		dlqStream:  o.Stream + "_DLQ",
		connClosed: make(chan struct{}),
		poke:       make(chan struct{}, 1),
		watchDone:  make(chan struct{}),
	}
	if o.URL == "" {
		if b.srv, err = startEmbedded(ctx, o, b.log); err != nil {
			return nil, err
		}
	}
	if err := b.connect(ctx); err != nil {
		b.shutdownServer()
		return nil, err
	}
	if err := b.setup(ctx); err != nil {
		b.closeConn()
		b.shutdownServer()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	b.stopWatch = cancel
	go b.watch(wctx)
	return b, nil
}

// connect dials until it succeeds or ctx is done.
func (b *Bus) connect(ctx context.Context) error {
	addr := b.o.URL
	opts := []nats.Option{
		nats.Name(b.o.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return b.o.Reconnect.Delay(attempts - 1)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.m.connected.Set(0)
			if !b.closed.Load() {
				b.log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.m.connected.Set(1)
			b.m.reconnects.Inc()
			b.log.Info("nats reconnected", zap.String("url", redactURLs(nc.ConnectedUrl())))
			b.recheck()
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			b.m.connected.Set(0)
			b.connClosedOnce.Do(func() { close(b.connClosed) })
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			b.log.Warn("nats async error", zap.Error(err))
		}),
	}
	if b.o.Token != "" {
		opts = append(opts, nats.Token(b.o.Token))
	}
	if b.srv != nil {
		addr = b.srv.ClientURL()
		opts = append(opts, nats.InProcessServer(b.srv))
	}
	for attempt := 0; ; attempt++ {
		nc, err := nats.Connect(addr, opts...)
		if err == nil {
			b.nc = nc
			b.m.connected.Set(1)
			if b.srv != nil {
				b.log.Info("nats connected", zap.Bool("embedded", true))
			} else {
				b.log.Info("nats connected", zap.String("url", redactURLs(nc.ConnectedUrl())))
			}
			return nil
		}
		d := b.o.Reconnect.Delay(attempt)
		b.log.Warn("nats connect failed", zap.String("url", redactURLs(addr)),
			zap.Int("attempt", attempt+1), zap.Duration("retry_in", d), zap.Error(err))
		if werr := sleep(ctx, d); werr != nil {
			return fmt.Errorf("natsbus: connect %s: %w (last error: %v)", redactURLs(addr), werr, err)
		}
	}
}

// setup creates the JetStream context and the streams, retrying what may
// pass (timeouts, JetStream not yet available) until ctx is done.
func (b *Bus) setup(ctx context.Context) error {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return fmt.Errorf("natsbus: jetstream: %w", err)
	}
	b.js = js
	for attempt := 0; ; attempt++ {
		err := b.ensureStreams(ctx)
		if err == nil {
			b.streamOK.Store(true)
			return nil
		}
		if fault.IsPermanent(err) {
			return err
		}
		d := b.o.Reconnect.Delay(attempt)
		b.log.Warn("nats stream setup failed", zap.String("stream", b.o.Stream),
			zap.Int("attempt", attempt+1), zap.Duration("retry_in", d), zap.Error(err))
		if werr := sleep(ctx, d); werr != nil {
			return fmt.Errorf("natsbus: stream %s: %w (last error: %v)", b.o.Stream, werr, err)
		}
	}
}

// ensureStreams creates or updates the call stream and the dead-letter
// stream. Errors are classified: a rejected configuration is permanent.
func (b *Bus) ensureStreams(ctx context.Context) error {
	cfgs := []jetstream.StreamConfig{{
		Name:       b.o.Stream,
		Subjects:   b.o.Subjects,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     b.o.MaxAge,
		Duplicates: b.o.DuplicateWindow,
		Replicas:   b.o.Replicas,
	}, {
		Name:       b.dlqStream,
		Subjects:   []string{DeadLetterPrefix + ".*"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     b.o.MaxAge,
		Duplicates: b.o.DuplicateWindow,
		Replicas:   b.o.Replicas,
	}}
	for _, cfg := range cfgs {
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		_, err := b.js.CreateOrUpdateStream(cctx, cfg)
		cancel()
		if err != nil {
			return fmt.Errorf("natsbus: stream %s: %w", cfg.Name, classifyAPI(err))
		}
	}
	return nil
}

// checkStreams reports whether both streams exist, recreating a missing one
// (a server that lost its store).
func (b *Bus) checkStreams(ctx context.Context, full bool) error {
	if full {
		return b.ensureStreams(ctx)
	}
	for _, name := range []string{b.o.Stream, b.dlqStream} {
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		_, err := b.js.Stream(cctx, name)
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return b.ensureStreams(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// watch keeps the stream part of readiness true: it checks the streams
// every few seconds and re-ensures them after each reconnect.
func (b *Bus) watch(ctx context.Context) {
	defer close(b.watchDone)
	t := time.NewTicker(streamCheckEvery)
	defer t.Stop()
	for {
		full := false
		select {
		case <-ctx.Done():
			return
		case <-b.poke:
			full = true
		case <-t.C:
		}
		if !b.nc.IsConnected() {
			continue
		}
		err := b.checkStreams(ctx, full)
		if ctx.Err() != nil {
			return
		}
		was := b.streamOK.Swap(err == nil)
		switch {
		case err != nil && was:
			b.log.Warn("nats stream unavailable", zap.String("stream", b.o.Stream), zap.Error(err))
		case err == nil && !was:
			b.log.Info("nats stream available", zap.String("stream", b.o.Stream))
		}
	}
}

// recheck asks the watcher to re-ensure the streams soon. It never blocks.
func (b *Bus) recheck() {
	select {
	case b.poke <- struct{}{}:
	default: // a check is already pending
	}
}

// Ready reports nil when the Bus can publish and consume, else what is
// wrong: "disconnected" or "stream RINGSIDE_CALLS unavailable". It never
// blocks.
func (b *Bus) Ready() error {
	switch {
	case b.closed.Load():
		return ErrClosed
	case !b.nc.IsConnected():
		return ErrDisconnected
	case !b.streamOK.Load():
		return fmt.Errorf("stream %s unavailable", b.o.Stream)
	}
	return nil
}

// Conn is the underlying connection, for request/reply commands. It belongs
// to the Bus: do not close it.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Close drains the connection (pending acks and publishes are flushed,
// subscriptions end), then shuts the embedded server down and waits for it.
// Stop consumers (cancel their context) before. Close is idempotent.
func (b *Bus) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.stopWatch()
		<-b.watchDone
		err = b.closeConn()
		b.shutdownServer()
		b.log.Info("nats closed")
	})
	return err
}

// closeConn drains the connection and waits until it is closed.
func (b *Bus) closeConn() error {
	var err error
	if derr := b.nc.Drain(); derr != nil {
		b.nc.Close() // reconnecting or already closed: nothing to drain
	}
	select {
	case <-b.connClosed:
	case <-time.After(closeWait):
		b.nc.Close()
		<-b.connClosed
		err = errors.New("natsbus: close: drain timed out")
	}
	if lerr := b.nc.LastError(); lerr != nil && errors.Is(lerr, nats.ErrDrainTimeout) {
		err = fmt.Errorf("natsbus: close: %w", lerr)
	}
	return err
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// sleep waits d or until ctx is done, returning ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// redactURLs strips user info (tokens, passwords) from a comma-separated
// URL list so it can be logged.
func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil {
			if strings.Contains(p, "@") {
				p = "<unparsable url>"
			}
			parts[i] = p
			continue
		}
		u.User = nil
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
