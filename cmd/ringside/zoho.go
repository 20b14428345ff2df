package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
)

// zohoEnabled is the condition for the Zoho side: an OAuth client is
// configured (zoho.client_id). Configuration validation then requires
// zoho.token_key_file, so tokens are always sealed at rest.
func zohoEnabled(cfg config.Config) bool { return cfg.Zoho.ClientID != "" }

// redirectURL is the OAuth redirect URI to register at Zoho.
func redirectURL(cfg config.Config) string {
	return strings.TrimRight(cfg.HTTP.PublicURL, "/") + cfg.Zoho.CallbackPath
}

// newZohoClient builds the Zoho client on the store from the zoho.*
// configuration.
func newZohoClient(cfg config.Config, st stateStore, log *zap.Logger, reg prometheus.Registerer) (*zoho.Client, error) {
	ci, err := zoho.LoadKeyFile(cfg.Zoho.TokenKeyFile)
	if err != nil {
		return nil, err
	}
	return zoho.New(zoho.Options{
		ClientID: cfg.Zoho.ClientID, ClientSecret: cfg.Zoho.ClientSecret.Value(),
		AccountsURL: cfg.Zoho.AccountsURL, APIURL: cfg.Zoho.APIURL, Scopes: cfg.Zoho.ScopeList(),
		RedirectURL: redirectURL(cfg), Tenants: st, Records: st, Claims: st, Cipher: ci,
		Timeout: cfg.Zoho.Timeout, RefreshAhead: cfg.Zoho.RefreshAhead, Concurrency: cfg.Zoho.Concurrency,
		PausedRetry: cfg.Zoho.PausedRetry, Logger: log, Registerer: reg, AfterConnect: portalReturn,
	})
}

// zohoSide is the daemon's Zoho wiring: the client (readiness, callback)
// and the sink the "zoho" consumer feeds.
type zohoSide struct {
	client *zoho.Client
	lookup *zoho.Lookup
	sink   *zoho.Sink
}

// newZohoSide builds the client, the caller lookup and the sink; recLink
// makes the recording links of the call logs.
func newZohoSide(cfg config.Config, st stateStore, recLink func(context.Context, events.Call) (string, error),
	log *zap.Logger, reg prometheus.Registerer) (*zohoSide, error) {
	c, err := newZohoClient(cfg, st, log, reg)
	if err != nil {
		return nil, err
	}
	look := zoho.NewLookup(c, st, zoho.LookupOptions{Modules: cfg.Zoho.ModuleList(), Method: cfg.Zoho.Lookup.Method,
		HitTTL: cfg.Zoho.Lookup.HitTTL, MissTTL: cfg.Zoho.Lookup.MissTTL, BatchWait: cfg.Zoho.Lookup.BatchWait})
	sink, err := zoho.NewSink(zoho.SinkOptions{
		Client: c, Links: st, Records: st, Claims: st, Lookup: look, RecordingLink: recLink,
		LoserState: cfg.Zoho.PhoneBridge.LoserState, Fallback: cfg.Zoho.PhoneBridge.Fallback,
		ResendTerminal: cfg.Zoho.PhoneBridge.AmbiguousTerminal == "resend",
		RecordingWait:  recordingWait(cfg.Zoho.RecordingWait), BatchSize: cfg.Zoho.REST.BatchSize,
		BatchDelay: cfg.Zoho.REST.BatchDelay, KeyTTL: cfg.Zoho.KeyTTL,
		CRM: zoho.CRMOptions{LeadModule: cfg.CRM.Leads.Module, LeadLastName: cfg.CRM.Leads.LastName,
			LeadCompany: cfg.CRM.Leads.Company, LeadSource: cfg.CRM.Leads.Source, LeadMemory: cfg.CRM.Leads.Memory,
			TaskSubject: cfg.CRM.Tasks.Subject, TaskPriority: cfg.CRM.Tasks.Priority, TaskStatus: cfg.CRM.Tasks.Status},
	})
	if err != nil {
		return nil, err
	}
	return &zohoSide{client: c, lookup: look, sink: sink}, nil
}

// recordingWait maps zoho.recording_wait (0: do not wait) to the sink's
// option (negative: do not wait; 0 is its default).
func recordingWait(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// maxWaitingEvents is the MaxAckPending of the consumers whose events can
// wait long for one tenant (Zoho paused or revoked, a webhook receiver
// down): room for that many waiting events before the other tenants'
// events stop too. The server keeps a few dozen bytes per pending message.
const maxWaitingEvents = 100_000

// zohoConsumer returns the "zoho" durable consumer: every call event goes
// through the sink, acked once Zoho accepted what it needs. Events are
// never dropped for being retried too often (a disconnected tenant's wait
// until it reconnects); only what Zoho rejects for good is dead-lettered.
// Concurrency is at least the REST batch size, so batches can fill; the
// ack wait covers a lookup's and a batch's wait plus their requests and a
// margin.
func (z *zohoSide) consumer(cfg config.Config) func(context.Context, *natsbus.Bus) error {
	conc := max(cfg.Zoho.REST.BatchSize, 4*cfg.Zoho.Concurrency, 16)
	ackWait := max(cfg.Zoho.REST.BatchDelay+cfg.Zoho.Lookup.BatchWait+2*cfg.Zoho.Timeout+5*time.Second, 30*time.Second)
	return func(ctx context.Context, bus *natsbus.Bus) error {
		return bus.Consume(ctx, natsbus.Consumer{
			Durable: "zoho", FilterSubject: events.CallSubjects, MaxDeliver: -1,
			Concurrency: conc, AckWait: ackWait, MaxAckPending: maxWaitingEvents,
			Retry: backoff.Policy{Initial: 500 * time.Millisecond, Max: max(cfg.Zoho.PausedRetry, 5*time.Second)},
		}, func(ctx context.Context, m natsbus.Message) error {
			var e events.Call
			if err := json.Unmarshal(m.Data, &e); err != nil {
				return fault.Permanent(fmt.Errorf("zoho: decode call event %s: %w", m.MsgID, err))
			}
			return z.sink.Handle(ctx, e)
		})
	}
}
