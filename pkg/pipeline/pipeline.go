// Package pipeline owns the path from PBX signals to published call events:
// it feeds signals to the call state machine and hands the events it emits to
// a Publisher, keeping the events of one call in order and never dropping one.
//
// Shape: producers (PBX adapters, the demo generator) call Submit, which
// applies the signal to the machine under a lock and queues the resulting
// events on the shard of their call. One goroutine per shard publishes its
// queue in order, retrying with backoff while the bus is slow or gone. A full
// shard queue makes Submit wait: back-pressure travels to the PBX connection
// instead of events being lost.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
)

// ErrClosed is returned by Submit once intake has been stopped.
var ErrClosed = errors.New("pipeline: intake closed")

// Publisher delivers one call event. It must be safe for concurrent use; an
// error wrapped with fault.Permanent means no retry can deliver the event.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte) error
}

// Options tune the pipeline; zero values take the defaults in parentheses.
type Options struct {
	Shards         int            // publisher goroutines (8)
	Queue          int            // events buffered per shard (256)
	PublishTimeout time.Duration  // one publish attempt (5s)
	Retry          backoff.Policy // between attempts
	Logger         *zap.Logger
	Registerer     prometheus.Registerer
}

// Pipeline connects a call state machine to a publisher.
type Pipeline struct {
	opts    Options
	pub     Publisher
	log     *zap.Logger
	metrics *metrics
	seed    maphash.Seed

	mu      sync.Mutex // guards machine, pending, sent and closed; held while queueing
	machine *callstate.Machine
	pending []events.Call // events applied but not yet queued, in order
	sent    int           // pending[:sent] are queued
	closed  bool

	// Copies of the machine's gauges, refreshed after every signal, so that
	// a scrape never waits for mu (which back-pressure can hold for long).
	active  atomic.Int64
	statsMu sync.Mutex
	stats   callstate.Stats

	shards []chan events.Call
}

