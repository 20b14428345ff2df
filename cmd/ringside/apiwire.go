package main

import (
	"github.com/ringside/ringside/adapters/httpapi/adminapi"
)

// mountAPI mounts the JSON API under /api/v1.
func mountAPI(a adminSide) error {
	h, err := adminapi.New(adminapi.Options{Directory: a.dir, Live: a.live, TokenTTL: a.cfg.Admin.TokenTTL, Logger: a.log, Registerer: a.reg})
	if err != nil {
		return err
	}
	a.srv.Handle(adminapi.Prefix, h)
	return nil
}
