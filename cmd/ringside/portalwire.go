package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/adapters/httpapi/portal"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/livecalls"
)

// mountPortal mounts the web portal at the root of the HTTP server, with
// its live calls board.
func mountPortal(ctx context.Context, a adminSide) error {
	board, stop, err := followLiveCalls(ctx, a)
	if err != nil {
		return err
	}
	accounts := ""
	var selfLinks *directory.SelfLinks
	if zohoEnabled(a.cfg) {
		accounts = a.cfg.Zoho.AccountsURL
		// Identifying who signs in needs no tenant's token, only the OAuth
		// client: a client of its own (its metrics unregistered), as
		// adminSide carries no Zoho client.
		zc, err := newZohoClient(a.cfg, a.st, a.log, prometheus.NewRegistry())
		if err != nil {
			_ = stop()
			return err
		}
		selfLinks = a.dir.SelfLinks(zoho.Identifier{Client: zc})
	}
	p, err := portal.New(portal.Options{
		Directory: a.dir, Live: board, SelfLinks: selfLinks, PublicURL: a.cfg.HTTP.PublicURL, ZohoAccountsURL: accounts,
		SessionTTL: a.cfg.Admin.SessionTTL, LoginAttempts: a.cfg.Admin.LoginAttempts, LoginWindow: a.cfg.Admin.LoginWindow,
		Logger: a.log, Registerer: a.reg,
	})
	if err != nil {
		_ = stop()
		return err
	}
	p.Mount(a.srv)
	a.log.Info("web portal", zap.String("url", a.cfg.HTTP.PublicURL+"/"))
	return nil
}

// followLiveCalls returns a live calls board following every tenant's call
// events on a NATS core subscription until ctx ends, and the function that
// ends it sooner. The portal and the JSON API each follow with their own
// board (adminSide has none to share): a few hundred rows per tenant at
// most.
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
