package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// Why an ended call gets no record for its caller (leadDecision); "" when
// it may get one (if the lookup finds none).
const (
	noLeadFeatureOff  = "feature_off"
	noLeadInternal    = "internal"
	noLeadNotEnded    = "not_ended"
	noLeadUnanswered  = "outbound_unanswered"
	noLeadNoNumber    = "no_number"
	noLeadOwnNumber   = "own_number"
	noLeadBlacklisted = "blacklisted"
)

// leadDecision decides (pure) whether an ended call may create a record
// for its customer, e164 being the customer's number in E.164 ("" when it
// is withheld or not a phone number). Inbound calls count whatever their
// disposition (a missed call from a new prospect is the classic lead);
// outbound calls only when answered: a number that never answered is too
// often a misdial. Never for internal calls, withheld numbers, the
// tenant's own numbers (its DIDs, and the number this call dialled) or
// blacklisted callers.
func leadDecision(st store.Settings, ev events.Call, e164 string) string {
	switch {
	case ev.Direction == events.Internal:
		return noLeadInternal
	case ev.Direction == events.Inbound && !st.Features[FeatureLeadsInbound],
		ev.Direction == events.Outbound && !st.Features[FeatureLeadsOutbound],
		ev.Direction != events.Inbound && ev.Direction != events.Outbound:
		return noLeadFeatureOff
	case ev.EndedAt.IsZero():
		return noLeadNotEnded
	case ev.Direction == events.Outbound && ev.Disposition != events.DispositionAnswered:
		return noLeadUnanswered
	case e164 == "":
		return noLeadNoNumber
	case ownNumber(st, ev, e164):
		return noLeadOwnNumber
	case blacklisted(st, ev, e164):
		return noLeadBlacklisted
	}
	return ""
}

// ownNumber reports whether e164 is one of the tenant's own numbers, or
// the DID an inbound call dialled (a call looping back through the trunk).
func ownNumber(st store.Settings, ev events.Call, e164 string) bool {
	if _, own := screen.Blocked(st.OwnNumbers, e164); own {
		return true
	}
	if d, ok := Normalize(ev.Dialed, st.Region); ok && d == e164 && ev.Direction == events.Inbound {
		return true
	}
	return false
}

// leadModule is where the tenant's unknown callers become records.
func (s *Sink) leadModule(st store.Settings) string {
	if st.LeadModule != "" {
		return st.LeadModule
	}
	return s.crm.LeadModule
}

// Keys of the leads feature: what the call did (per call), the record
// created for a number (the recent-creation memory) and the claim of the
// one worker creating it.
func leadCallKey(t, call string) string  { return "zoho/" + t + "/lead/" + call }
func leadMemKey(t, e164 string) string   { return "zoho/" + t + "/leadnum/" + e164 }
func leadClaimKey(t, e164 string) string { return "zoho/" + t + "/leadlock/" + e164 }

