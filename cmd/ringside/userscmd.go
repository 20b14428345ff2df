package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

const usersUsage = `Usage: ringside users <command> [flags]

Commands:
  list    the users table: each PBX extension with its Zoho user and switches
  link    link an extension to a Zoho user: -extension N -zoho-user ID|EMAIL
  unlink  unlink an extension: -extension N
  set     switch a linked user's call notifications and click-to-call

Every command takes -config FILE and -tenant ID (default pbx.default_tenant);
list takes -json to print what the JSON API answers.
Extensions come from the PBX: the daemon discovers them. Linking needs the
tenant connected to Zoho ('ringside zoho connect'); in phonebridge mode it
registers the user's click-to-dial and call-control URLs at Zoho, and
unlinking removes them. A new link has both switches on; click-to-call
requires call notifications. The store is opened like 'ringside zoho' opens
it.
`

// cmdUsers dispatches `ringside users <command>`.
func cmdUsers(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand("users", usersUsage, []string{"list", "link", "unlink", "set"}, args, stdout, stderr)
	if sub == "" {
		return err
	}
	synopsis := map[string]string{
		"list":   "users list [-config FILE] [-tenant ID] [-search S] [-linked | -unlinked] [-offset N] [-limit N] [-json]",
		"link":   "users link [-config FILE] [-tenant ID] -extension N -zoho-user ID|EMAIL",
		"unlink": "users unlink [-config FILE] [-tenant ID] -extension N",
		"set":    "users set [-config FILE] [-tenant ID] -extension N [-notifications on|off] [-click-to-call on|off]",
	}[sub]
	fs := newFlagSet("users "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	tenant := fs.String("tenant", "", "tenant id (default: pbx.default_tenant)")
	var ext, who, search *string
	var linked, unlinked, asJSON *bool
	var offset, limit *int
	var notif, click toggleFlag
	if sub == "list" {
		search = fs.String("search", "", "only rows whose extension, name, Zoho login or Zoho name contains this")
		linked = fs.Bool("linked", false, "only linked extensions")
		unlinked = fs.Bool("unlinked", false, "only extensions not linked")
		offset = fs.Int("offset", 0, "skip this many rows")
		limit = fs.Int("limit", store.DefaultLimit, fmt.Sprintf("show at most this many rows (up to %d)", store.MaxLimit))
		asJSON = fs.Bool("json", false, "print what the JSON API answers (GET /api/v1/tenants/{tenant}/users) instead of a table")
	} else {
		ext = fs.String("extension", "", "extension number")
	}
	switch sub {
	case "link":
		who = fs.String("zoho-user", "", "the Zoho user: email, PhoneBridge id or CRM user id (see 'ringside zoho users')")
	case "set":
		fs.Var(&notif, "notifications", "`on|off`: screen pops and call logs for this user (off turns click-to-call off)")
		fs.Var(&click, "click-to-call", "`on|off`: Zoho's click-to-dial rings this user (needs notifications)")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case ext != nil && *ext == "":
		return usageError(fs, "-extension is required")
	case who != nil && *who == "":
		return usageError(fs, "-zoho-user is required")
	case sub == "set" && store.Toggle(notif) == store.Keep && store.Toggle(click) == store.Keep:
		return usageError(fs, "nothing to change: give -notifications or -click-to-call")
	case sub == "list" && *linked && *unlinked:
		return usageError(fs, "-linked and -unlinked exclude each other")
	case sub == "list" && (*offset < 0 || *limit < 1):
		return usageError(fs, fmt.Sprintf("-offset must be at least 0 and -limit at least 1, got %d and %d", *offset, *limit))
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if err := resolveTenant(fs, tenant, cfg); err != nil {
		return err
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	t, err := ac.tenant(ctx, *tenant)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		q := directory.Query{Search: *search, Page: store.Page{Offset: *offset, Limit: *limit}}
		if *linked || *unlinked {
			q.Linked = linked
		}
		return ac.listUsers(ctx, t.ID, q, *asJSON, stdout)
	case "link":
		l, err := ac.dir.Link(ctx, ac.actor, t.ID, *ext, *who)
		if err != nil {
			return ac.linkError(ctx, t.ID, *ext, *who, err)
		}
		fmt.Fprintf(stdout, "Extension %s linked to %s (%s): notifications on, click-to-call on.\n", l.Extension, l.Email, l.Name)
		if t.Settings.Mode == store.ModePhoneBridge {
			fmt.Fprintln(stdout, "Its click-to-dial and call-control URLs are registered at Zoho.")
		}
		return nil
	case "unlink":
		u, err := ac.dir.Unlink(ctx, ac.actor, t.ID, *ext)
		if errors.Is(err, store.ErrNotFound) {
			return ac.notLinked(ctx, t.ID, *ext)
		} else if err != nil {
			return ac.explain(err, t.ID)
		}
		fmt.Fprintf(stdout, "Extension %s unlinked from %s.\n", *ext, u.Link.Email)
		if u.ZohoWarning != "" {
			fmt.Fprintf(stderr, "warning: %s; Zoho may still offer click-to-dial to %s, but Ringside refuses it.\n", u.ZohoWarning, u.Link.Email)
		}
		return nil
	default:
		l, err := ac.dir.SetSwitches(ctx, ac.actor, t.ID, *ext, store.SwitchChange{Notifications: store.Toggle(notif), ClickToCall: store.Toggle(click)})
		switch {
		case errors.Is(err, store.ErrClickToCallNeedsNotifications):
			return errors.New("click-to-call requires call notifications: turn them on with it (-notifications on -click-to-call on); nothing changed")
		case errors.Is(err, store.ErrNotFound):
			return ac.notLinked(ctx, t.ID, *ext)
		case err != nil:
			return ac.explain(err, t.ID)
		}
		fmt.Fprintf(stdout, "Extension %s (%s): notifications %s, click-to-call %s.\n", l.Extension, l.Email,
			onOff(l.Switches.Notifications), onOff(l.Switches.ClickToCall))
		return nil
	}
}

// listUsers prints one page of the users table and where it is in the
// whole, or with asJSON what the JSON API answers.
func (ac *adminCmd) listUsers(ctx context.Context, tenant string, q directory.Query, asJSON bool, stdout io.Writer) error {
	rows, total, err := ac.dir.Users(ctx, ac.actor, tenant, q)
	if err != nil {
		return ac.explain(err, tenant)
	}
	if asJSON {
		return adminapi.WriteBody(stdout, adminapi.UsersView(rows, total, q.Page))
	}
	if total == 0 && q.Search == "" && q.Linked == nil {
		fmt.Fprintf(stdout, "Tenant %s has no extensions yet: the daemon discovers them from the PBX.\n", tenant)
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintf(stdout, "showing 0 of %d\n", total)
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EXTENSION\tNAME\tZOHO LOGIN\tZOHO NAME\tLINKED\tNOTIFICATIONS\tCLICK-TO-CALL\tTERMINAL")
	for _, u := range rows {
		login, name, linked, notif, click := "-", "-", "off", "-", "-"
		if l := u.Link; l != nil {
			login, name, linked = dash(l.Email), dash(l.Name), "on"
			notif, click = onOff(l.Switches.Notifications), onOff(l.Switches.ClickToCall)
		}
		term := "-"
		if u.Terminal != nil {
			term = clicktocall.Describe(*u.Terminal)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Number, dash(u.Name), login, name, linked, notif, click, term)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "showing %d–%d of %d\n", q.Offset+1, q.Offset+len(rows), total)
	return nil
}

// noExtension says that an extension does not exist.
func noExtension(tenant, ext string) error {
	return fmt.Errorf("extension %s does not exist in tenant %s (extensions come from the PBX; check `ringside users list -tenant %s`)", ext, tenant, tenant)
}

// notLinked explains an ErrNotFound of unlink and set: the extension does
// not exist, or it is not linked.
func (ac *adminCmd) notLinked(ctx context.Context, tenant, ext string) error {
	if _, err := ac.dir.User(ctx, ac.actor, tenant, ext); errors.Is(err, store.ErrNotFound) {
		return noExtension(tenant, ext)
	}
	return fmt.Errorf("extension %s of tenant %s is not linked (link it with `ringside users link -extension %s -zoho-user ID|EMAIL`)", ext, tenant, ext)
}

// linkError explains why a link failed.
func (ac *adminCmd) linkError(ctx context.Context, tenant, ext, who string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, uerr := ac.dir.User(ctx, ac.actor, tenant, ext); errors.Is(uerr, store.ErrNotFound) {
			return noExtension(tenant, ext)
		}
		return fmt.Errorf("no user %q in the Zoho org of tenant %s (see `ringside zoho users -tenant %s`)", who, tenant, tenant)
	case errors.Is(err, store.ErrConflict):
		if u, uerr := ac.dir.User(ctx, ac.actor, tenant, ext); uerr == nil && u.Link != nil {
			return fmt.Errorf("extension %s is already linked to %s (unlink it first with `ringside users unlink -extension %s`)", ext, u.Link.Email, ext)
		}
		us, uerr := ac.dir.ZohoUsers(ctx, ac.actor, tenant)
		for _, u := range us {
			if uerr == nil && u.Extension != "" && (u.ID == who || u.CRMUserID == who || strings.EqualFold(u.Email, who)) {
				return fmt.Errorf("Zoho user %s is already linked to extension %s (unlink that first with `ringside users unlink -extension %s`)",
					u.Email, u.Extension, u.Extension)
			}
		}
	}
	return ac.explain(err, tenant)
}

// toggleFlag is an on|off flag; unset it keeps the switch.
type toggleFlag store.Toggle

func (f *toggleFlag) String() string {
	switch store.Toggle(*f) {
	case store.On:
		return "on"
	case store.Off:
		return "off"
	}
	return ""
}

func (f *toggleFlag) Set(v string) error {
	switch v {
	case "on":
		*f = toggleFlag(store.On)
	case "off":
		*f = toggleFlag(store.Off)
	default:
		return fmt.Errorf("want on or off, got %q", v)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
