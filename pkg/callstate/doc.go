// Package callstate owns the call state machine: it turns PBX-neutral leg
// signals (Signal, translated by the Asterisk and FreeSWITCH adapters) into
// one call per external interaction and the versioned call events of
// pkg/events. It is pure: no I/O, no clock (every time comes from Signal.At),
// no goroutines, no logging, no randomness. A Machine is not safe for
// concurrent use; its owner feeds it one signal at a time.
//
// # Legs and calls
//
// A LegCreated with no Peer, or with a Peer never seen, opens a call whose
// origin leg is that leg; the call id is Options.IDPrefix + the origin's leg
// id. A LegCreated (or a DialBegin for an unknown callee) whose Peer is a leg
// of a live call adds the leg to that call. A leg whose Peer belongs to a call
// that already ended is remembered as part of that call and otherwise ignored.
//
// Direction is decided by the origin. An external origin (a trunk) makes an
// inbound call, started at once. An origin Ringside originated (click-to-call
// leg A) makes an outbound click_to_call call, started at once. An extension
// (or helper) origin waits, silently, for the first extension or external leg
// to join: an external one makes the call outbound, an extension one makes it
// internal. A call whose origin never reaches a second party (voicemail, an
// IVR) produces no event at all, and neither does a call whose origin dialled
// a feature code (it produces only terminal_set).
//
// Agents are the extension legs other than the origin; on outbound calls the
// agent is the calling extension (Caller), listed in Agents from the start.
//
// # Events
//
// Every call's first event is started; Seq counts from 1 in steps of 1; ended
// is emitted once, when every leg of the call has hung up, and afterwards a
// call only ever emits recording. Every event carries the whole call as it
// stands; Agent, Reason and Terminal are per event. Agents and Transfers are
// shared between events and only ever appended to; events get them with their
// capacity clipped, so appending to them never writes into the machine's
// state.
//
//   - ringing: an agent leg rang (once per leg); on outbound calls the
//     external leg rang (once per call, Agent = Caller). Ringing of the
//     origin is never an event.
//   - answered: the first agent leg that answers (Answered, DialEnd normal,
//     or Bridged with the non-agent side); on outbound calls the external
//     leg. The origin answering means nothing (an IVR or queue picked up the
//     trunk; a click-to-call leg A took the call). Every other agent leg
//     still ringing gets ring_stopped with Reason answered_elsewhere right
//     then, and nothing later.
//   - ring_stopped: an agent leg that rang stopped without answering
//     (DialEnd with a cause other than normal, or Hangup before answer);
//     Reason is the cause name. At most once per leg, only after ringing. A
//     Hangup before answer with cause normal or unknown reads as cancelled
//     when the origin had already hung up, else as no_answer; a DialEnd with
//     an unknown cause reads as failed.
//   - transferred: blind (TransferBlind arms a hop; the next agent leg to
//     answer takes the call) or attended (TransferAttended moves the leg that
//     answered the consultation call into this call at once). Transfers grows
//     and AnsweredBy changes; AnsweredAt stays the first answer.
//   - ended: Disposition, EndedAt (latest hangup), TalkSeconds (whole seconds
//     from AnsweredAt), HangupCause (the origin's cause), LinkLost (a leg ended
//     with CauseLost) and RecordingPending (a recording started, not
//     finished).
//   - recording: a RecordingFinished for a call that already ended.
//   - terminal_set: a FeatureCode (*037, 3037).
//
// # Dispositions
//
// Inbound: answered if an agent answered; abandoned if no agent leg ever
// existed, or the origin hung up while an agent leg was still offered, or an
// agent leg ended cancelled (Asterisk reports the caller's CANCEL on the
// agent legs before the trunk's hangup); else busy if every agent leg was
// busy or rejected, failed if every one failed (failed, unreachable,
// congestion), missed otherwise.
//
// Outbound and internal: answered if the callee side answered; cancelled if
// the origin hung up while a callee leg was still offered, a callee leg ended
// cancelled, or no callee leg ever had an outcome; else no_answer if a callee
// rang out, busy if one was busy or rejected, failed otherwise. A
// click-to-call whose leg A never answered ends by A's own outcome (busy or
// rejected: busy; no_answer; cancelled; else failed) with Reason agent_leg.
//
// # Transfers
//
// A blind transfer keeps the call alive through the transferer's hangup (the
// transferee still lives). An attended transfer moves the consultation's
// answering leg into the main call; the consultation call keeps its remaining
// legs and ends on its own, answered if that leg had answered it. Attended
// transfers are taken as done when signalled; the moved leg must not be the
// origin of its call. Bridged across two calls without a transfer signal is
// ignored (counted invalid): calls only merge through transfer signals.
//
// # Tenants
//
// The tenant of a call is the origin LegCreated's Tenant, else the value of a
// SetVar VarTenant received before the call emitted anything, else
// Options.DefaultTenant, each read through events.TenantToken (dots become
// underscores: a domain names a tenant). A name that still cannot stand as
// a subject token is not used.
//
// # Robustness
//
// Any input is accepted without panic. A signal that changes nothing is
// counted in Stats by reason: duplicate (a fact already known: a second
// LegCreated, Ringing after Answered, a DialEnd after Hangup, the same
// recording again), unknown_leg (a leg never seen), late (a leg of a call that
// already ended, a tenant after the call started) or invalid (no leg, unknown
// kind, cross-call bridge, malformed transfer or variable). Signals that are
// normal but carry nothing new (DialBegin for a known leg, Unbridged, Bridged
// after the answer) are not counted. Ended legs are remembered, up to
// Options.Remember of them in FIFO order, to absorb late signals and attach
// late recordings; ended calls leave the set of calls in progress at once.
package callstate
