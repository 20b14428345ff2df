package natsbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/fault"
)

// Consumer configures a durable pull consumer of the stream.
type Consumer struct {
	Durable       string         // durable name; also a metrics label, so chosen by code, never by users
	FilterSubject string         // empty: every subject of the stream
	MaxDeliver    int            // deliveries before a still-failing message is dead-lettered; 0 = 5, <0 = never
	AckWait       time.Duration  // redelivery after this long without an answer; also the handler's deadline; 0 = 30s
	Concurrency   int            // handler goroutines; 0 = 1. One call's messages always run on one of them, in order
	Retry         backoff.Policy // nak delay for failed messages (fault.RetryAfter wins when larger); zero = 1s..1m
	// MaxAckPending is how many delivered, unacknowledged messages the
	// server lets the consumer hold, those waiting out a nak delay
	// included; at the limit it delivers nothing more. 0 = 1000 (the
	// server's default). A consumer whose messages can wait long for one
	// tenant (a receiver down, Zoho paused) sets it high, so that they do
	// not stop every other tenant's.
	MaxAckPending int
}

// Message is one delivery of a stored message.
type Message struct {
	Subject   string
	Data      []byte
	MsgID     string // Nats-Msg-Id
	CallID    string // Ringside-Call-Id, if the publisher set it
	Delivery  int    // 1 on the first delivery
	Sequence  uint64 // stream sequence
	Published time.Time
	Header    nats.Header // all headers; do not modify
}

// Handler processes one message. nil acks it; a fault.Permanent error
// dead-letters it at once; any other error naks it with a delay (the
// consumer's Retry backoff, or fault.RetryAfter when larger), and
// dead-letters it once MaxDeliver deliveries have failed.
type Handler func(ctx context.Context, m Message) error

func (c Consumer) withDefaults() (Consumer, error) {
	if c.Durable == "" || strings.ContainsAny(c.Durable, ".*> \t\r\n/\\") {
		return c, fmt.Errorf("natsbus: consume: bad durable name %q", c.Durable)
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Retry == (backoff.Policy{}) {
		c.Retry = backoff.Policy{Initial: time.Second, Max: time.Minute}
	}
	return c, nil
}

// pullBuffer is how many messages the client pulls ahead of the handlers.
// Their ack-wait clock is already running while they wait, so it stays a
// few dozen per handler: enough to keep handlers busy, small enough that a
// buffered message is handled long before AckWait.
func pullBuffer(concurrency int) int {
	return min(max(32*concurrency, 64), 1024)
}

// Consume creates or updates the durable pull consumer c and runs h on its
// messages until ctx is done; then it stops pulling, lets running handlers
// finish (each is bounded by AckWait) and returns nil. Messages of one call
// (header Ringside-Call-Id, else the <call_id> part of a <call_id>:<seq>
// message id, else the subject) are handled one at a time, in stream order;
// a message that is nak'ed may be overtaken by later messages of its call.
//
// Consume survives disconnects and a lost consumer (it recreates it with
// backoff). It returns an error when c is invalid, the server rejects the
// consumer configuration, or the Bus is closed.
func (b *Bus) Consume(ctx context.Context, c Consumer, h Handler) error {
	c, err := c.withDefaults()
	if err != nil {
		return fault.Permanent(err)
	}
	cm := b.m.forConsumer(c.Durable)
	log := b.log.With(zap.String("consumer", c.Durable))

	// One unbuffered lane per worker: the dispatcher waits for the lane's
	// worker, which is the backpressure that keeps a call in order.
	lanes := make([]chan jetstream.Msg, c.Concurrency)
	var g errgroup.Group
	for i := range lanes {
		lane := make(chan jetstream.Msg)
		lanes[i] = lane
		g.Go(func() error {
			for jm := range lane {
				b.handle(ctx, c, cm, log, h, jm)
			}
			return nil
		})
	}
	dispatch := func(jm jetstream.Msg) {
		lane := lanes[shard(jm, len(lanes))]
		select {
		case lane <- jm:
		case <-ctx.Done():
			_ = jm.Nak() // not started: let another consumer have it now
		}
	}
	err = b.pull(ctx, c, log, dispatch)
	for _, lane := range lanes {
		close(lane)
	}
	_ = g.Wait()
	return err
}

// pull feeds dispatch from the consumer until ctx is done, recreating the
// consumer after failures.
func (b *Bus) pull(ctx context.Context, c Consumer, log *zap.Logger, dispatch func(jetstream.Msg)) error {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		FilterSubject: c.FilterSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// The server redelivers forever; the handler side dead-letters after
		// MaxDeliver, also a message whose earlier deliveries timed out.
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
	}
	for attempt := 0; ; attempt++ {
		err := b.pullOnce(ctx, cfg, c.Concurrency, dispatch)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case b.closed.Load() || errors.Is(err, nats.ErrConnectionClosed):
			return fmt.Errorf("natsbus: consume %s: %w", c.Durable, ErrClosed)
		case fault.IsPermanent(err):
			return fmt.Errorf("natsbus: consume %s: %w", c.Durable, err)
		}
		d := b.o.Reconnect.Delay(attempt)
		log.Warn("nats consumer interrupted", zap.Int("attempt", attempt+1),
			zap.Duration("retry_in", d), zap.Error(err))
		if sleep(ctx, d) != nil {
			return nil
		}
	}
}