// New builds a pipeline around machine (which it owns from now on).
func New(machine *callstate.Machine, pub Publisher, o Options) *Pipeline {
	if o.Shards <= 0 {
		o.Shards = 8
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	p := &Pipeline{
		opts:    o,
		pub:     pub,
		log:     o.Logger,
		seed:    maphash.MakeSeed(),
		machine: machine,
		pending: make([]events.Call, 0, 8),
		shards:  make([]chan events.Call, o.Shards),
	}
	for i := range p.shards {
		// Sized by configuration (pipeline.queue): absorbs a burst of call
		// events while NATS acknowledges slowly; when full, Submit waits.
		p.shards[i] = make(chan events.Call, o.Queue)
	}
	p.metrics = newMetrics(o.Registerer, p)
	return p
}

// Submit applies one signal and queues the events it causes. It waits while
// the shard of a call is full. It fails only when the signal was not applied:
// with ctx.Err() if ctx ended while earlier events still waited for room (the
// caller may submit the same signal again), or with ErrClosed after Close.
// Once applied, a signal's events belong to the pipeline: those that find no
// room before ctx ends wait in order and go first at the next Submit or Close.
func (p *Pipeline) Submit(ctx context.Context, s callstate.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if err := p.flush(ctx); err != nil {
		return err
	}
	p.metrics.signals.WithLabelValues(s.Kind.String()).Inc()
	n := len(p.pending)
	p.pending = p.machine.Apply(s, p.pending)
	for _, e := range p.pending[n:] {
		p.metrics.events.WithLabelValues(string(e.Type)).Inc()
		if e.Type == events.Ended {
			p.metrics.ended.WithLabelValues(string(e.Direction), string(e.Disposition)).Inc()
		}
	}
	p.active.Store(int64(p.machine.Active()))
	p.statsMu.Lock()
	p.stats = p.machine.Stats()
	p.statsMu.Unlock()
	_ = p.flush(ctx) // what finds no room waits for the next Submit or Close
	return nil
}

// flush queues the pending events in order, each on its call's shard.
func (p *Pipeline) flush(ctx context.Context) error {
	for ; p.sent < len(p.pending); p.sent++ {
		if err := p.enqueue(ctx, p.pending[p.sent]); err != nil {
			return err
		}
	}
	p.pending, p.sent = p.pending[:0], 0
	return nil
}

func (p *Pipeline) enqueue(ctx context.Context, e events.Call) error {
	ch := p.shards[maphash.String(p.seed, e.CallID)%uint64(len(p.shards))]
	select {
	case ch <- e:
		return nil
	default:
	}
	start := time.Now()
	defer func() { p.metrics.blocked.Add(time.Since(start).Seconds()) }()
	select {
	case ch <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops intake: later Submits fail with ErrClosed, and Run returns once
// every queued event is published. Events still waiting for room are queued
// first, for as long as ctx allows; the error says how many were given up.
// It returns the calls still in progress, for the caller to persist.
func (p *Pipeline) Close(ctx context.Context) ([]callstate.Snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	p.closed = true
	var err error
	if ferr := p.flush(ctx); ferr != nil {
		err = fmt.Errorf("pipeline: %d call events not queued before shutdown: %w", len(p.pending)-p.sent, ferr)
	}
	for _, ch := range p.shards {
		close(ch)
	}
	return p.machine.Snapshot(), err
}

// Active is the number of calls in progress.
func (p *Pipeline) Active() int { return int(p.active.Load()) }

// Stats returns the machine's counters as of the last signal.
func (p *Pipeline) Stats() callstate.Stats {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	return p.stats
}

// LiveLegs lists the PBX legs of calls in progress, for reconciliation after
// a reconnect.
func (p *Pipeline) LiveLegs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.machine.LiveLegs()
}

// Run publishes queued events until Close has been called and every queue is
// empty. Cancelling ctx abandons publishing at once (events still queued are
// lost to this process but their calls were persisted by Close's caller;
// JetStream de-duplicates what a later run publishes again).
func (p *Pipeline) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, ch := range p.shards {
		g.Go(func() error { return p.publishLoop(ctx, ch) })
	}
	return g.Wait()
}

func (p *Pipeline) publishLoop(ctx context.Context, ch <-chan events.Call) error {
	for e := range ch {
		if err := p.publish(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// publish delivers one event, retrying until it is accepted, found permanent,
// or ctx ends.
func (p *Pipeline) publish(ctx context.Context, e events.Call) error {
	data, err := json.Marshal(e)
	if err != nil {
		// A call event always marshals; this guards against a future field.
		p.metrics.published.WithLabelValues("permanent_error").Inc()
		p.log.Error("call event not encodable", zap.String("call_id", e.CallID), zap.Error(err))
		return nil
	}
	subject := events.CallSubject(e.Tenant, e.Type)
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.opts.PublishTimeout)
		err = p.pub.Publish(actx, subject, e.ID, data)
		cancel()
		switch {
		case err == nil:
			p.metrics.published.WithLabelValues("ok").Inc()
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("pipeline: publish %s: %w", e.ID, ctx.Err())
		case fault.IsPermanent(err):
			p.metrics.published.WithLabelValues("permanent_error").Inc()
			p.log.Error("call event rejected by the bus", zap.String("event_id", e.ID),
				zap.String("subject", subject), zap.Error(err))
			return nil
		}
		p.metrics.published.WithLabelValues("retry").Inc()
		delay := max(p.opts.Retry.Delay(attempt), fault.RetryAfter(err))
		if attempt == 0 || attempt%20 == 0 {
			p.log.Warn("publishing call event, will retry", zap.String("event_id", e.ID),
				zap.Int("attempt", attempt+1), zap.Duration("retry_in", delay), zap.Error(err))
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("pipeline: publish %s: %w", e.ID, ctx.Err())
		}
	}
}

// Queued is the number of events waiting to be published.
func (p *Pipeline) Queued() int {
	n := 0
	for _, ch := range p.shards {
		n += len(ch)
	}
	return n
}
