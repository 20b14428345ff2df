package portal

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// The Features page of a tenant: its feature switches, the call settings
// (internal calls, technical extensions, own numbers, lead module), the
// blacklist and the webhook subscriptions (webhooks.go). Every change goes
// through the admin service, which checks, stores and audits it; a change
// it refuses comes back as a flash with its detail and changes nothing.

// features are the switches the page offers, in its order: the names
// pkg/screen (caller_name, owner_routing) and the Zoho adapter's CRM side
// (leads_*, missed_call_task) read from store.Settings.Features. The
// portal names them itself: an adapter does not import another.
var features = []string{"caller_name", "owner_routing", "leads_inbound", "leads_outbound", "missed_call_task"}

// internalPolicies are the choices of the internal-call policy.
var internalPolicies = []store.InternalPolicy{store.InternalSkip, store.InternalLog, store.InternalLight}

// leadModules are the choices of the lead module ("" the daemon's default).
var leadModules = []string{"", "Leads", "Contacts"}

// blockReasons are how blacklisted calls may be rejected.
var blockReasons = []string{store.BlockBusy, store.BlockCongestion, store.BlockHangup}

// featuresData is the Features page.
type featuresData struct {
	*base
	Switches []featureSwitch
	// Policy, Technical, OwnNumbers and LeadModule are the call settings
	// as stored (lists comma-separated, as they are typed).
	Policy              string
	Policies            []string
	TechnicalExtensions string
	OwnNumbers          string
	LeadModule          string
	LeadModules         []string
	Blacklist           directory.Blacklist
	Reasons             []string
	Webhooks            []webhookRow
	EventTypes          []string
}

// featureSwitch is one feature as the page shows it. Known is false for a
// feature switched on elsewhere (the CLI, the API) that the page has no
// explanation for: it may only be turned off here.
type featureSwitch struct {
	Name  string
	On    bool
	Known bool
}

// featuresPage shows the tenant's features, call settings, blacklist and
// webhook subscriptions.
func (p *Portal) featuresPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.features", "features")
	if !ok {
		return
	}
	bl, err := p.dir.ListBlocked(r.Context(), s.actor, t.ID)
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	hooks, err := p.dir.ListWebhooks(r.Context(), s.actor, t.ID)
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	st := t.Settings
	d := featuresData{base: b, Switches: featureSwitches(st.Features), Policy: string(st.InternalPolicy),
		TechnicalExtensions: strings.Join(st.TechnicalExtensions, ", "), OwnNumbers: strings.Join(st.OwnNumbers, ", "),
		LeadModule: st.LeadModule, LeadModules: leadModules, Blacklist: bl, Reasons: blockReasons,
		EventTypes: eventTypes()}
	if d.Policy == "" {
		d.Policy = string(store.InternalSkip)
	}
	for _, pol := range internalPolicies {
		d.Policies = append(d.Policies, string(pol))
	}
	for _, h := range hooks {
		d.Webhooks = append(d.Webhooks, newWebhookRow(h))
	}
	p.render(w, http.StatusOK, "features", d)
}

// featureSwitches lists the known features, then any other one that is on.
func featureSwitches(on map[string]bool) []featureSwitch {
	out := make([]featureSwitch, 0, len(features))
	for _, f := range features {
		out = append(out, featureSwitch{Name: f, On: on[f], Known: true})
	}
	var others []string
	for f, v := range on {
		if v && !slices.Contains(features, f) {
			others = append(others, f)
		}
	}
	slices.Sort(others)
	for _, f := range others {
		out = append(out, featureSwitch{Name: f, On: true})
	}
	return out
}

// featuresPath is the path of a tenant's Features page.
func featuresPath(tenant string) string { return tenantPath(tenant, "features") }

// setFeature switches one feature on or off. The page offers only the
// known ones; any feature may be turned off.
func (p *Portal) setFeature(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := featuresPath(tenant)
	name, state := strings.TrimSpace(r.PostForm.Get("feature")), r.PostForm.Get("state")
	if state != "on" && state != "off" {
		p.fail(w, r, s, back, fmt.Errorf("state %q: want on or off: %w", state, store.ErrInvalid))
		return
	}
	if state == "on" && !slices.Contains(features, name) {
		p.fail(w, r, s, back, fmt.Errorf("feature %q: want one of %s: %w", name, strings.Join(features, ", "), store.ErrInvalid))
		return
	}
	on := state == "on"
	if _, err := p.dir.UpdateTenant(r.Context(), s.actor, tenant, directory.TenantChange{Features: map[string]bool{name: on}}); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	key := "features.off_flash"
	if on {
		key = "features.on_flash"
	}
	p.done(w, r, back, flash{Key: key, Args: []string{name}})
}

// setCallSettings changes the call settings the form carries: the
// internal-call policy, the technical extensions, the own numbers or the
// lead module (each form on the page has one of them). The service checks
// them; lists are comma-separated, an empty one clears the list.
func (p *Portal) setCallSettings(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := featuresPath(tenant)
	var c directory.TenantChange
	f := r.PostForm
	if _, ok := f["internal_policy"]; ok {
		pol := store.InternalPolicy(strings.TrimSpace(f.Get("internal_policy")))
		c.InternalPolicy = &pol
	}
	if _, ok := f["technical_extensions"]; ok {
		l := splitList(f.Get("technical_extensions"))
		c.TechnicalExtensions = &l
	}
	if _, ok := f["own_numbers"]; ok {
		l := splitList(f.Get("own_numbers"))
		c.OwnNumbers = &l
	}
	if _, ok := f["lead_module"]; ok {
		m := strings.TrimSpace(f.Get("lead_module"))
		c.LeadModule = &m
	}
	if c.InternalPolicy == nil && c.TechnicalExtensions == nil && c.OwnNumbers == nil && c.LeadModule == nil {
		p.fail(w, r, s, back, fmt.Errorf("no setting to change: %w", store.ErrInvalid))
		return
	}
	if _, err := p.dir.UpdateTenant(r.Context(), s.actor, tenant, c); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	p.done(w, r, back, flash{Key: "features.settings_flash"})
}

// splitList reads a comma-separated list (newlines count as commas),
// trimming the entries and dropping empty ones. Blanks inside an entry
// stay: the service drops them from a number ("+49 30 999000").
func splitList(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// addBlocked adds a number or prefix to the blacklist.
func (p *Portal) addBlocked(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := featuresPath(tenant) + "#blacklist"
	e := directory.BlacklistEntry(strings.TrimSpace(r.PostForm.Get("number")))
	if _, err := p.dir.AddBlocked(r.Context(), s.actor, tenant, e); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	p.done(w, r, back, flash{Key: "blacklist.added_flash", Args: []string{e}})
}

// removeBlocked removes a number or prefix from the blacklist.
func (p *Portal) removeBlocked(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := featuresPath(tenant) + "#blacklist"
	e := directory.BlacklistEntry(r.PostForm.Get("number"))
	if _, err := p.dir.RemoveBlocked(r.Context(), s.actor, tenant, e); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	p.done(w, r, back, flash{Key: "blacklist.removed_flash", Args: []string{e}})
}

// setBlockedReason sets how blacklisted calls are rejected.
func (p *Portal) setBlockedReason(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := featuresPath(tenant) + "#blacklist"
	if _, err := p.dir.SetBlockedReason(r.Context(), s.actor, tenant, r.PostForm.Get("reason")); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	p.done(w, r, back, flash{Key: "blacklist.reason_flash"})
}
