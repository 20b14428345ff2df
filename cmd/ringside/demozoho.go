package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/adapters/zoho"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/store"
)

// demoZoho is the demo's Zoho: the simulator in this process, one org per
// demo tenant (in different data centres), ten users each linked to
// extensions 1001..1010, and Boss, the tenant's default user, who owns the
// calls of the other extensions.
type demoZoho struct {
	sim     *zohosim.Server
	mode    store.ZohoMode
	tenants []string
	users   map[string]string // CRM user id -> name
}

var demoDCs = []string{"eu", "us", "in"}

func startDemoZoho(tenants []string, mode store.ZohoMode) (*demoZoho, error) {
	sim := zohosim.New(zohosim.Options{})
	if err := sim.Start(); err != nil {
		return nil, fmt.Errorf("zoho simulator: %w", err)
	}
	d := &demoZoho{sim: sim, mode: mode, tenants: tenants, users: map[string]string{}}
	names := []string{"Ana", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gia", "Hal", "Ida", "Jo", "Boss"}
	for i, t := range tenants {
		var us []zohosim.User
		for j, n := range names {
			id := fmt.Sprintf("%d%03d", 9+i, j+1)
			us = append(us, zohosim.User{ID: id, ZohoUser: "pb-" + id, Email: strings.ToLower(n) + "@" + t + ".example",
				Name: n + " (" + t + ")", Admin: j == 0})
			d.users[id] = n
		}
		sim.AddOrg("org-"+t, demoDCs[i%len(demoDCs)], us...)
	}
	return d, nil
}

func (d *demoZoho) Close() { d.sim.Close() }

// configure points the configuration's Zoho side at the simulator, with a
// fresh token key in dir, and signs recording links with a fresh key (the
// simulated calls' recordings are not on this host: their links answer
// 404, like a recording deleted on the PBX).
func (d *demoZoho) configure(cfg *config.Config, dir string) error {
	var err error
	if cfg.Zoho.TokenKeyFile, err = writeKey(dir, "zoho-token.key"); err != nil {
		return err
	}
	if cfg.Recordings.KeyFile == "" {
		if cfg.Recordings.KeyFile, err = writeKey(dir, "recordings.key"); err != nil {
			return err
		}
	}
	cfg.Zoho.AccountsURL, cfg.Zoho.APIURL = d.sim.AccountsURL("us"), d.sim.APIDomain("us")
	cfg.Zoho.ClientID, cfg.Zoho.ClientSecret = d.sim.ClientID(), config.Secret(d.sim.ClientSecret())
	return nil
}

// writeKey writes a fresh random 32-byte key, hex, to dir/name.
func writeKey(dir, name string) (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		return "", fmt.Errorf("demo: %s: %w", name, err)
	}
	return path, nil
}

// prepare connects every demo tenant to its org (a Self Client token of its
// data centre), links extensions 1001..1010 to the org's users with
// click-to-call on, and registers their click-to-dial and call-control
// URLs at Zoho. (The demo's PBX is a call generator that places no calls:
// a click there is answered 503 and reported to the user as
// notavailable.)
func (d *demoZoho) prepare(ctx context.Context, s services) error {
	if s.zoho == nil {
		return errors.New("demo: zoho is not wired")
	}
	for i, t := range d.tenants {
		org := "org-" + t
		if _, err := ensureTenant(ctx, s.store, t); err != nil {
			return err
		}
		if err := setTenantSettings(ctx, s.store, t, d.mode, ""); err != nil {
			return err
		}
		if err := setDefaultUser(ctx, s.store, t, fmt.Sprintf("%d011", 9+i)); err != nil {
			return err
		}
		rt := d.sim.SelfClientToken(org, "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.coql.READ,PhoneBridge.call.log")
		if err := s.zoho.client.ImportRefreshToken(ctx, t, rt, d.sim.AccountsURL(demoDCs[i%len(demoDCs)])); err != nil {
			return err
		}
		for j := range 10 {
			ext := fmt.Sprintf("%d", 1001+j)
			id := fmt.Sprintf("%d%03d", 9+i, j+1)
			if _, err := s.store.UpsertExtension(ctx, store.Extension{Tenant: t, Number: ext}); err != nil {
				return err
			}
			l, err := s.store.Link(ctx, store.Link{Tenant: t, Extension: ext, ZohoUser: "pb-" + id, Secret: zoho.NewSecret(),
				Email: strings.ToLower(d.users[id]) + "@" + t + ".example", Switches: store.Switches{Notifications: true, ClickToCall: true}})
			if errors.Is(err, store.ErrConflict) { // linked by an earlier run on the same -data
				l, err = s.store.LinkByExtension(ctx, t, ext)
			}
			if err != nil {
				return err
			}
			if err := registerClickToCall(ctx, s.zoho.client, s.cfg, l); err != nil {
				return err
			}
		}
	}
	return nil
}

func setDefaultUser(ctx context.Context, st store.Tenants, id, user string) error {
	for range 8 {
		t, err := st.Tenant(ctx, id)
		if err != nil {
			return err
		}
		t.Settings.DefaultUser = user
		if _, err = st.UpdateTenant(ctx, t); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("tenant %s: changed concurrently", id)
}

// report prints one line per call the simulated CRM logged, until ctx ends.
func (d *demoZoho) report(ctx context.Context, w io.Writer) {
	seen := map[string]bool{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, t := range d.tenants {
			recs := d.sim.Records("org-"+t, "Calls")
			sort.Slice(recs, func(i, j int) bool { return fmt.Sprint(recs[i]["id"]) < fmt.Sprint(recs[j]["id"]) })
			for _, r := range recs {
				id := fmt.Sprint(r["id"])
				if seen[id] {
					continue
				}
				seen[id] = true
				fmt.Fprintln(w, d.line(t, r))
			}
		}
	}
}

func (d *demoZoho) line(tenant string, r zohosim.Record) string {
	subject, _ := r["Subject"].(string)
	owner := "-"
	if o, ok := r["Owner"].(map[string]any); ok {
		owner = d.users[fmt.Sprint(o["id"])]
	} else if u, _ := r["PhoneBridge_User"].(string); u != "" {
		owner = d.users[strings.TrimPrefix(u, "pb-")]
	}
	dur, _ := r["Call_Duration"].(string)
	if dur == "" {
		dur = "--:--"
	}
	extra := ""
	if _, ok := r["Who_Id"]; ok {
		extra += " linked to a contact"
	}
	if desc, _ := r["Description"].(string); strings.Contains(desc, "/recordings/") {
		extra += " with recording"
	}
	if v, _ := r["Voice_Recording__s"].(string); v != "" {
		extra += " with recording"
	}
	return fmt.Sprintf("zoho crm  %-8s %-8v %-5s owner %-5s %s%s", tenant, r["Call_Type"], dur, owner, subject, extra)
}

// reporter runs report in an owned goroutine; stop waits for it.
func (d *demoZoho) reporter(w io.Writer) (start func(), stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	return func() { wg.Go(func() { d.report(ctx, w) }) }, func() { cancel(); wg.Wait() }
}
