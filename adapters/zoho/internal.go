package zoho

import (
	"context"
	"path"
	"strings"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// route is what the sink does with a call under its tenant's settings.
type route uint8

const (
	// routeExternal: an external call, logged in the tenant's mode.
	routeExternal route = iota
	// routeSkip: an internal call under the skip policy: nothing in the
	// CRM, no pop.
	routeSkip
	// routeTechnical: an internal call involving a technical extension,
	// or an external call only technical extensions handled: nothing in
	// the CRM, whatever the policy.
	routeTechnical
	// routeLog and routeLight: an internal call logged as a Calls record
	// through REST in either mode (PhoneBridge logs customer calls only),
	// full or light (InternalLight).
	routeLog
	routeLight
)

// policyLabel is the policy label of ringside_calls_internal_total.
func (r route) policyLabel() string {
	return [...]string{routeSkip: "skip", routeTechnical: "technical", routeLog: "log", routeLight: "light"}[r]
}

// routeOf decides what becomes of a call (pure): internal calls follow the
// tenant's InternalPolicy (skip by default) unless a technical extension
// is involved (never logged); an external call is logged unless every
// extension that handled it (rang, answered, placed it, took a transfer)
// is technical — a fax line, a paging group.
func routeOf(st store.Settings, ev events.Call) route {
	if ev.Direction != events.Internal {
		exts := handlers(ev)
		if len(exts) == 0 {
			return routeExternal
		}
		for _, x := range exts {
			if !Technical(st.TechnicalExtensions, x) {
				return routeExternal
			}
		}
		return routeTechnical
	}
	for _, x := range append(handlers(ev), ev.Dialed, ev.Agent) {
		if x != "" && Technical(st.TechnicalExtensions, x) {
			return routeTechnical
		}
	}
	switch st.InternalPolicy {
	case store.InternalLog:
		return routeLog
	case store.InternalLight:
		return routeLight
	}
	return routeSkip
}

// handlers are the extensions a call involved: those that rang, the one
// talking, the caller of an outbound or internal call, transfer ends.
func handlers(ev events.Call) []string {
	out := append([]string(nil), ev.Agents...)
	for _, x := range []string{ev.AnsweredBy, ev.Caller} {
		if x != "" {
			out = append(out, x)
		}
	}
	for _, tr := range ev.Transfers {
		out = append(out, tr.From, tr.To)
	}
	return out
}

// Technical reports whether extension matches one of the tenant's
// technical-extension patterns: globs as path.Match reads them (* any
// run, ? one character, [0-9] a class), whole number, case-insensitive.
// Patterns are checked when stored (store.CheckTechnicalExtensions); a bad
// one matches nothing.
func Technical(patterns []string, extension string) bool {
	ext := strings.ToLower(extension)
	for _, p := range patterns {
		if ok, err := path.Match(strings.ToLower(p), ext); ok && err == nil {
			return true
		}
	}
	return false
}

// internal handles an event of an internal call the policy logs (log or
// light): one Calls record through REST at its end, in either mode. A
// light record waits for no recording and never gets one.
func (s *Sink) internal(ctx context.Context, t store.Tenant, ev events.Call, r route) error {
	if r == routeLight {
		ev.Recording, ev.RecordingPending = "", false
	}
	return s.rest(ctx, t, ev)
}

// internalRecord builds the Calls record of an internal call (no caller
// lookup: there is no customer). It is logged from the caller's side: an
// Outbound call of the calling extension's user (else the default user),
// completed, with the talk time. InternalLog adds what an external call's
// log holds (who answered, who rang, transfers, the recording link, the
// extension dialled); InternalLight keeps subject, type, start, duration
// and owner, and in Description only the marker retries find it by.
func (s *Sink) internalRecord(ctx context.Context, t store.Tenant, ev events.Call, link string) (map[string]any, error) {
	subject := "Internal call"
	if ev.Caller != "" && ev.Dialed != "" {
		subject += " from " + ev.Caller + " to " + ev.Dialed
	}
	if ev.Disposition != events.DispositionAnswered && ev.Disposition != "" {
		subject += " (" + strings.ReplaceAll(string(ev.Disposition), "_", " ") + ")"
	}
	r := map[string]any{
		"Subject":              subject,
		"Call_Type":            "Outbound",
		"Outgoing_Call_Status": "Completed",
		"Call_Start_Time":      ev.StartedAt.UTC().Format("2006-01-02T15:04:05-07:00"),
		"Call_Duration":        mmss(ev.TalkSeconds),
		"Description":          marker(ev.CallID),
	}
	if t.Settings.InternalPolicy == store.InternalLog {
		r["Description"] = s.description(ev, link)
		if ev.Dialed != "" {
			r["Dialled_Number"] = ev.Dialed
		}
	}
	byCaller := ev
	if ev.Caller != "" {
		byCaller.AnsweredBy = ev.Caller // the owner is the caller's user
	}
	owner, err := s.owner(ctx, t, byCaller)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		r["Owner"] = map[string]any{"id": owner}
	}
	return r, nil
}