// pullOnce creates the consumer and iterates its messages until ctx is done
// or the iterator fails. A rejected configuration comes back as
// fault.Permanent.
func (b *Bus) pullOnce(ctx context.Context, cfg jetstream.ConsumerConfig, concurrency int, dispatch func(jetstream.Msg)) error {
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	cons, err := b.js.CreateOrUpdateConsumer(cctx, b.o.Stream, cfg)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			b.recheck()
			return fault.Retryable(err, 0)
		}
		return classifyAPI(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pullBuffer(concurrency)))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		jm, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				handBack(it)
			}
			return err
		}
		dispatch(jm)
	}
}

// handBack stops pulling and naks the messages already pulled but not
// handled, so that another instance gets them now rather than after AckWait.
func handBack(it jetstream.MessagesContext) {
	it.Drain()
	for {
		jm, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = jm.Nak()
	}
}

// shard picks the worker of a message: the same call always gets the same.
func shard(jm jetstream.Msg, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(orderKey(jm)))
	return int(h.Sum32() % uint32(n))
}

// orderKey is what a message must stay in order with: its call.
func orderKey(jm jetstream.Msg) string {
	hdr := jm.Headers()
	if id := hdr.Get(HeaderCallID); id != "" {
		return id
	}
	if id := hdr.Get(jetstream.MsgIDHeader); id != "" {
		if i := strings.LastIndexByte(id, ':'); i > 0 {
			return id[:i] // events.MsgID: <call_id>:<seq>
		}
	}
	return jm.Subject()
}

// handle runs h on one message and answers the server.
func (b *Bus) handle(ctx context.Context, c Consumer, cm consumerMetrics, log *zap.Logger, h Handler, jm jetstream.Msg) {
	m := Message{Subject: jm.Subject(), Data: jm.Data(), Header: jm.Headers(), Delivery: 1}
	m.MsgID = m.Header.Get(jetstream.MsgIDHeader)
	m.CallID = m.Header.Get(HeaderCallID)
	if md, err := jm.Metadata(); err == nil {
		m.Delivery = int(md.NumDelivered)
		m.Sequence = md.Sequence.Stream
		m.Published = md.Timestamp
	}
	log = log.With(zap.String("subject", m.Subject), zap.String("msg_id", m.MsgID), zap.Int("delivery", m.Delivery))

	if c.MaxDeliver > 0 && m.Delivery > c.MaxDeliver {
		// Earlier deliveries got no answer (handler past AckWait, crash).
		b.deadLetter(ctx, c, cm, log, jm, m, fmt.Sprintf("no answer after %d deliveries", m.Delivery-1))
		return
	}
	// Running handlers finish on shutdown: their context is not cancelled
	// with ctx, but ends at AckWait, when the server would redeliver anyway.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.AckWait)
	err := h(hctx, m)
	cancel()
	switch {
	case err == nil:
		if aerr := jm.Ack(); aerr != nil {
			log.Warn("nats ack failed", zap.Error(aerr))
		}
		cm.ack.Inc()
	case fault.IsPermanent(err):
		b.deadLetter(ctx, c, cm, log, jm, m, err.Error())
	case c.MaxDeliver > 0 && m.Delivery >= c.MaxDeliver:
		b.deadLetter(ctx, c, cm, log, jm, m, err.Error())
	default:
		d := max(c.Retry.Delay(m.Delivery-1), fault.RetryAfter(err))
		log.Debug("nats message retried", zap.Duration("retry_in", d), zap.Error(err))
		if nerr := jm.NakWithDelay(d); nerr != nil {
			log.Warn("nats nak failed", zap.Error(nerr))
		}
		cm.retry.Inc()
	}
}

// maxReason bounds the Ringside-Reason header.
const maxReason = 1024

// deadLetter stores the message on the consumer's dead-letter subject and
// then terminates it. If the dead letter cannot be stored the message is
// nak'ed instead, so nothing is lost.
func (b *Bus) deadLetter(ctx context.Context, c Consumer, cm consumerMetrics, log *zap.Logger, jm jetstream.Msg, m Message, reason string) {
	reason = oneLine(reason, maxReason)
	dl := nats.NewMsg(DeadLetterSubject(c.Durable))
	dl.Data = m.Data
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Nats-") {
			continue // JetStream directives (msg id, expectations, TTL...) are not for the DLQ
		}
		dl.Header[k] = append([]string(nil), v...)
	}
	dl.Header.Set(HeaderReason, reason)
	dl.Header.Set(HeaderOriginalSubject, m.Subject)
	dl.Header.Set(HeaderDeliveries, strconv.Itoa(m.Delivery))
	if m.MsgID != "" {
		dl.Header.Set(HeaderOriginalMsgID, m.MsgID)
	}
	// Unique per consumer and stored message: a retried dead letter is
	// stored once, and two consumers' dead letters of one event both are.
	dl.Header.Set(jetstream.MsgIDHeader, c.Durable+":"+strconv.FormatUint(m.Sequence, 10))

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	_, err := b.js.PublishMsg(pctx, dl, jetstream.WithExpectStream(b.dlqStream))
	cancel()
	if err != nil {
		d := c.Retry.Delay(m.Delivery - 1)
		log.Error("nats dead letter failed, message kept", zap.String("reason", reason),
			zap.Duration("retry_in", d), zap.Error(err))
		_ = jm.NakWithDelay(d)
		cm.retry.Inc()
		return
	}
	if terr := jm.TermWithReason(oneLine(reason, 256)); terr != nil {
		log.Warn("nats term failed", zap.Error(terr))
	}
	cm.deadLetter.Inc()
	cm.deadLetters.Inc()
	log.Warn("nats message dead-lettered", zap.String("reason", reason))
}

// oneLine makes s safe as a header value: no line breaks, at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}
