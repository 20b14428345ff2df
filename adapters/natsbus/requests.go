package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/fault"
)

// Command sends payload as a NATS request on subject and returns the reply
// (core request/reply, not the stream), bounded by ctx. It is the
// clicktocall.Commander of the daemon: commands go to the node that owns a
// PBX, ringside.v1.cmd.<node>.<command>. No node listening is
// nats.ErrNoResponders.
func (b *Bus) Command(ctx context.Context, subject string, payload []byte) ([]byte, error) {
	m, err := b.nc.RequestWithContext(ctx, subject, payload)
	if err != nil {
		return nil, fmt.Errorf("natsbus: command %s: %w", subject, err)
	}
	return m.Data, nil
}

// Serve answers the requests on subject with h (its return value is the
// reply) until stop is called. stop unsubscribes, cancels the context of
// the handlers still running and waits for them.
func (b *Bus) Serve(subject string, h func(ctx context.Context, data []byte) []byte) (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	)
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		wg.Add(1)
		mu.Unlock()
		defer wg.Done()
		if err := m.Respond(h(ctx, m.Data)); err != nil {
			b.log.Debug("nats reply failed", zap.String("subject", subject), zap.Error(err))
		}
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("natsbus: serve %s: %w", subject, err)
	}
	return func() {
		_ = sub.Unsubscribe()
		mu.Lock()
		stopped = true
		mu.Unlock()
		cancel()
		wg.Wait()
	}, nil
}

// Follow hands h every message of the stream on subject (a filter, may
// have wildcards) stored since since, then each new one, in stream order,
// until ctx ends. It reads through an ephemeral ordered consumer: every
// process that follows gets every message, nothing is acknowledged, and
// the server keeps nothing for it once it stops; after a reconnect it goes
// on where it was. It is for views kept in memory (they are rebuilt from
// the stream at start), not for work that must happen once: use Consume.
func (b *Bus) Follow(ctx context.Context, subject string, since time.Time, h func(Message)) error {
	log := b.log.With(zap.String("follow", subject))
	var last uint64 // stream sequence of the last message handed to h
	for attempt := 0; ; attempt++ {
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject},
			DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since}
		if last > 0 {
			cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, last+1
		}
		err := b.followOnce(ctx, cfg, &last, h)
		if ctx.Err() != nil {
			return nil
		}
		if b.closed.Load() || errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("natsbus: follow %s: %w", subject, ErrClosed)
		}
		d := b.o.Reconnect.Delay(attempt)
		log.Warn("nats follower interrupted", zap.Int("attempt", attempt+1), zap.Duration("retry_in", d), zap.Error(err))
		if sleep(ctx, d) != nil {
			return nil
		}
	}
}

func (b *Bus) followOnce(ctx context.Context, cfg jetstream.OrderedConsumerConfig, last *uint64, h func(Message)) error {
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	cons, err := b.js.OrderedConsumer(cctx, b.o.Stream, cfg)
	cancel()
	if err != nil {
		return fault.Retryable(err, 0)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		jm, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		m := Message{Subject: jm.Subject(), Data: jm.Data(), Header: jm.Headers(), Delivery: 1}
		m.MsgID = m.Header.Get(jetstream.MsgIDHeader)
		m.CallID = m.Header.Get(HeaderCallID)
		if md, err := jm.Metadata(); err == nil {
			m.Sequence = md.Sequence.Stream
			m.Published = md.Timestamp
			*last = m.Sequence
		}
		h(m)
	}
}
