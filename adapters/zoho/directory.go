package zoho

import (
	"context"

	"github.com/ringside/ringside/pkg/directory"
)

// Directory is the Zoho side of the admin service: the org's users, the
// registration of a linked user's click-to-dial and call-control URLs, and
// the start and end of a tenant's connection.
type Directory struct {
	Client *Client
	// ParamName is the name of the per-user secret Zoho echoes
	// (click_to_call.auth_param); empty means "ringside_auth".
	ParamName string
}

var (
	_ directory.Zoho      = Directory{}
	_ directory.Connector = Directory{}
)

// Users lists the org's users (Client.Users).
func (d Directory) Users(ctx context.Context, tenant string) ([]directory.ZohoUser, error) {
	us, err := d.Client.Users(ctx, tenant)
	out := make([]directory.ZohoUser, len(us))
	for i, u := range us {
		out[i] = directory.ZohoUser{ID: u.ZohoUser, CRMUserID: u.CRMUserID, Email: u.Email, Name: u.Name}
	}
	return out, err
}

// Register registers a linked user (Client.RegisterUser).
func (d Directory) Register(ctx context.Context, tenant string, r directory.Registration) error {
	return d.Client.RegisterUser(ctx, tenant, Registration{ZohoUser: r.ZohoUser, ClickToDial: r.ClickToDial,
		CallControl: r.CallControl, Secret: r.Secret, ParamName: d.ParamName})
}

// Unregister removes a user's registrations (Client.UnregisterUser).
func (d Directory) Unregister(ctx context.Context, tenant, zohoUser string) error {
	return d.Client.UnregisterUser(ctx, tenant, zohoUser)
}

// AuthURL starts the authorization-code flow (Client.AuthCodeURL).
func (d Directory) AuthURL(ctx context.Context, tenant string) (string, error) {
	return d.Client.AuthCodeURL(ctx, tenant)
}

// Disconnect revokes and forgets the connection (Client.Disconnect).
func (d Directory) Disconnect(ctx context.Context, tenant string) error {
	return d.Client.Disconnect(ctx, tenant)
}
