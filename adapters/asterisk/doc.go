// Package asterisk is Ringside's Asterisk adapter: it reads the ARI event
// WebSocket (subscribeAll) with its own reader, translates the events into
// callstate signals (translate.go, pure) and submits them to the pipeline,
// reconnecting forever and reconciling with GET /channels after every
// connect; and it carries out the ARI commands Ringside needs (originate,
// second leg into a bridge, hang up, variables, redirect, continue) over its
// own REST client with timeouts, lists the extensions Asterisk has
// (extensions.go), and screens inbound calls waiting in
// Stasis(<app>,screen) before they ring (screen.go). ari/v5 is used for its request models only: its client
// has no timeouts, drops events, panics on unknown event types and blocks
// forever when Asterisk is down (see the fact sheet, §2.7).
package asterisk
