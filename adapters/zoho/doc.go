// Package zoho is Ringside's Zoho adapter: OAuth for every data centre
// (authorization-code flow with its callback, device flow, Self Client
// import; refresh tokens sealed with AES-GCM; one refresh at a time per
// tenant, ahead of expiry; a refused refresh token disconnects the tenant
// and pauses its events), the PhoneBridge v3 client (integrate, users,
// click-to-dial and call-control registration, callnotify,
// clicktodialerror), the CRM v8 client (Calls writes in batches, search,
// COQL, users), the credit-aware caller Lookup, and the Sink that turns
// call events into PhoneBridge pops and logs or REST Calls records, once
// per call under at-least-once delivery. The sink also owns the CRM-side
// features a tenant switches on (crm.go): a Lead or Contact for an unknown
// caller (leads.go), one Task per missed inbound call (tasks.go), and the
// internal-call policy with its technical extensions (internal.go).
//
// Every response is classified at this boundary with pkg/fault: timeouts,
// 5xx and 429 are retryable (429 with a growing, jittered delay: Zoho sends
// no Retry-After), INVALID_TOKEN refreshes once and retries, other 4xx are
// permanent. The facts behind every request are in shared/spec/zoho.md.
package zoho
