// Package store is the contract for everything Ringside keeps between calls
// and across restarts: tenants and their Zoho connection, the extensions the
// PBX reports, the links between extensions and Zoho users with their
// per-user switches, default terminals, the caller-lookup cache, idempotency
// keys and CRM record ids, the admin accounts and sessions, the audit log of
// what the admins did, and the tenants' webhook subscriptions with the log
// of their deliveries.
//
// The contract is PBX- and backend-neutral. Two implementations pass one
// contract suite (pkg/store/storetest): adapters/redisstore (Redis) and
// adapters/natskv (JetStream key-value in the embedded NATS server).
//
// Rules every implementation keeps, so every surface (CLI, JSON API, portal,
// Zoho sink, click-to-call) sees the same behaviour:
//
//   - Errors wrap one of ErrNotFound, ErrConflict or ErrInvalid with context;
//     match them with errors.Is. Any other error is the backend failing
//     (connection lost, timeout) and is worth a retry.
//   - Input is validated before anything is written: an invalid value
//     changes nothing.
//   - Times the store sets (CreatedAt, UpdatedAt, LinkedAt, SetAt, the
//     audit entries' Time) are UTC.
//   - Secrets arrive ready to store: the refresh token is already encrypted,
//     passwords and session tokens already hashed. The store never logs them.
//   - Lists are ordered bytewise by their key (tenant id, extension number,
//     username; tenant then id for webhooks); the audit and delivery logs
//     are listed newest first.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them with context
// ("redisstore: link acme/1001: Zoho user 42 is linked to extension 1002: conflict").
var (
	// ErrNotFound: the tenant, extension, link, terminal, cache entry,
	// record, account or session does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the thing exists already (duplicate tenant, account or
	// session; an extension or Zoho user already linked), the write was
	// based on a stale Version, or it would leave the data inconsistent
	// (deleting a linked extension).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule of the contract (bad id, empty
	// required field, click-to-call without notifications, TTL ≤ 0).
	ErrInvalid = errors.New("invalid")
)

// Store is everything Ringside keeps. Services take the narrow interface
// they use (a Zoho sink needs Links, Cache and Keys; the admin service
// needs most of them).
type Store interface {
	Tenants
	Extensions
	Links
	Terminals
	Cache
	Keys
	Accounts
	Sessions
	Audit
	Webhooks
}

// Tenants are the companies served: each has its own Zoho connection, mode
// and settings.
type Tenants interface {
	// CreateTenant stores a new tenant and returns it with Version,
	// CreatedAt and UpdatedAt set. ErrConflict if the id exists, ErrInvalid
	// if Validate fails.
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)
	// Tenant returns the tenant with the given id, or ErrNotFound.
	Tenant(ctx context.Context, id string) (Tenant, error)
	// UpdateTenant replaces the tenant (name, settings, Zoho connection)
	// if t.Version is the stored one, and returns it with a new Version and
	// UpdatedAt. ErrConflict if the stored tenant changed since t was read,
	// ErrNotFound if it is gone. CreatedAt is kept. See ModifyTenant.
	UpdateTenant(ctx context.Context, t Tenant) (Tenant, error)
	// DeleteTenant removes the tenant with its extensions, links, default
	// terminals and webhook subscriptions with their delivery logs
	// (unregister the linked users at Zoho first). Its
	// lookup-cache entries expire on their own; admin accounts of the tenant
	// are kept (delete them through Accounts); its audit entries are kept
	// too: the audit outlives the tenant (and a tenant created again with
	// the id lists them). ErrNotFound if absent.
	DeleteTenant(ctx context.Context, id string) error
	// ListTenants returns every tenant, ordered by id.
	ListTenants(ctx context.Context) ([]Tenant, error)
}

// Extensions are the PBX users a tenant has, as discovery reports them.
type Extensions interface {
	// UpsertExtension creates or replaces the extension (name and device)
	// and returns it with UpdatedAt set. ErrNotFound if the tenant does not
	// exist, ErrInvalid if Validate fails. A link or terminal of the
	// extension is not touched.
	UpsertExtension(ctx context.Context, e Extension) (Extension, error)
	// Extension returns one extension, or ErrNotFound.
	Extension(ctx context.Context, tenant, number string) (Extension, error)
	// ListExtensions returns one page of the tenant's extensions ordered by
	// number, and how many there are in all. An unknown tenant has none.
	ListExtensions(ctx context.Context, tenant string, p Page) ([]Extension, int, error)
	// DeleteExtension removes the extension and its default terminal.
	// ErrConflict while it is linked to a Zoho user (unlink it first, so the
	// user is unregistered at Zoho), ErrNotFound if absent.
	DeleteExtension(ctx context.Context, tenant, number string) error
}

