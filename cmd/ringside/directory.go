package main

import (
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
		AllowInsecureWebhooks: cfg.Webhooks.Insecure(),
		URLs: func(tenant string) (string, map[string]string) {
			return clicktocall.ClickToDialURL(cfg.HTTP.PublicURL, tenant), clicktocall.CallControlURLs(cfg.HTTP.PublicURL, tenant)
		},
	}
	if zc != nil {
		z := zoho.Directory{Client: zc, ParamName: cfg.ClickToCall.AuthParam}
		o.Zoho, o.Connector = z, z
	}
	return directory.New(o)
}