// ensureLead creates the record of an unknown customer of an ended call
// once (leadDecision; the lookup finds no record): an upsert on Phone
// (spec §7), so a record with that exact number is updated rather than
// doubled. Concurrent and repeated calls from one number create one
// record: one worker at a time creates it (a claim per number), and what
// it created is remembered (crm.leads.memory) and put in the lookup cache
// at once (search may not find it for a while), where the next call, and
// this call's log, find it. A refusal for good (scope, layout) is
// reported once and the call is logged without it; other failures retry
// the event.
func (s *Sink) ensureLead(ctx context.Context, t store.Tenant, ev events.Call) error {
	e164, _ := Normalize(ev.External, t.Settings.Region)
	if leadDecision(t.Settings, ev, e164) != "" || s.o.Lookup == nil {
		return nil
	}
	callKey := leadCallKey(t.ID, ev.CallID)
	switch _, err := s.o.Records.GetRecord(ctx, callKey); {
	case err == nil:
		return nil // done for this call (a record, a known caller, or a refusal)
	case !errors.Is(err, store.ErrNotFound):
		return fault.Retryable(fmt.Errorf("zoho: read lead key: %w", err), 0)
	}
	m, err := s.o.Lookup.Find(ctx, t.ID, t.Settings.Region, ev.External)
	if err != nil {
		if fault.IsPermanent(err) {
			s.log.Warn("zoho: caller lookup failed; no lead for the call", zap.String("tenant", t.ID),
				zap.String("call_id", ev.CallID), zap.Error(err))
			return nil
		}
		return err
	}
	if m.Found() {
		return nil
	}
	module := s.leadModule(t.Settings)
	count := func(result string) { s.c.m.leads.WithLabelValues(result).Inc() }
	if !mayWrite(t.Zoho.Scopes, module, true) || s.denied(t.ID, module) {
		s.refuse(t.ID, module, "leads", nil)
		count("scope_error")
		return s.done(ctx, callKey, "refused")
	}
	if m, ok, err := s.recentLead(ctx, t, e164); err != nil || ok {
		if ok {
			s.rememberLead(ctx, t, ev, m)
			count("existing")
			return s.done(ctx, callKey, m.Module+":"+m.ID)
		}
		return err
	}
	got, err := s.o.Claims.Claim(ctx, leadClaimKey(t.ID, e164), 2*time.Minute)
	if err != nil {
		return fault.Retryable(fmt.Errorf("zoho: claim lead of %s: %w", ev.CallID, err), 0)
	}
	if !got { // another call from the number is creating it: find it next time
		return fault.Retryable(fmt.Errorf("zoho: call %s: a record for its caller is being created", ev.CallID), time.Second)
	}
	defer func() { _ = s.o.Claims.Release(context.WithoutCancel(ctx), leadClaimKey(t.ID, e164)) }()
	if m, ok, err := s.recentLead(ctx, t, e164); err != nil || ok { // created while we waited for the claim
		if ok {
			s.rememberLead(ctx, t, ev, m)
			count("existing")
			return s.done(ctx, callKey, m.Module+":"+m.ID)
		}
		return err
	}
	owner, err := s.owner(ctx, t, ev)
	if err != nil {
		return err
	}
	rec := s.leadRecord(module, ev, e164, owner)
	res, err := s.c.UpsertRecords(ctx, t.ID, module, []map[string]any{rec}, []string{"Phone"})
	if err == nil && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		if err := s.permanentOrScope(t.ID, module, "leads", err, count); err != nil {
			return err // an ambiguous failure is safe to retry: the upsert finds what it wrote
		}
		return s.done(ctx, callKey, "refused")
	}
	m = Match{Module: module, ID: res[0].ID, Name: str(rec["Last_Name"]), Owner: owner}
	if res[0].Action == "update" {
		count("existing")
	} else {
		count("created")
		s.log.Info("zoho: record created for an unknown caller", zap.String("tenant", t.ID), zap.String("call_id", ev.CallID),
			zap.String("module", module), zap.String("record", m.ID))
	}
	v, _ := json.Marshal(m)
	if err := s.o.Records.PutRecord(ctx, leadMemKey(t.ID, e164), string(v), s.crm.LeadMemory); err != nil {
		s.log.Warn("zoho: record for a caller not remembered", zap.String("call_id", ev.CallID), zap.Error(err))
	}
	s.rememberLead(ctx, t, ev, m)
	return s.done(ctx, callKey, m.Module+":"+m.ID)
}

// recentLead returns the record created for the number lately, if any.
func (s *Sink) recentLead(ctx context.Context, t store.Tenant, e164 string) (Match, bool, error) {
	v, err := s.o.Records.GetRecord(ctx, leadMemKey(t.ID, e164))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Match{}, false, nil
	case err != nil:
		return Match{}, false, fault.Retryable(fmt.Errorf("zoho: read lead memory: %w", err), 0)
	}
	var m Match
	if json.Unmarshal([]byte(v), &m) != nil || !m.Found() {
		return Match{}, false, nil
	}
	return m, true, nil
}

// rememberLead puts the record in the lookup cache, replacing the "no
// record" it holds, so the call's log and the next call link to it.
func (s *Sink) rememberLead(ctx context.Context, t store.Tenant, ev events.Call, m Match) {
	if err := s.o.Lookup.Remember(ctx, t.ID, t.Settings.Region, ev.External, m); err != nil {
		s.log.Warn("zoho: record for a caller not cached; the next call looks it up", zap.String("call_id", ev.CallID), zap.Error(err))
		_ = s.o.Lookup.Forget(ctx, t.ID, t.Settings.Region, ev.External)
	}
}

// done records what a feature did for a call, so a redelivery does not do
// it again.
func (s *Sink) done(ctx context.Context, key, value string) error {
	if err := s.o.Records.PutRecord(ctx, key, value, s.o.KeyTTL); err != nil {
		return fault.Retryable(fmt.Errorf("zoho: remember %s: %w", key, err), 0)
	}
	return nil
}

// leadRecord is the new record of an unknown customer: the placeholders
// (crm.leads.*), the number in Phone, the owner (the user of the extension
// that handled the call, else the tenant's default user; none: the token's
// user) and a description saying where it came from.
func (s *Sink) leadRecord(module string, ev events.Call, e164, owner string) map[string]any {
	fill := func(tmpl string) string { return strings.ReplaceAll(tmpl, "{number}", e164) }
	rec := map[string]any{
		"Last_Name": fill(s.crm.LeadLastName),
		"Phone":     e164,
		"Description": fmt.Sprintf("Created by Ringside for an unknown caller: %s call %s at %s UTC.",
			ev.Direction, ev.CallID, ev.StartedAt.UTC().Format("2006-01-02 15:04")),
	}
	if module == "Leads" {
		rec["Company"] = fill(s.crm.LeadCompany)
		if s.crm.LeadSource != "" {
			rec["Lead_Source"] = s.crm.LeadSource
		}
	}
	if owner != "" {
		rec["Owner"] = map[string]any{"id": owner}
	}
	return rec
}
