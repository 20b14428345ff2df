package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/webhook"
	"github.com/ringside/ringside/pkg/buildinfo"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/webhooks"
)

// newDispatcher builds the webhook dispatcher on the store, posting with
// the HTTP client it returns (close it when done). A subscription
// remembers the events it got as long as the stream keeps them.
func newDispatcher(cfg config.Config, st stateStore, log *zap.Logger, reg prometheus.Registerer) (*webhooks.Dispatcher, *webhook.Client, error) {
	c := webhook.New(webhook.Options{Timeout: cfg.Webhooks.Timeout + time.Second})
	d, err := webhooks.New(webhooks.Options{
		Subscriptions: st, Keys: st, Log: st, Audit: st, Poster: c,
		Timeout: cfg.Webhooks.Timeout, MaxFailures: cfg.Webhooks.MaxFailures, Backoff: cfg.Webhooks.Backoff,
		AllowInsecure: cfg.Webhooks.Insecure(), DoneTTL: cfg.NATS.MaxAge,
		UserAgent: "Ringside/" + buildinfo.Get().Version, Logger: log.Named("webhooks"), Registerer: reg,
	})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return d, c, nil
}

// webhooksConcurrency is how many call events the "webhooks" consumer
// handles at once; one call's events stay in order on one of them.
const webhooksConcurrency = 16

// webhooksConsumer returns the "webhooks" durable consumer: every call
// event goes through the dispatcher, which delivers it to the tenant's
// subscriptions and holds it (nak with the delay of the earliest failing
// subscription's next round) until each got it or is disabled, so it is
// never dead-lettered for being retried; only an unreadable event is.
// Beside it the dispatcher's sweep verifies pending subscriptions. The ack
// wait covers a delivery (the subscriptions of an event are served in
// parallel) and the store's writes, with a wide margin.
func webhooksConsumer(cfg config.Config, st stateStore, log *zap.Logger, reg prometheus.Registerer) func(context.Context, *natsbus.Bus) error {
	return func(ctx context.Context, bus *natsbus.Bus) error {
		d, c, err := newDispatcher(cfg, st, log, reg)
		if err != nil {
			return err
		}
		defer c.Close()
		sweepCtx, stopSweep := context.WithCancel(ctx)
		swept := make(chan struct{})
		go func() { defer close(swept); d.Run(sweepCtx) }()
		defer func() { stopSweep(); <-swept }()
		return bus.Consume(ctx, natsbus.Consumer{
			Durable: "webhooks", FilterSubject: events.CallSubjects, MaxDeliver: -1,
			Concurrency: webhooksConcurrency, AckWait: max(2*cfg.Webhooks.Timeout+10*time.Second, 30*time.Second),
			MaxAckPending: maxWaitingEvents,
			Retry:         cfg.Webhooks.Backoff,
		}, func(ctx context.Context, m natsbus.Message) error {
			return d.Handle(ctx, webhooks.Event{MsgID: m.MsgID, Data: m.Data, Published: m.Published, Attempt: m.Delivery})
		})
	}
}
