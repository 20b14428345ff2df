package main

import (
	"context"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
)

// mountAPI mounts the JSON API under /api/v1, with the live calls board of
// GET /tenants/{tenant}/calls.
func mountAPI(ctx context.Context, a adminSide) error {
	board, stop, err := followLiveCalls(ctx, a)
	if err != nil {
		return err
	}
	h, err := adminapi.New(adminapi.Options{Directory: a.dir, Live: board, TokenTTL: a.cfg.Admin.TokenTTL, Logger: a.log, Registerer: a.reg})
	if err != nil {
		_ = stop()
		return err
	}
	a.srv.Handle(adminapi.Prefix, h)
	return nil
}
