// Package webhooks delivers a tenant's call events to the URLs it
// subscribed, for CRMs other than Zoho: signed HTTP POSTs with a stable
// event id, an echo handshake that verifies a receiver before anything is
// delivered, retries from the durable stream, and a delivery log.
//
// It owns:
//
//   - the wire contract of a delivery: the envelope {"id", "type",
//     "tenant", "created_at", "data"} around the events.Call v1 JSON, its
//     id derived from the event's message id (so a redelivery carries the
//     same id), and the headers Ringside-Signature
//     (t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<raw body>")>),
//     Ringside-Event-Id, Ringside-Event-Type, Ringside-Timestamp,
//     Content-Type and User-Agent;
//   - Sign and Verify (what a Go receiver runs), and the replay window
//     receivers are told to enforce (ReplayWindow);
//   - the handshake: {"type": "ringside.verify", "challenge": "..."} signed
//     like a delivery, passed by a 2xx answer echoing the challenge (as
//     {"challenge": "..."} or the plain token);
//   - the delivery rules (Dispatcher): which subscriptions get an event
//     (active ones, verified before it was published, that want its type),
//     one done marker per subscription and event so a redelivery reaches
//     only those that did not get it, a backoff per failing subscription
//     with one probe per round, auto-disable after Options.MaxFailures
//     consecutive failed rounds (log line, metric, audit entry), and one
//     delivery log entry per attempt;
//   - the URL policy (CheckURL), subscription ids and secrets (NewID,
//     NewSecret), and the ringside_webhook_* metrics.
//
// The HTTP client is not here (pkg/ has no network clients):
// adapters/webhook implements Poster. Subscriptions, done markers, the
// delivery log and the audit log are the store's (pkg/store), reached
// through the small interfaces declared here.
package webhooks
