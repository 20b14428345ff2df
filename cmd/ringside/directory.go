package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
)

// newDirectory builds the admin service every admin surface uses. zc is
// nil without a Zoho client (zoho.client_id empty), disc nil without a
// PBX connection (CLI commands).
func newDirectory(cfg config.Config, st stateStore, zc *zoho.Client, disc directory.Discoverer, log *zap.Logger) (*directory.Service, error) {
	o := directory.Options{
		Store: st, Discoverer: disc, DefaultTenant: cfg.PBX.DefaultTenant, NewSecret: zoho.NewSecret, Logger: log.Named("directory"),
		URLs: func(tenant string) (string, map[string]string) {
			return clicktocall.ClickToDialURL(cfg.HTTP.PublicURL, tenant), clicktocall.CallControlURLs(cfg.HTTP.PublicURL, tenant)
		},
	}
	if zc != nil {
		z := zohoDirectory{c: zc, param: cfg.ClickToCall.AuthParam}
		o.Zoho, o.Connector = z, z
	}
	return directory.New(o)
}

// zohoDirectory adapts *zoho.Client to directory.Zoho and Connector.
type zohoDirectory struct {
	c     *zoho.Client
	param string // click_to_call.auth_param
}

func (z zohoDirectory) Users(ctx context.Context, tenant string) ([]directory.ZohoUser, error) {
	us, err := z.c.Users(ctx, tenant)
	out := make([]directory.ZohoUser, len(us))
	for i, u := range us {
		out[i] = directory.ZohoUser{ID: u.ZohoUser, CRMUserID: u.CRMUserID, Email: u.Email, Name: u.Name}
	}
	return out, err
}

func (z zohoDirectory) Register(ctx context.Context, tenant string, r directory.Registration) error {
	return z.c.RegisterUser(ctx, tenant, zoho.Registration{ZohoUser: r.ZohoUser, ClickToDial: r.ClickToDial,
		CallControl: r.CallControl, Secret: r.Secret, ParamName: z.param})
}

func (z zohoDirectory) Unregister(ctx context.Context, tenant, zohoUser string) error {
	return z.c.UnregisterUser(ctx, tenant, zohoUser)
}

func (z zohoDirectory) AuthURL(ctx context.Context, tenant string) (string, error) {
	return z.c.AuthCodeURL(ctx, tenant)
}

func (z zohoDirectory) Disconnect(ctx context.Context, tenant string) error {
	return z.c.Disconnect(ctx, tenant)
}