// Links tie an extension to a Zoho user. Within a tenant a link is unique in
// both directions: an extension links to at most one Zoho user and a Zoho
// user to at most one extension. A half-written link (a crash in the middle)
// is never returned as a link.
type Links interface {
	// Link stores l and returns it with LinkedAt set. ErrInvalid if
	// Validate fails (including click-to-call on without notifications),
	// ErrNotFound if the extension does not exist, ErrConflict if the
	// extension or the Zoho user is already linked (to anyone, even each
	// other). Of concurrent Links for the same extension or Zoho user,
	// exactly one succeeds.
	Link(ctx context.Context, l Link) (Link, error)
	// Unlink removes the link of the extension and returns it, so the
	// caller can unregister the Zoho user. ErrNotFound if not linked.
	Unlink(ctx context.Context, tenant, extension string) (Link, error)
	// LinkByExtension returns the link of an extension, or ErrNotFound.
	LinkByExtension(ctx context.Context, tenant, extension string) (Link, error)
	// LinkByZohoUser returns the link of a Zoho user (the PhoneBridge
	// zohouser id), or ErrNotFound.
	LinkByZohoUser(ctx context.Context, tenant, zohoUser string) (Link, error)
	// ListLinks returns one page of the tenant's links ordered by extension
	// number, and how many there are in all.
	ListLinks(ctx context.Context, tenant string, p Page) ([]Link, int, error)
	// SetSwitches changes the per-user switches of a linked extension
	// atomically and returns the link as stored. The rule (Switches.Apply):
	// click-to-call requires notifications, so turning click-to-call on
	// while notifications end up off is ErrInvalid, and turning
	// notifications off turns click-to-call off. ErrNotFound if not linked.
	SetSwitches(ctx context.Context, tenant, extension string, c SwitchChange) (Link, error)
}

// Terminals are the default terminals that click-to-call rings first, set by
// the *037 / 3037 feature codes. Without one, the extension's own device is
// used. They are persistent.
type Terminals interface {
	// SetTerminal stores the default terminal of an extension, replacing
	// any previous one, and returns it with SetAt set. ErrNotFound if the
	// extension does not exist, ErrInvalid if Validate fails.
	SetTerminal(ctx context.Context, t Terminal) (Terminal, error)
	// Terminal returns the default terminal of an extension, or
	// ErrNotFound when none is set.
	Terminal(ctx context.Context, tenant, extension string) (Terminal, error)
	// ResetTerminal removes the default terminal (back to the extension's
	// own device). Resetting an extension without one is not an error.
	ResetTerminal(ctx context.Context, tenant, extension string) error
}

// Cache is the caller-lookup cache: (tenant, E.164 number) → the CRM match
// or a negative marker, as opaque bytes. The caller picks the TTLs (one for
// hits, one for misses).
type Cache interface {
	// GetLookup returns the cached value, or ErrNotFound when there is none
	// or it expired.
	GetLookup(ctx context.Context, tenant, number string) ([]byte, error)
	// PutLookup stores the value for ttl (> 0, else ErrInvalid), replacing
	// any previous value and its TTL.
	PutLookup(ctx context.Context, tenant, number string, value []byte, ttl time.Duration) error
	// DeleteLookup forgets the value (a record was created or changed).
	// Deleting a missing entry is not an error.
	DeleteLookup(ctx context.Context, tenant, number string) error
}

// Keys are idempotency keys and the record ids CRM writes produce. Keys are
// opaque strings of 1 to 512 bytes chosen by the caller; namespace them
// ("zoho/acme/log/<call id>").
type Keys interface {
	// Claim takes the key for ttl if nobody holds it (SET NX semantics) and
	// reports whether this caller got it. A claim ends when its ttl expires
	// or it is released. ttl must be > 0.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release ends a claim at once (the work failed; let a retry claim it).
	// Releasing a key nobody holds is not an error.
	Release(ctx context.Context, key string) error
	// PutRecord remembers value (e.g. the Zoho Calls record id of a call)
	// under key for ttl (> 0), replacing any previous value.
	PutRecord(ctx context.Context, key, value string, ttl time.Duration) error
	// GetRecord returns the value, or ErrNotFound when none or expired.
	GetRecord(ctx context.Context, key string) (string, error)
}

