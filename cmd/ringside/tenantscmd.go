package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

const tenantsUsage = `Usage: ringside tenants <command> [flags]

Commands:
  list    list the tenants (companies) with their Zoho connection
  add     add a tenant: -id ID [-name N]
  show    show a tenant's settings, Zoho connection and users
  set     change a tenant's name and settings
  delete  unlink every user of a tenant (unregistering them at Zoho) and remove it

Every command takes -config FILE; show and set take -tenant ID (default
pbx.default_tenant), delete takes -tenant ID and -yes; list and show take
-json to print what the JSON API answers. set changes only what is given:
  -name N                      the display name
  -mode rest|phonebridge       how the tenant talks to Zoho
  -region CC                   where numbers without a country code are (DE)
  -default-user ID|EMAIL|""    the Zoho user who owns calls and tasks that
                               have no owner ("" clears it)
  -feature name=on|off         switch a feature, repeatable (leads_inbound,
                               leads_outbound, missed_call_task, ...)
  -internal-policy skip|log|light
                               what internal calls leave in the CRM
  -technical-extensions LIST   extensions that are no person, never logged:
                               globs, comma-separated ("8*,fax"; "" clears)
  -own-numbers LIST            the tenant's own numbers, never made leads:
                               E.164 numbers or prefixes ("+4930999*"; "" clears)
  -lead-module Leads|Contacts|""
                               where unknown callers become records ("":
                               crm.leads.module)
The Zoho connection itself is made with 'ringside zoho connect'. The store
is opened like 'ringside zoho' opens it.
`

