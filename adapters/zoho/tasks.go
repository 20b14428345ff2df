package zoho

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// Why an ended call gets no missed-call task (taskDecision); "" when it
// gets one.
const (
	noTaskFeatureOff  = "feature_off"
	noTaskNotInbound  = "not_inbound"
	noTaskNotEnded    = "not_ended"
	noTaskNotMissed   = "not_missed"
	noTaskNoNumber    = "no_number"
	noTaskOwnNumber   = "own_number"
	noTaskBlacklisted = "blacklisted"
)

// missedDispositions are the ends of an inbound call that ask for a call
// back: nobody answered while it rang (missed), the caller hung up first
// (abandoned), every agent was busy (busy), no answer. Answered calls do
// not, nor failed ones (a technical failure, not a customer waiting).
var missedDispositions = []events.Disposition{events.DispositionMissed, events.DispositionAbandoned,
	events.DispositionBusy, events.DispositionNoAnswer}

// taskDecision decides (pure) whether an ended call gets a missed-call
// task: an inbound call that ended missed (missedDispositions) from a
// number one can call back (not withheld), not one of the tenant's own
// numbers, not blacklisted. One call is one task, however many agents
// rang: the call event is per call.
func taskDecision(st store.Settings, ev events.Call, e164 string) string {
	switch {
	case !st.Features[FeatureMissedCallTask]:
		return noTaskFeatureOff
	case ev.Direction != events.Inbound:
		return noTaskNotInbound
	case ev.EndedAt.IsZero():
		return noTaskNotEnded
	case !slices.Contains(missedDispositions, ev.Disposition):
		return noTaskNotMissed
	case e164 == "":
		return noTaskNoNumber
	case ownNumber(st, ev, e164):
		return noTaskOwnNumber
	case blacklisted(st, ev, e164):
		return noTaskBlacklisted
	}
	return ""
}

// taskOwner picks (pure) who owns the task: the matched record's owner
// while they are an active CRM user, else the tenant's default user, else
// nobody (no task).
func taskOwner(m Match, active map[string]bool, defaultUser string) string {
	if m.Owner != "" && active[m.Owner] {
		return m.Owner
	}
	return defaultUser
}

// dueDate is the day a call that ended at at is to be called back: that
// day in the owner's time zone (the Zoho user's time_zone), in UTC when
// the zone is unknown or cannot be loaded. It returns the date and the
// zone used.
func dueDate(at time.Time, zone string) (string, string) {
	loc := time.UTC
	if zone != "" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	return at.In(loc).Format("2006-01-02"), loc.String()
}

func taskKey(t, call string) string { return "zoho/" + t + "/task/" + call }

// ensureTask creates the missed-call task of an ended call once
// (taskDecision): "Call back <name or number>", due the day of the call,
// Priority and Status as configured, owned as taskOwner says, linked to
// the matched Contact (Who_Id) or Lead/Account (What_Id). Redeliveries
// find the task key; after an ambiguous failure the task is looked for by
// its marker before it is created again. No owner: skipped, logged and
// counted. A refusal for good is reported once; the call is logged anyway.
func (s *Sink) ensureTask(ctx context.Context, t store.Tenant, ev events.Call) error {
	e164, _ := Normalize(ev.External, t.Settings.Region)
	if taskDecision(t.Settings, ev, e164) != "" {
		return nil
	}
	key := taskKey(t.ID, ev.CallID)
	count := func(result string) { s.c.m.tasks.WithLabelValues(result).Inc() }
	try, err := s.o.Records.GetRecord(ctx, key)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fault.Retryable(fmt.Errorf("zoho: read task key: %w", err), 0)
	case strings.HasPrefix(try, "task:") || strings.HasPrefix(try, "none:"):
		return nil
	case try == tryUnknown:
		if found, err := s.findTask(ctx, t, ev); err != nil || found != "" {
			if found != "" {
				count("created")
				return s.done(ctx, key, found)
			}
			return err
		}
	}
	var m Match
	if s.o.Lookup != nil {
		if m, err = s.o.Lookup.Find(ctx, t.ID, t.Settings.Region, ev.External); err != nil {
			if !fault.IsPermanent(err) {
				return err
			}
			s.log.Warn("zoho: caller lookup failed; the task has no record", zap.String("call_id", ev.CallID), zap.Error(err))
		}
	}
	_, active, err := s.crmUsers(ctx, t.ID)
	if err != nil {
		return err
	}
	owner := taskOwner(m, active, t.Settings.DefaultUser)
	if owner == "" {
		s.log.Warn("zoho: missed call without an owner: the caller's record has none and the tenant no default user; no task",
			zap.String("tenant", t.ID), zap.String("call_id", ev.CallID))
		count("no_owner")
		return s.done(ctx, key, "none:no_owner")
	}
	if !mayWrite(t.Zoho.Scopes, "Tasks", false) || s.denied(t.ID, "Tasks") {
		s.refuse(t.ID, "Tasks", "missed_call_task", nil)
		count("scope_error")
		return s.done(ctx, key, "none:refused")
	}
	rec := s.taskRecord(ctx, t, ev, e164, m, owner)
	if err := s.o.Records.PutRecord(ctx, key, tryUnknown, s.o.KeyTTL); err != nil {
		return fault.Retryable(err, 0)
	}
	res, err := s.c.InsertRecords(ctx, t.ID, "Tasks", []map[string]any{rec})
	if err == nil && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		if !ambiguous(err) {
			_ = s.o.Records.PutRecord(ctx, key, tryNotDone, s.o.KeyTTL)
		}
		if err := s.permanentOrScope(t.ID, "Tasks", "missed_call_task", err, count); err != nil {
			return err
		}
		return s.done(ctx, key, "none:refused")
	}
	count("created")
	return s.done(ctx, key, "task:"+res[0].ID)
}

