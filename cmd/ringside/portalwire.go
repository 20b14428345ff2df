package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/httpapi/portal"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/livecalls"
)

// mountPortal mounts the web portal at the root of the HTTP server.
func mountPortal(a adminSide) error {
	accounts := ""
	var selfLinks *directory.SelfLinks
	if a.zoho != nil {
		accounts = a.cfg.Zoho.AccountsURL
		selfLinks = a.dir.SelfLinks(zoho.Identifier{Client: a.zoho})
	}
	p, err := portal.New(portal.Options{
		Directory: a.dir, Live: a.live, SelfLinks: selfLinks, PublicURL: a.cfg.HTTP.PublicURL, ZohoAccountsURL: accounts,
		SessionTTL: a.cfg.Admin.SessionTTL, LoginAttempts: a.cfg.Admin.LoginAttempts, LoginWindow: a.cfg.Admin.LoginWindow,
		Logger: a.log, Registerer: a.reg,
	})
	if err != nil {
		return err
	}
	p.Mount(a.srv)
	a.log.Info("web portal", zap.String("url", a.cfg.HTTP.PublicURL+"/"))
	return nil
}

// followLiveCalls returns the live calls board, following every tenant's
// call events on a NATS core subscription until ctx ends, and the function
// that ends it sooner.
func followLiveCalls(ctx context.Context, a adminSide) (*livecalls.Board, func() error, error) {
	board := livecalls.New(livecalls.Options{})
	stop, err := board.Follow(natsSubscriber{nc: a.bus.Conn()})
	if err != nil {
		return nil, nil, err
	}
	context.AfterFunc(ctx, func() {
		if err := stop(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			a.log.Warn("live calls: unsubscribe", zap.Error(err))
		}
	})
	return board, stop, nil
}

// natsSubscriber is livecalls.Subscriber on a NATS connection.
type natsSubscriber struct{ nc *nats.Conn }

func (s natsSubscriber) Subscribe(subject string, handle func([]byte)) (func() error, error) {
	sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) { handle(m.Data) })
	if err != nil {
		return nil, err
	}
	return sub.Unsubscribe, nil
}

// portalReturn is the Zoho client's AfterConnect: an admin who enabled
// Zoho in the portal goes back to the tenant's Zoho page; a connection
// started with `ringside zoho connect` keeps the callback's own page.
func portalReturn(r *http.Request, tenant string, err error) string {
	outcome := portal.ConnectOK
	switch {
	case errors.Is(err, zoho.ErrAccessDenied):
		outcome = portal.ConnectDenied
	case err != nil:
		outcome = portal.ConnectFailed
	}
	return portal.ZohoReturnURL(r, tenant, outcome)
}
