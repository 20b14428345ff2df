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

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
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

// demoNames are the demo org's users, linked to extensions 1001 upwards.
var demoNames = []string{"Ana", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gia", "Hal", "Ida", "Jo"}

// demoCallers are the numbers the demo's customers call from; the first
// len(demoContacts) are Contacts in every demo org, the others unknown.
var demoCallers = []string{"+4930123456", "+4989555010", "+34915550123", "+442079460001", "+33155550177",
	"+4940555020", "+12125550143", "+390655501", "+4969555030", "+31205550190", "+4917655504", "+34935550111"}

var demoContacts = []string{"Eva Meyer", "Jonas Weber", "Lucía Romero", "Oliver Smith", "Chloé Martin",
	"Mia Fischer", "Noah Miller", "Giulia Conti"}

func startDemoZoho(tenants []string, mode store.ZohoMode) (*demoZoho, error) {
	sim := zohosim.New(zohosim.Options{})
	if err := sim.Start(); err != nil {
		return nil, fmt.Errorf("zoho simulator: %w", err)
	}
	d := &demoZoho{sim: sim, mode: mode, tenants: tenants, users: map[string]string{}}
	for i, t := range tenants {
		var us []zohosim.User
		for j, n := range append(demoNames[:demoExtensions:demoExtensions], "Boss") {
			id := fmt.Sprintf("%d%03d", 9+i, j+1)
			us = append(us, zohosim.User{ID: id, ZohoUser: "pb-" + id, Email: strings.ToLower(n) + "@" + t + ".example",
				Name: n + " (" + t + ")", Admin: j == 0})
			d.users[id] = n
		}
		sim.AddOrg("org-"+t, demoDCs[i%len(demoDCs)], us...)
		for k, name := range demoContacts {
			first, last, _ := strings.Cut(name, " ")
			sim.AddRecord("org-"+t, "Contacts", zohosim.Record{"First_Name": first, "Last_Name": last,
				"Full_Name": name, "Phone": demoCallers[k]})
		}
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
// data centre) with Boss as the default responsible user, reads the
// simulated PBX's extensions, and links 1001..1008 to the org's users
// through the admin service, as an admin would (which registers their
// click-to-dial and call-control URLs at Zoho); 1009 and 1010 stay for
// the visitor to link in the portal.
func (d *demoZoho) prepare(ctx context.Context, s services) error {
	if s.zoho == nil {
		return errors.New("demo: zoho is not wired")
	}
	demo := demoActor
	if _, err := s.dir.Discover(ctx, demo, ""); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for i, t := range d.tenants {
		org := "org-" + t
		if _, err := ensureTenant(ctx, s.store, t); err != nil {
			return err
		}
		rt := d.sim.SelfClientToken(org, "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.coql.READ,PhoneBridge.call.log")
		if err := s.zoho.client.ImportRefreshToken(ctx, t, rt, d.sim.AccountsURL(demoDCs[i%len(demoDCs)])); err != nil {
			return err
		}
		boss := fmt.Sprintf("%d011", 9+i)
		if _, err := s.dir.UpdateTenant(ctx, demo, t, directory.TenantChange{Mode: &d.mode, DefaultUser: &boss}); err != nil {
			return err
		}
		for j := range 8 {
			ext, id := fmt.Sprintf("%d", 1001+j), fmt.Sprintf("%d%03d", 9+i, j+1)
			if _, err := s.dir.Link(ctx, demo, t, ext, id); err != nil && !errors.Is(err, store.ErrConflict) { // conflict: an earlier run on the same -data
				return err
			}
		}
	}
	return nil
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
