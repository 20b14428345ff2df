package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/store"
)

// Errors of this package; store errors pass through wrapped.
var (
	// ErrForbidden: the actor may not act on this tenant or account.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: wrong username or password, unknown or expired
	// session or token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotConnected: the tenant's Zoho integration is not enabled (or its
	// authorization was revoked), so Zoho users cannot be listed or linked.
	ErrNotConnected = errors.New("zoho integration not connected")
	// ErrNoPBX: this process has no PBX connection to discover from.
	ErrNoPBX = errors.New("no PBX connection in this process")
	// ErrZoho: Zoho refused or failed a request the action needs (listing
	// the org's users, registering a user); the message says what Zoho
	// answered.
	ErrZoho = errors.New("zoho request failed")
)

// Surfaces an Actor acts through (store.AuditEntry.Via).
const (
	ViaCLI    = store.ViaCLI
	ViaAPI    = store.ViaAPI
	ViaPortal = store.ViaPortal
)

// Actor is who does something, and through which surface.
type Actor struct {
	Username string
	Role     store.Role
	// Tenant is a company admin's tenant; empty for an operator.
	Tenant string
	Via    string
}

// Operator is the actor of a CLI command: the CLI runs on the host, with
// the rights of whoever may read the configuration, so it acts as an
// operator named after the OS user.
func Operator(osUser string) Actor {
	if osUser == "" {
		osUser = "unknown"
	}
	return Actor{Username: "cli:" + osUser, Role: store.RoleOperator, Via: ViaCLI}
}

// IsOperator reports whether a administers every tenant.
func (a Actor) IsOperator() bool { return a.Role == store.RoleOperator }

// may reports whether a administers tenant.
func (a Actor) may(tenant string) bool {
	return a.IsOperator() || (a.Role == store.RoleAdmin && a.Tenant == tenant && tenant != "")
}

// Zoho is what the directory needs of a tenant's Zoho org.
type Zoho interface {
	// Users lists the org's users.
	Users(ctx context.Context, tenant string) ([]ZohoUser, error)
	// Register registers a user's click-to-dial and call-control URLs.
	Register(ctx context.Context, tenant string, r Registration) error
	// Unregister removes them.
	Unregister(ctx context.Context, tenant, zohoUser string) error
}

// Connector starts and ends a tenant's Zoho connection.
type Connector interface {
	// AuthURL returns the Zoho consent URL of the authorization-code flow.
	AuthURL(ctx context.Context, tenant string) (string, error)
	// Disconnect revokes and forgets the tenant's refresh token.
	Disconnect(ctx context.Context, tenant string) error
}

// Discoverer lists the extensions the PBX knows, each with its tenant (""
// when the PBX cannot tell: the default tenant).
type Discoverer interface {
	Extensions(ctx context.Context) ([]store.Extension, error)
}

// ZohoUser is a user of a tenant's Zoho org.
type ZohoUser struct {
	// ID is the PhoneBridge zohouser id; empty when PhoneBridge is not
	// available for the org.
	ID string `json:"id,omitempty"`
	// CRMUserID is the CRM user id (the Owner of records).
	CRMUserID string `json:"crm_user_id,omitempty"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	// Extension is the extension linked to this user, if any (filled by
	// Service.ZohoUsers).
	Extension string `json:"extension,omitempty"`
}

// key is the id a link stores for the user: the PhoneBridge id, else the
// CRM user id (REST-mode tenants).
func (u ZohoUser) key() string {
	if u.ID != "" {
		return u.ID
	}
	return u.CRMUserID
}

// Registration is what Zoho calls for one user (PhoneBridge mode).
type Registration struct {
	ZohoUser    string
	ClickToDial string
	CallControl map[string]string
	Secret      string
}

// URLs gives the click-to-dial and call-control URLs of a tenant
// (clicktocall.ClickToDialURL and CallControlURLs in the daemon).
type URLs func(tenant string) (clickToDial string, callControl map[string]string)

// Options configure a Service.
type Options struct {
	Store store.Store
	// Zoho and Connector are nil when this server has no Zoho client
	// configured: enabling the integration and listing or linking Zoho
	// users then fail with ErrNotConnected.
	Zoho      Zoho
	Connector Connector
	// Discoverer may be nil (the CLI has no PBX connection).
	Discoverer Discoverer
	URLs       URLs
	// DefaultTenant receives discovered extensions whose tenant the PBX
	// cannot tell (pbx.default_tenant).
	DefaultTenant string
	// AllowInsecureWebhooks is webhooks.allow_insecure: webhook URLs may
	// also be http:// to loopback and private addresses, from every
	// surface. False: https only.
	AllowInsecureWebhooks bool
	// NewSecret returns a fresh per-user click-to-dial secret.
	NewSecret func() string
	Logger    *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the admin service. Safe for concurrent use.
type Service struct {
	o   Options
	log *zap.Logger
	now func() time.Time

	mu        sync.Mutex
	zohoUsers map[string]cachedUsers // tenant → org users, briefly cached
}

type cachedUsers struct {
	at    time.Time
	users []ZohoUser
}

// zohoUsersTTL bounds how stale the Zoho user list a page shows may be: a
// users page loads it once, not once per row, and a link right after a
// refresh does not ask Zoho again.
const zohoUsersTTL = time.Minute

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.URLs == nil || o.NewSecret == nil {
		return nil, errors.New("directory: Store, URLs and NewSecret are required")
	}
	s := &Service{o: o, log: o.Logger, now: o.Now, zohoUsers: map[string]cachedUsers{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// authorize checks that a may administer tenant.
func (s *Service) authorize(a Actor, tenant string) error {
	if a.may(tenant) {
		return nil
	}
	return fmt.Errorf("%s may not administer tenant %s: %w", a.Username, tenant, ErrForbidden)
}

// audit records what a did (err non-nil: the attempt failed). The audit
// log failing does not undo the action: it is logged instead.
func (s *Service) audit(ctx context.Context, a Actor, tenant, action, target, detail string, err error) {
	e := store.AuditEntry{Actor: a.Username, Via: a.Via, Tenant: tenant, Action: action,
		Target: clip(target, 256), Detail: clip(detail, store.MaxAuditDetail)}
	if err != nil {
		e.Error = clip(err.Error(), store.MaxAuditDetail)
	}
	// A cancelled request still gets its audit entry.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, aerr := s.o.Store.AppendAudit(ctx, e); aerr != nil {
		s.log.Error("audit log append failed", zap.String("action", action), zap.String("actor", a.Username),
			zap.String("tenant", tenant), zap.Error(aerr))
	}
}

// Audit lists the audit log newest first: the tenant's entries, or for an
// operator with tenant "" every entry.
func (s *Service) Audit(ctx context.Context, a Actor, tenant string, p store.Page) ([]store.AuditEntry, int, error) {
	if tenant == "" && !a.IsOperator() {
		tenant = a.Tenant
	}
	if tenant != "" {
		if err := s.authorize(a, tenant); err != nil {
			return nil, 0, err
		}
	}
	return s.o.Store.ListAudit(ctx, tenant, p)
}

// errNoZoho: the server has no Zoho client.
var errNoZoho = fmt.Errorf("zoho is not configured on this server (zoho.client_id, client_secret, token_key_file): %w", ErrNotConnected)

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// caseFold is strings.ToLower for matching.
func caseFold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
