package store

import (
	"time"
)

// The JSON form of these types is what both backends store: fields are only
// ever added, never renamed.

// ZohoMode is how a tenant talks to Zoho (shared/DESIGN.md, "Two Zoho modes").
type ZohoMode string

const (
	// ModeUnset: no mode chosen yet; the integration is off.
	ModeUnset ZohoMode = ""
	// ModePhoneBridge: Ringside is a PhoneBridge v3 provider (paid editions).
	ModePhoneBridge ZohoMode = "phonebridge"
	// ModeREST: Ringside writes Calls records through the CRM REST API.
	ModeREST ZohoMode = "rest"
)

// ConnStatus is the state of a tenant's Zoho connection.
type ConnStatus string

const (
	// Disconnected: never connected, or disconnected by an admin. The empty
	// status is stored as Disconnected.
	Disconnected ConnStatus = "disconnected"
	// Connected: a refresh token is stored and works.
	Connected ConnStatus = "connected"
	// Revoked: Zoho refused the refresh token; an admin must reconnect.
	Revoked ConnStatus = "revoked"
)

// Tenant is one company served by the PBX.
type Tenant struct {
	// ID is a NATS subject token (events.ValidToken): it names the tenant
	// in call subjects.
	ID string `json:"id"`
	// Name is the display name.
	Name     string         `json:"name"`
	Settings Settings       `json:"settings"`
	Zoho     ZohoConnection `json:"zoho"`
	// Version changes on every write; UpdateTenant needs the one read.
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Settings are a tenant's choices.
type Settings struct {
	Mode ZohoMode `json:"mode,omitempty"`
	// Region is the ISO 3166-1 alpha-2 region numbers without a country
	// code are read in ("DE"); empty: numbers must carry one.
	Region string `json:"region,omitempty"`
	// DefaultUser is the Zoho user id responsible for events with no owner.
	DefaultUser string `json:"default_user,omitempty"`
	// Features switches later features on and off by name
	// ("missed_call_task": true). Absent means off.
	Features map[string]bool `json:"features,omitempty"`
	// Blacklist holds the callers rejected before their call rings: E.164
	// numbers ("+4930123456") and prefixes ending in "*" ("+4990*"), in
	// the order added (CheckBlacklist). Empty: no call is rejected.
	Blacklist []string `json:"blacklist,omitempty"`
	// BlacklistReason is how a blacklisted call is rejected: BlockBusy
	// (when empty), BlockCongestion or BlockHangup.
	BlacklistReason string `json:"blacklist_reason,omitempty"`
	// InternalPolicy is what becomes of calls between two extensions in
	// the CRM: InternalSkip (when empty), InternalLog or InternalLight.
	InternalPolicy InternalPolicy `json:"internal_policy,omitempty"`
	// TechnicalExtensions are glob patterns (path.Match: *, ?, [...],
	// case-insensitive) of extensions that are no person: fax, paging,
	// IVR, queues ("8*", "fax"). A call between extensions involving one
	// is never logged, whatever InternalPolicy says; an external call that
	// only such extensions handled is not logged either
	// (CheckTechnicalExtensions).
	TechnicalExtensions []string `json:"technical_extensions,omitempty"`
	// OwnNumbers are the tenant's own numbers (its DIDs, the numbers its
	// users call out with): E.164 numbers and prefixes ending in "*"
	// ("+4930999*"), as in Blacklist (CheckOwnNumbers). A call from or to
	// one never creates a Lead.
	OwnNumbers []string `json:"own_numbers,omitempty"`
	// LeadModule is where unknown callers become records when the leads
	// features are on: "Leads" or "Contacts"; empty means the daemon's
	// default (crm.leads.module).
	LeadModule string `json:"lead_module,omitempty"`
}

// InternalPolicy says what becomes of a tenant's internal calls.
type InternalPolicy string

const (
	// InternalSkip: internal calls leave no trace in the CRM (the
	// default; the empty policy is InternalSkip).
	InternalSkip InternalPolicy = "skip"
	// InternalLog: each internal call becomes one Calls record like an
	// external call's (ring list, transfers, recording link).
	InternalLog InternalPolicy = "log"
	// InternalLight: each internal call becomes one short Calls record:
	// subject, type, start, duration and owner; no lookup, no recording
	// link, no details.
	InternalLight InternalPolicy = "light"
)

// ZohoConnection is what a tenant's Zoho connection holds
// (shared/spec/zoho.md §5): the data centre, and the refresh token.
type ZohoConnection struct {
	Status ConnStatus `json:"status"`
	// AccountsURL is the accounts server of the data centre
	// ("https://accounts.zoho.eu").
	AccountsURL string `json:"accounts_url,omitempty"`
	// APIDomain is the api_domain the token endpoint returned
	// ("https://www.zohoapis.eu").
	APIDomain string `json:"api_domain,omitempty"`
	// Location is the data centre code ("eu", "us", "in").
	Location string `json:"location,omitempty"`
	// RefreshToken is the refresh token, encrypted by the caller.
	RefreshToken []byte    `json:"refresh_token,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	ConnectedAt  time.Time `json:"connected_at,omitzero"`
	// LastError is the last failure of the connection (no secrets in it),
	// at LastErrorAt; empty when the last attempt worked.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Extension is one PBX user of a tenant.
type Extension struct {
	Tenant string `json:"tenant"`
	// Number is what is dialled to reach it ("1001").
	Number string `json:"number"`
	// Name is the display name the PBX knows ("Ana García").
	Name string `json:"name,omitempty"`
	// Device is the PBX endpoint ("PJSIP/1001", "user/1001@acme.example").
	Device    string    `json:"device,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Switches are the per-user features of a linked extension.
// Invariant: ClickToCall implies Notifications.
type Switches struct {
	// Notifications: screen pops and call logs for this user.
	Notifications bool `json:"notifications"`
	// ClickToCall: Zoho's click-to-dial rings this user's default terminal.
	ClickToCall bool `json:"click_to_call"`
}

// Link ties an extension to a Zoho user.
type Link struct {
	Tenant    string `json:"tenant"`
	Extension string `json:"extension"`
	// ZohoUser is the PhoneBridge zohouser id, or the CRM user id for a
	// tenant without PhoneBridge (REST mode): the id Zoho names the user by
	// in click-to-dial and call-control requests.
	ZohoUser string `json:"zoho_user"`
	// CRMUser is the CRM user id (the Owner of Calls records), when known.
	CRMUser string `json:"crm_user,omitempty"`
	// Email and Name are the Zoho user's, cached for display.
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// Secret is the per-user authorizationparam value Zoho echoes on
	// click-to-dial and call-control requests. Opaque; stored as given.
	Secret   string    `json:"secret,omitempty"`
	Switches Switches  `json:"switches"`
	LinkedAt time.Time `json:"linked_at"`
}

// Toggle is one switch's change in a SwitchChange.
type Toggle uint8

const (
	// Keep leaves the switch as it is.
	Keep Toggle = iota
	// On turns the switch on.
	On
	// Off turns the switch off.
	Off
)

// SwitchChange says which switches to change; the zero value changes
// nothing.
type SwitchChange struct {
	Notifications Toggle
	ClickToCall   Toggle
}

// TerminalKind is the kind of a default terminal.
type TerminalKind string

const (
	// Desk: a desk phone or softphone (*037), rung at Device.
	Desk TerminalKind = "desk"
	// Mobile: a mobile seat (3037), rung at Mobile.
	Mobile TerminalKind = "mobile"
)

// Terminal is the default terminal of an extension.
type Terminal struct {
	Tenant    string       `json:"tenant"`
	Extension string       `json:"extension"`
	Kind      TerminalKind `json:"kind"`
	// Device is the PBX endpoint of a desk terminal.
	Device string `json:"device,omitempty"`
	// Mobile is the number of a mobile terminal.
	Mobile string    `json:"mobile,omitempty"`
	SetAt  time.Time `json:"set_at"`
}

// Role is what an account may administer.
type Role string

const (
	// RoleOperator administers every tenant; it has no Tenant.
	RoleOperator Role = "operator"
	// RoleAdmin administers one company: its Tenant.
	RoleAdmin Role = "admin"
)

// Account is an admin login.
type Account struct {
	Username string `json:"username"`
	// PasswordHash is the password hashed by the caller (bcrypt, argon2id…).
	PasswordHash []byte `json:"password_hash"`
	Role         Role   `json:"role"`
	// Tenant is the tenant of a RoleAdmin; empty for RoleOperator.
	Tenant    string    `json:"tenant,omitempty"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Session is a logged-in session or API token of an account.
type Session struct {
	// ID is the hash of the token (e.g. hex SHA-256), never the token.
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Via is the surface an admin action came through.
const (
	// ViaPortal: the web portal.
	ViaPortal = "portal"
	// ViaAPI: the JSON API.
	ViaAPI = "api"
	// ViaCLI: a ringside command on the host.
	ViaCLI = "cli"
	// ViaDaemon: the daemon acting on its own, no admin involved (a webhook
	// subscription disabled after repeated failures).
	ViaDaemon = "daemon"
)

// AuditEntry is one admin action in the audit log, refused attempts
// included. It holds no secrets.
type AuditEntry struct {
	// Time is when the store appended it.
	Time time.Time `json:"time"`
	// Actor is who acted: the account username, or "cli:<os user>";
	// required.
	Actor string `json:"actor"`
	// Via is the surface: ViaPortal, ViaAPI, ViaCLI, or ViaDaemon for what
	// the daemon did on its own; required.
	Via string `json:"via"`
	// Tenant is the tenant acted on; empty for operator-level actions
	// (tenant created, account added).
	Tenant string `json:"tenant,omitempty"`
	// Action is a dotted verb ("user.link", "tenant.create",
	// "login.failed"); required, 1 to 64 bytes of a-z, '_' and '.'.
	Action string `json:"action"`
	// Target is what was acted on ("1001", "acme"); up to 256 bytes of
	// UTF-8.
	Target string `json:"target,omitempty"`
	// Detail is human-readable detail, no secrets; up to MaxAuditDetail
	// bytes of UTF-8.
	Detail string `json:"detail,omitempty"`
	// Error is non-empty when the action failed, so refused attempts are
	// audited too; up to MaxAuditDetail bytes of UTF-8 (cut longer ones).
	Error string `json:"error,omitempty"`
}

// WebhookState is where a webhook subscription stands.
type WebhookState string

const (
	// WebhookPending: created or re-enabled, waiting for the receiver to
	// pass the verification handshake; nothing is delivered yet.
	WebhookPending WebhookState = "pending"
	// WebhookActive: verified; call events are delivered.
	WebhookActive WebhookState = "active"
	// WebhookDisabled: nothing is delivered until an admin enables it again
	// (which starts a new handshake); Reason says why.
	WebhookDisabled WebhookState = "disabled"
)

// Webhook is a tenant's subscription to its call events, delivered as
// signed HTTP POSTs to URL (pkg/webhooks).
type Webhook struct {
	Tenant string `json:"tenant"`
	// ID names the subscription within its tenant: 1 to 64 bytes of
	// A-Z, a-z, 0-9, '_' and '-'.
	ID string `json:"id"`
	// URL is the absolute http(s) URL deliveries are POSTed to, without
	// user info or fragment; up to MaxWebhookURL bytes. Which schemes and
	// hosts are allowed is the delivery side's policy (webhooks.allow_insecure).
	URL string `json:"url"`
	// Events are the call event types delivered (events.Types); empty means
	// every type.
	Events []string `json:"events,omitempty"`
	// Secret is the key deliveries are signed with (HMAC-SHA256), stored as
	// given: 16 to 256 printable ASCII bytes. Never logged or shown after
	// creation.
	Secret string       `json:"secret"`
	State  WebhookState `json:"state"`
	// Reason is why the subscription is disabled, or, while it is pending
	// or failing, why its last round failed; up to MaxAuditDetail bytes of
	// UTF-8.
	Reason string `json:"reason,omitempty"`
	// Failures counts the consecutive failed rounds of attempts (deliveries
	// or handshakes) since the last success; RetryAt is when the next round
	// may start after a failure.
	Failures int       `json:"failures"`
	RetryAt  time.Time `json:"retry_at,omitzero"`
	// VerifiedAt is when the receiver last passed the handshake.
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	// Version changes on every write; UpdateWebhook needs the one read.
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Wants reports whether w subscribes to call events of type t.
func (w Webhook) Wants(t string) bool {
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == t {
			return true
		}
	}
	return false
}

// Delivery results: how one attempt ended. They are also the result label
// of ringside_webhook_deliveries_total.
const (
	// DeliveryOK: the receiver answered 2xx (and, for a handshake, echoed
	// the challenge).
	DeliveryOK = "ok"
	// DeliveryHTTPError: the receiver answered, but not 2xx (or a handshake
	// without the challenge echoed).
	DeliveryHTTPError = "http_error"
	// DeliveryNetworkError: no answer: refused, reset, DNS, TLS.
	DeliveryNetworkError = "network_error"
	// DeliveryTimeout: no answer within webhooks.timeout.
	DeliveryTimeout = "timeout"
)

// Delivery is one attempt to deliver an event (or a handshake) to a
// webhook subscription, as the delivery log keeps it. It holds no secrets.
type Delivery struct {
	// Time is when the attempt started (stored as UTC); required.
	Time    time.Time `json:"time"`
	Tenant  string    `json:"tenant"`
	Webhook string    `json:"webhook"`
	// EventID is the envelope's id ("evt_…", "vrf_…" for a handshake).
	EventID string `json:"event_id"`
	// EventType is the envelope's type ("call.ended", "ringside.verify"):
	// 1 to 64 bytes of a-z, '_' and '.'.
	EventType string `json:"event_type"`
	// Attempt numbers the attempts of this event, from 1 (the stream's
	// delivery count).
	Attempt int `json:"attempt"`
	// Result is DeliveryOK, DeliveryHTTPError, DeliveryNetworkError or
	// DeliveryTimeout.
	Result string `json:"result"`
	// Status is the HTTP status of the answer, 0 without one.
	Status int `json:"status,omitempty"`
	// Error says what went wrong; up to MaxAuditDetail bytes of UTF-8.
	Error string `json:"error,omitempty"`
	// Duration is how long the attempt took.
	Duration time.Duration `json:"duration_ns"`
}

// Page selects part of a list: Limit items after skipping Offset. A zero
// Limit means DefaultLimit; a Limit above MaxLimit is cut to MaxLimit.
type Page struct {
	Offset int
	Limit  int
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)