// Accounts are the people who administer Ringside: operators (every tenant)
// and company admins (one tenant).
type Accounts interface {
	// CreateAccount stores a new account and returns it with Version,
	// CreatedAt and UpdatedAt set. ErrConflict if the username exists,
	// ErrNotFound if an admin's tenant does not exist, ErrInvalid if
	// Validate fails.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// Account returns the account, or ErrNotFound.
	Account(ctx context.Context, username string) (Account, error)
	// UpdateAccount replaces password hash, role and tenant if a.Version is
	// the stored one. ErrConflict if stale, ErrNotFound if gone.
	UpdateAccount(ctx context.Context, a Account) (Account, error)
	// DeleteAccount removes the account and all its sessions. ErrNotFound
	// if absent.
	DeleteAccount(ctx context.Context, username string) error
	// ListAccounts returns the accounts ordered by username: all of them
	// when tenant is empty, else the admins of that tenant.
	ListAccounts(ctx context.Context, tenant string) ([]Account, error)
}

// Sessions are logged-in admin sessions and API tokens, keyed by the hash of
// their token (never the token itself).
type Sessions interface {
	// CreateSession stores s with CreatedAt set. ErrNotFound if the account
	// does not exist, ErrConflict if the id exists, ErrInvalid if Validate
	// fails (including an ExpiresAt not in the future).
	CreateSession(ctx context.Context, s Session) (Session, error)
	// Session returns the session, or ErrNotFound when none or expired.
	Session(ctx context.Context, id string) (Session, error)
	// DeleteSession ends one session (log out). Deleting a missing session
	// is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessions ends every session of an account (password changed,
	// account locked) and returns how many there were.
	DeleteSessions(ctx context.Context, username string) (int, error)
}

// AuditKeep is how many entries the audit log keeps in each view: the
// newest AuditKeep of each tenant, and the newest AuditKeep of all of them
// together (every tenant's and the operator-level ones) in the all-tenants
// view. An append beyond it drops the oldest entry of the view. So a busy
// tenant can push a quiet tenant's entries out of the all-tenants view,
// while they stay in the quiet tenant's own view; operator-level entries
// are only in the all-tenants view.
const AuditKeep = 10000

// Audit is the log of admin actions (who changed what, from which surface),
// newest first. Entries are never changed or deleted, only dropped beyond
// AuditKeep.
type Audit interface {
	// AppendAudit stores e with Time set (UTC, now) and returns it.
	// ErrInvalid if Validate fails. Of concurrent appends, every one is
	// kept; entries appended one after the other are listed in that order.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns one page of the entries, newest first, and how
	// many are kept in all (at most AuditKeep): all tenants' and
	// operator-level entries when tenant is empty, else those of that
	// tenant. An unknown tenant has none. A page read while entries are
	// appended may be shifted by those appended meanwhile, as between two
	// pages.
	ListAudit(ctx context.Context, tenant string, p Page) ([]AuditEntry, int, error)
}

// DeliveryKeep is how many attempts the delivery log keeps per webhook
// subscription: an append beyond it drops the oldest.
const DeliveryKeep = 1000

// Webhooks are the tenants' webhook subscriptions and the capped log of
// their delivery attempts. A subscription is named by its tenant and id.
type Webhooks interface {
	// CreateWebhook stores a new subscription and returns it with Version,
	// CreatedAt and UpdatedAt set. ErrNotFound if the tenant does not
	// exist, ErrConflict if the tenant has a subscription with the id,
	// ErrInvalid if Validate fails.
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// Webhook returns one subscription, or ErrNotFound.
	Webhook(ctx context.Context, tenant, id string) (Webhook, error)
	// ListWebhooks returns the tenant's subscriptions ordered by id, or
	// with tenant "" every tenant's, ordered by tenant then id.
	ListWebhooks(ctx context.Context, tenant string) ([]Webhook, error)
	// UpdateWebhook replaces the subscription if w.Version is the stored
	// one, and returns it with a new Version and UpdatedAt. ErrConflict if
	// it changed since w was read, ErrNotFound if it is gone. CreatedAt is
	// kept. See ModifyWebhook.
	UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// DeleteWebhook removes the subscription and its delivery log.
	// ErrNotFound if absent.
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// AppendDelivery adds an attempt to the subscription's delivery log
	// (Time stored as UTC) and returns it. ErrInvalid if Validate fails.
	// The subscription is not checked: an append racing its deletion may
	// leave a log nobody lists.
	AppendDelivery(ctx context.Context, d Delivery) (Delivery, error)
	// ListDeliveries returns one page of the subscription's delivery log,
	// newest first, and how many attempts it keeps (at most DeliveryKeep).
	// An unknown subscription has none.
	ListDeliveries(ctx context.Context, tenant, id string, p Page) ([]Delivery, int, error)
}