// findTask looks for the task an earlier attempt with an unknown outcome
// may have created (its Description starts with the call's marker) and
// returns the task key's value ("" when there is none). When it cannot
// look (COQL refused for good) it gives up creating one: never two tasks
// for one call.
func (s *Sink) findTask(ctx context.Context, t store.Tenant, ev events.Call) (string, error) {
	mk := marker(ev.CallID)
	recs, err := s.c.COQL(ctx, t.ID, "select id, Description from Tasks where Description like '%"+mk+"%' limit 200")
	if err != nil {
		if fault.IsPermanent(err) {
			s.log.Warn("zoho: cannot check whether the missed-call task was created; not created again, so never twice",
				zap.String("tenant", t.ID), zap.String("call_id", ev.CallID), zap.Error(err))
			return "none:unchecked", nil
		}
		return "", err
	}
	for _, r := range recs {
		if d := str(r["Description"]); d == mk || strings.HasPrefix(d, mk+"\n") {
			return "task:" + str(r["id"]), nil
		}
	}
	return "", nil
}

// taskRecord builds the missed-call task.
func (s *Sink) taskRecord(ctx context.Context, t store.Tenant, ev events.Call, e164 string, m Match, owner string) map[string]any {
	caller := e164
	if m.Name != "" {
		caller = m.Name + " (" + e164 + ")"
	}
	due, zone := dueDate(ev.EndedAt, s.userZone(ctx, t.ID, owner))
	var d strings.Builder
	d.WriteString(marker(ev.CallID))
	fmt.Fprintf(&d, "\nMissed call from %s at %s (%s); disposition: %s", caller,
		ev.StartedAt.In(zoneOf(zone)).Format("2006-01-02 15:04"), zone, ev.Disposition)
	if len(ev.Agents) > 0 {
		fmt.Fprintf(&d, "\nRang: %s", strings.Join(ev.Agents, ", "))
	}
	rec := map[string]any{
		"Subject":     strings.ReplaceAll(s.crm.TaskSubject, "{caller}", caller),
		"Due_Date":    due,
		"Status":      s.crm.TaskStatus,
		"Priority":    s.crm.TaskPriority,
		"Owner":       map[string]any{"id": owner},
		"Description": d.String(),
	}
	switch {
	case m.Module == "Contacts":
		rec["Who_Id"] = map[string]any{"id": m.ID}
	case m.Found():
		rec["What_Id"] = map[string]any{"id": m.ID}
		rec["$se_module"] = m.Module
	}
	return rec
}

// zoneOf loads a zone dueDate returned (UTC when it cannot).
func zoneOf(name string) *time.Location {
	if l, err := time.LoadLocation(name); err == nil {
		return l
	}
	return time.UTC
}

// userZone is a CRM user's time zone, "" when unknown (the users list is
// cached for UsersTTL).
func (s *Sink) userZone(ctx context.Context, tenant, user string) string {
	if _, _, err := s.crmUsers(ctx, tenant); err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[tenant].zones[user]
}