// cmdTenants dispatches `ringside tenants <command>`.
func cmdTenants(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("tenants", tenantsUsage, []string{"list", "add", "show", "set", "delete"}, args, stdout, stderr)
	if sub == "" {
		return err
	}
	synopsis := map[string]string{
		"list": "tenants list [-config FILE] [-json]",
		"add":  "tenants add [-config FILE] -id ID [-name N]",
		"show": "tenants show [-config FILE] [-tenant ID] [-json]",
		"set": "tenants set [-config FILE] [-tenant ID] [-name N] [-mode rest|phonebridge] [-region CC] " +
			"[-default-user ID|EMAIL|\"\"] [-feature name=on|off ...] [-internal-policy skip|log|light] " +
			"[-technical-extensions LIST] [-own-numbers LIST] [-lead-module Leads|Contacts|\"\"]",
		"delete": "tenants delete [-config FILE] -tenant ID [-yes]",
	}[sub]
	fs := newFlagSet("tenants "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	var tenant, id, name, mode, region, defaultUser *string
	var internalPolicy, technical, ownNumbers, leadModule *string
	var yes, asJSON *bool
	features := featureFlag{}
	if sub == "list" || sub == "show" {
		asJSON = fs.Bool("json", false, "print what the JSON API answers (GET /api/v1/tenants…) instead of a table")
	}
	switch sub {
	case "add":
		id = fs.String("id", "", "tenant id: the tenant's token in call subjects (letters, digits, - and _)")
	case "show", "set":
		tenant = fs.String("tenant", "", "tenant id (default: pbx.default_tenant)")
	case "delete":
		tenant = fs.String("tenant", "", "tenant id (required)")
		yes = fs.Bool("yes", false, "do it (without -yes, say what would happen)")
	}
	if sub == "add" || sub == "set" {
		name = fs.String("name", "", "display name (add: default the id)")
	}
	if sub == "set" {
		mode = fs.String("mode", "", "rest or phonebridge")
		region = fs.String("region", "", "ISO 3166-1 region for numbers without a country code, e.g. DE")
		defaultUser = fs.String("default-user", "", `Zoho user (id or email) who owns calls and tasks without an owner; "" clears it`)
		fs.Var(features, "feature", "`name=on|off`: switch a feature (repeatable)")
		internalPolicy = fs.String("internal-policy", "", "what internal calls leave in the CRM: skip, log or light")
		technical = fs.String("technical-extensions", "", `extensions that are no person (fax, paging, IVR, queues), never logged: globs, comma-separated; "" clears`)
		ownNumbers = fs.String("own-numbers", "", `the tenant's own numbers, never made leads: E.164 numbers or prefixes ending in *, comma-separated; "" clears`)
		leadModule = fs.String("lead-module", "", `where unknown callers become records: Leads or Contacts; "" for crm.leads.module`)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case sub == "add" && *id == "":
		return usageError(fs, "-id is required")
	case sub == "delete" && *tenant == "":
		return usageError(fs, "-tenant is required")
	case sub == "set" && !set["name"] && !set["mode"] && !set["region"] && !set["default-user"] && !set["feature"] &&
		!set["internal-policy"] && !set["technical-extensions"] && !set["own-numbers"] && !set["lead-module"]:
		return usageError(fs, "nothing to change: give -name, -mode, -region, -default-user, -feature, -internal-policy, "+
			"-technical-extensions, -own-numbers or -lead-module")
	case sub == "set" && set["mode"] && *mode != string(store.ModeREST) && *mode != string(store.ModePhoneBridge):
		return usageError(fs, fmt.Sprintf("-mode must be rest or phonebridge, got %q", *mode))
	case sub == "set" && set["internal-policy"] && !slices.Contains([]string{"skip", "log", "light"}, *internalPolicy):
		return usageError(fs, fmt.Sprintf("-internal-policy must be skip, log or light, got %q", *internalPolicy))
	case sub == "set" && set["lead-module"] && !slices.Contains([]string{"", "Leads", "Contacts"}, *leadModule):
		return usageError(fs, fmt.Sprintf(`-lead-module must be Leads, Contacts or "", got %q`, *leadModule))
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if tenant != nil {
		if err := resolveTenant(fs, tenant, cfg); err != nil {
			return err
		}
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	switch sub {
	case "list":
		ts, err := ac.dir.Tenants(ctx, ac.actor)
		if err != nil {
			return ac.explain(err, "")
		}
		if *asJSON {
			return adminapi.WriteBody(stdout, adminapi.TenantsView(ts))
		}
		if len(ts) == 0 {
			fmt.Fprintln(stdout, "No tenants yet: add one with `ringside tenants add -id ID` (the daemon adds pbx.default_tenant itself).")
			return nil
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tMODE\tREGION\tZOHO\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, dash(string(t.Settings.Mode)), dash(t.Settings.Region),
				t.Zoho.Status, t.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	case "add":
		t, err := ac.dir.CreateTenant(ctx, ac.actor, *id, *name)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("tenant %s exists already (see `ringside tenants show -tenant %s`)", *id, *id)
		} else if err != nil {
			return ac.explain(err, *id)
		}
		fmt.Fprintf(stdout, "Tenant %s (%s) added. Connect it to its Zoho org with: ringside zoho connect -tenant %s\n", t.ID, t.Name, t.ID)
		return nil
	case "show":
		t, err := ac.tenant(ctx, *tenant)
		if err != nil {
			return err
		}
		if *asJSON {
			return adminapi.WriteBody(stdout, adminapi.TenantView(t))
		}
		return ac.showTenant(ctx, t, stdout)
	case "set":
		if _, err := ac.tenant(ctx, *tenant); err != nil {
			return err
		}
		var c directory.TenantChange
		if set["name"] {
			c.Name = name
		}
		if set["mode"] {
			m := store.ZohoMode(*mode)
			c.Mode = &m
		}
		if set["region"] {
			c.Region = region
		}
		if set["default-user"] {
			c.DefaultUser = defaultUser
		}
		if len(features) > 0 {
			c.Features = features
		}
		if set["internal-policy"] {
			p := store.InternalPolicy(*internalPolicy)
			c.InternalPolicy = &p
		}
		if set["technical-extensions"] {
			l := splitList(*technical)
			c.TechnicalExtensions = &l
		}
		if set["own-numbers"] {
			l := splitList(*ownNumbers)
			c.OwnNumbers = &l
		}
		if set["lead-module"] {
			c.LeadModule = leadModule
		}
		t, err := ac.dir.UpdateTenant(ctx, ac.actor, *tenant, c)
		if errors.Is(err, store.ErrNotFound) && set["default-user"] {
			return fmt.Errorf("no user %q in the Zoho org of tenant %s (see `ringside zoho users -tenant %s`); nothing changed", *defaultUser, *tenant, *tenant)
		} else if err != nil {
			return fmt.Errorf("%v; nothing changed", ac.explain(err, *tenant))
		}
		fmt.Fprintf(stdout, "Tenant %s changed.\n", t.ID)
		return ac.showTenant(ctx, t, stdout)
	default:
		if _, err := ac.tenant(ctx, *tenant); err != nil {
			return err
		}
		_, linked, err := ac.counts(ctx, *tenant)
		if err != nil {
			return err
		}
		if !*yes {
			return fmt.Errorf("not deleted without -yes: deleting tenant %s unlinks its %d linked users (unregistering them at Zoho) "+
				"and removes it with its extensions, default terminals, settings and Zoho connection; its admin accounts stay", *tenant, linked)
		}
		if err := ac.dir.DeleteTenant(ctx, ac.actor, *tenant); err != nil {
			return ac.explain(err, *tenant)
		}
		fmt.Fprintf(stdout, "Tenant %s deleted; %d users were unlinked.\n", *tenant, linked)
		return nil
	}
}

// tenant reads a tenant, saying so when it does not exist.
func (ac *adminCmd) tenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := ac.dir.Tenant(ctx, ac.actor, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, fmt.Errorf("tenant %s does not exist (see `ringside tenants list`)", id)
	} else if err != nil {
		return t, ac.explain(err, id)
	}
	return t, nil
}

// showTenant prints a tenant as a two-column table.
func (ac *adminCmd) showTenant(ctx context.Context, t store.Tenant, stdout io.Writer) error {
	exts, linked, err := ac.counts(ctx, t.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s\t%s\n", k, v) }
	row("tenant", t.ID)
	row("name", t.Name)
	mode := string(t.Settings.Mode)
	if mode == "" {
		mode = "off (no mode set)"
	}
	row("mode", mode)
	row("region", dash(t.Settings.Region))
	row("default user", dash(t.Settings.DefaultUser))
	var on []string
	for _, f := range slices.Sorted(maps.Keys(t.Settings.Features)) {
		if t.Settings.Features[f] {
			on = append(on, f)
		}
	}
	row("features on", dash(strings.Join(on, ",")))
	policy := string(t.Settings.InternalPolicy)
	if policy == "" {
		policy = string(store.InternalSkip)
	}
	row("internal calls", policy)
	row("technical extensions", dash(strings.Join(t.Settings.TechnicalExtensions, ",")))
	row("own numbers", dash(strings.Join(t.Settings.OwnNumbers, ",")))
	leadMod := t.Settings.LeadModule
	if leadMod == "" {
		leadMod = "default (crm.leads.module)"
	}
	row("lead module", leadMod)
	row("zoho", string(t.Zoho.Status))
	if t.Zoho.Location != "" {
		row("zoho location", t.Zoho.Location)
	}
	if !t.Zoho.ConnectedAt.IsZero() {
		row("connected at", t.Zoho.ConnectedAt.UTC().Format(time.RFC3339))
	}
	row("users", fmt.Sprintf("%d extensions, %d linked", exts, linked))
	row("created at", t.CreatedAt.UTC().Format(time.RFC3339))
	return w.Flush()
}

// counts says how many extensions a tenant has, and how many are linked.
func (ac *adminCmd) counts(ctx context.Context, tenant string) (exts, linked int, err error) {
	if _, exts, err = ac.dir.Users(ctx, ac.actor, tenant, directory.Query{Page: store.Page{Limit: 1}}); err != nil {
		return 0, 0, ac.explain(err, tenant)
	}
	yes := true
	if _, linked, err = ac.dir.Users(ctx, ac.actor, tenant, directory.Query{Linked: &yes, Page: store.Page{Limit: 1}}); err != nil {
		return 0, 0, ac.explain(err, tenant)
	}
	return exts, linked, nil
}

// featureFlag collects -feature name=on|off.
type featureFlag map[string]bool

func (f featureFlag) String() string { return "" }

func (f featureFlag) Set(v string) error {
	name, state, ok := strings.Cut(v, "=")
	on, known := map[string]bool{"on": true, "off": false}[state]
	if !ok || name == "" || !known {
		return fmt.Errorf("want name=on or name=off, got %q", v)
	}
	f[name] = on
	return nil
}
