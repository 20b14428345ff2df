package adminapi

import (
	"encoding/json"
	"io"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// The bodies of the API's list and read endpoints, for the surfaces that
// print exactly what the API answers (the CLI's -json). The endpoints send
// these very values, so the two cannot drift apart.

// TenantsView is the body of GET /tenants.
func TenantsView(ts []store.Tenant) any { return map[string]any{"tenants": mapSlice(ts, tenantOf)} }

// TenantView is the body of GET /tenants/{tenant}.
func TenantView(t store.Tenant) any { return tenantOf(t) }

// UsersView is the body of GET /tenants/{tenant}/users: one page of the
// users table, how many rows match in all, and the page (normalised as the
// service normalises it).
func UsersView(us []directory.User, total int, p store.Page) any {
	if n, err := p.Norm(); err == nil {
		p = n
	}
	return usersPage{Users: mapSlice(us, userOf), Total: total, Offset: p.Offset, Limit: p.Limit}
}

// UserView is the body of GET /tenants/{tenant}/users/{ext}.
func UserView(u directory.User) any { return userOf(u) }

// AccountsView is the body of GET /accounts.
func AccountsView(accs []store.Account) any {
	return map[string]any{"accounts": mapSlice(accs, accountOf)}
}

// AuditView is the body of GET /audit: one page of the audit log.
func AuditView(es []store.AuditEntry, total int, p store.Page) any {
	if n, err := p.Norm(); err == nil {
		p = n
	}
	return auditPage{Entries: mapSlice(es, auditOf), Total: total, Offset: p.Offset, Limit: p.Limit}
}

// WebhooksView is the body of GET /tenants/{tenant}/webhooks: the
// subscriptions, never their secrets (a secret in ws is dropped).
func WebhooksView(ws []store.Webhook) any {
	return map[string]any{"webhooks": mapSlice(ws, webhookOf)}
}

// DeliveriesView is the body of GET /tenants/{tenant}/webhooks/{id}/deliveries:
// one page of the delivery log, newest first.
func DeliveriesView(ds []store.Delivery, total int, p store.Page) any {
	if n, err := p.Norm(); err == nil {
		p = n
	}
	return deliveriesPage{Deliveries: mapSlice(ds, deliveryOf), Total: total, Offset: p.Offset, Limit: p.Limit}
}

// WriteBody writes a body as the API sends it: compact JSON and a newline.
func WriteBody(w io.Writer, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
