// Package screen owns the screening of inbound calls: what Ringside decides
// about a call from the trunk while it waits to ring, before any extension
// rings (README, "Caller name, blacklist and owner routing").
//
// It owns:
//
//   - the decision (Decide, pure): given the tenant's settings, what the
//     caller-lookup cache said within the deadline and which extension each
//     CRM user is linked to, reject the call (blacklist), show the CRM
//     record's name on the ringing phones (caller_name), offer the call to
//     the extension of the record's owner first (owner_routing), and
//     whether to refresh the cache in the background (a miss);
//   - blacklist matching (Blocked): E.164 numbers and "+4990*" prefixes;
//   - the marks (Marks): the decision of each screened call, kept for a
//     while so that its call events carry it (events.Screen; the ended
//     event of a rejected call has reason "blacklisted");
//   - the metrics every PBX adapter reports the screening with
//     (ringside_screen_delay_seconds, ringside_screen_calls_total);
//   - the gate (Gate) every PBX adapter keeps: the Decider in use and its
//     deadline (screen.deadline), past which the call goes on as it is
//     (OutcomeLate) and the late answer is dropped;
//   - the screener (Screener), the Decider a PBX adapter asks: the
//     tenant's settings and links kept for a while (one read of a tenant
//     at a time), the decision from the caller-lookup cache alone within
//     the call's deadline, the background lookup of missed callers
//     (bounded, counted in ringside_screen_refreshes_total), and the
//     marking of the calls' events as the pipeline publishes them
//     (Publisher).
//
// The PBX side (how a call waits and how a name, a variable or a rejection
// reaches the PBX) is the adapters'; so are the store, the cache's value
// format and the CRM lookup (adapters/zoho), which the Screener reaches
// through Store, Cache and Refresher. The daemon (cmd/ringside) builds it
// from the configuration and hands it to the PBX adapter and the pipeline.
package screen
