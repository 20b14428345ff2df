package zoho

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// The CRM-side features a tenant switches on by name
// (store.Settings.Features; absent means off). They are REST writes in
// either mode: in PhoneBridge mode Zoho writes the Calls record itself, but
// Leads and Tasks are Ringside's.
const (
	// FeatureLeadsInbound creates a record for an inbound caller the
	// lookup does not find (leads.go).
	FeatureLeadsInbound = "leads_inbound"
	// FeatureLeadsOutbound does the same for an answered outbound call to
	// an unknown number.
	FeatureLeadsOutbound = "leads_outbound"
	// FeatureMissedCallTask creates one Task per missed inbound call
	// (tasks.go).
	FeatureMissedCallTask = "missed_call_task"
)

// CRMOptions configure what the CRM-side features write (configuration
// crm.*); zero fields take the defaults.
type CRMOptions struct {
	// LeadModule is where unknown callers become records for tenants
	// without a lead_module: "Leads" (default) or "Contacts".
	LeadModule string
	// LeadLastName and LeadCompany are the new record's placeholders;
	// "{number}" is replaced by the caller's E.164 number (default
	// "Unknown caller {number}", "Unknown company"). Company goes to Leads
	// only.
	LeadLastName, LeadCompany string
	// LeadSource is the Lead_Source of a new Lead ("": none).
	LeadSource string
	// LeadMemory is how long the record created for a number is
	// remembered (default 24h).
	LeadMemory time.Duration
	// TaskSubject is the missed-call task's subject; "{caller}" is the
	// matched record's name and number, or the number (default "Call back
	// {caller}").
	TaskSubject string
	// TaskPriority and TaskStatus are picklist values (default "High",
	// "Not Started").
	TaskPriority, TaskStatus string
}

func (o CRMOptions) withDefaults() CRMOptions {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.LeadModule, "Leads")
	def(&o.LeadLastName, "Unknown caller {number}")
	def(&o.LeadCompany, "Unknown company")
	def(&o.TaskSubject, "Call back {caller}")
	def(&o.TaskPriority, "High")
	def(&o.TaskStatus, "Not Started")
	if o.LeadMemory <= 0 {
		o.LeadMemory = 24 * time.Hour
	}
	return o
}

// crmExtras runs the CRM-side features for an ended external call before
// its log is written, so the log links to a record created for the
// caller: the record for an unknown caller first, then the missed-call
// task (which the new record's owner then owns).
func (s *Sink) crmExtras(ctx context.Context, t store.Tenant, ev events.Call) error {
	if ev.Direction != events.Inbound && ev.Direction != events.Outbound || ev.EndedAt.IsZero() {
		return nil
	}
	if err := s.ensureLead(ctx, t, ev); err != nil {
		return err
	}
	return s.ensureTask(ctx, t, ev)
}

// blacklisted reports whether the caller is on the tenant's blacklist or
// the call was rejected for it (screening): such a caller gets no record
// and no task.
func blacklisted(st store.Settings, ev events.Call, e164 string) bool {
	if ev.Screen != nil && ev.Screen.Blacklisted || ev.Reason == events.ReasonBlacklisted {
		return true
	}
	_, blocked := screen.Blocked(st.Blacklist, e164)
	return blocked
}

// mayWrite reports whether the tenant's granted scopes (as stored when it
// connected; none stored: unknown, assume yes) allow creating records of
// module, and updating them too for an upsert (spec §5.7).
func mayWrite(scopes []string, module string, upsert bool) bool {
	if len(scopes) == 0 {
		return true
	}
	has := func(s string) bool {
		return slices.ContainsFunc(scopes, func(g string) bool { return strings.EqualFold(g, s) })
	}
	if has("ZohoCRM.modules.ALL") || has("ZohoCRM.modules."+module+".ALL") {
		return true
	}
	return has("ZohoCRM.modules."+module+".CREATE") && (!upsert || has("ZohoCRM.modules."+module+".UPDATE"))
}

// scopeError reports whether Zoho refused a write for the token's scopes
// (401 OAUTH_SCOPE_MISMATCH) or the user's permissions (403).
func scopeError(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == 401 && ae.Code == "OAUTH_SCOPE_MISMATCH" || ae.Status == 403)
}

// deniedFor is how long a module is not written for a tenant after Zoho
// refused it for scope or permission: one refusal is reported, not one per
// call.
const deniedFor = 10 * time.Minute

// denied reports whether writes of module were refused for the tenant
// lately.
func (s *Sink) denied(tenant, module string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.refused[tenant+"\x00"+module]
	return ok && s.c.o.Now().Sub(at) < deniedFor
}

// refuse remembers that the tenant may not write module and says so once
// per deniedFor, loudly: the admin must grant the scope (reconnect the
// tenant) or the permission.
func (s *Sink) refuse(tenant, module, feature string, err error) {
	s.mu.Lock()
	at, seen := s.refused[tenant+"\x00"+module]
	now := s.c.o.Now()
	s.refused[tenant+"\x00"+module] = now
	s.mu.Unlock()
	if seen && now.Sub(at) < deniedFor {
		return
	}
	msg := "zoho: the tenant's token may not write " + module + "; " + feature + " is skipped until it may " +
		"(reconnect the tenant with ZohoCRM.modules.ALL or ZohoCRM.modules." + strings.ToLower(module) + ".ALL)"
	fields := []zap.Field{zap.String("tenant", tenant), zap.String("feature", feature)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	s.log.Error(msg, fields...)
}

// rejected logs a record Zoho refused for good (a layout's mandatory
// field, a picklist value): once per tenant, module and code per
// deniedFor, as the same refusal comes back for every call.
func (s *Sink) rejected(tenant, module, feature string, err error) {
	code := "other"
	var ae *APIError
	if errors.As(err, &ae) && ae.Code != "" {
		code = ae.Code
	}
	key := tenant + "\x00" + module + "\x00" + code
	s.mu.Lock()
	at, seen := s.rejects[key]
	now := s.c.o.Now()
	if !seen || now.Sub(at) >= deniedFor {
		s.rejects[key] = now
	}
	s.mu.Unlock()
	if seen && now.Sub(at) < deniedFor {
		return
	}
	s.log.Error("zoho rejected a "+module+" record of "+feature+"; calls go on being logged without it",
		zap.String("tenant", tenant), zap.String("feature", feature), zap.Error(err))
}

// permanentOrScope classifies a failed write of a feature: nil when the
// failure is final (reported and counted), the error to retry otherwise.
func (s *Sink) permanentOrScope(tenant, module, feature string, err error, count func(result string)) error {
	switch {
	case scopeError(err):
		s.refuse(tenant, module, feature, err)
		count("scope_error")
		return nil
	case fault.IsPermanent(err):
		s.rejected(tenant, module, feature, err)
		count("rejected")
		return nil
	}
	count("retry")
	return err
}
