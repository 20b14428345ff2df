package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

const terminalsUsage = `Usage: ringside terminals <command> [flags]

Commands:
  list    list the extensions of a tenant that have a default terminal
  show    show the terminal click-to-call rings first for one extension
  reset   forget an extension's default terminal (click-to-call rings the extension again)

Every command takes -config FILE and -tenant ID (default pbx.default_tenant);
show and reset take -extension N. Users set their default terminal by dialling
*037 (this desk phone or softphone) or 3037 (a mobile number).
The store is opened like 'ringside zoho' opens it: with the embedded store and
the daemon running, through nats.listen.
`

// cmdTerminals dispatches `ringside terminals <command>`.
func cmdTerminals(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, terminalsUsage)
		return errUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "show", "reset":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, terminalsUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "ringside terminals: unknown command %q\n\n%s", sub, terminalsUsage)
		return errUsage
	}
	synopsis := "terminals " + sub + " [-config FILE] [-tenant ID] -extension N"
	if sub == "list" {
		synopsis = "terminals list [-config FILE] [-tenant ID]"
	}
	fs := newFlagSet("terminals "+sub, synopsis, stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	tenant := fs.String("tenant", "", "tenant id (default: pbx.default_tenant)")
	var ext *string
	if sub != "list" {
		ext = fs.String("extension", "", "extension number")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if ext != nil && *ext == "" {
		fmt.Fprintf(stderr, "ringside terminals %s: -extension is required\n", sub)
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	if *tenant == "" {
		*tenant = cfg.PBX.DefaultTenant
	}
	if !events.ValidToken(*tenant) {
		fmt.Fprintf(stderr, "ringside terminals %s: invalid tenant %q\n", sub, *tenant)
		return errUsage
	}
	ac, err := openAdmin(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer ac.close()
	if _, err := ac.dir.Tenant(ctx, ac.actor, *tenant); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no tenant %s", *tenant)
	} else if err != nil {
		return ac.explain(err, *tenant)
	}
	switch sub {
	case "list":
		ts, err := ac.terminals(ctx, *tenant)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			fmt.Fprintf(stdout, "No default terminal set in tenant %s: click-to-call rings each extension itself.\n", *tenant)
			return nil
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "EXTENSION\tDEFAULT TERMINAL\tSET AT")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\n", t.Extension, clicktocall.Describe(t), setAt(t))
		}
		return w.Flush()
	case "show":
		u, err := ac.dir.User(ctx, ac.actor, *tenant, *ext)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("tenant %s has no extension %s", *tenant, *ext)
		} else if err != nil {
			return ac.explain(err, *tenant)
		}
		t := store.Terminal{Tenant: *tenant, Extension: *ext, Device: u.Device} // none set: the extension itself
		if u.Terminal != nil {
			t = *u.Terminal
		}
		fmt.Fprintf(stdout, "%s\t%s", t.Extension, clicktocall.Describe(t))
		if t.Kind == "" {
			fmt.Fprint(stdout, " (no default terminal set)")
		} else {
			fmt.Fprintf(stdout, " (set %s)", setAt(t))
		}
		fmt.Fprintln(stdout)
		return nil
	default:
		if err := ac.dir.ResetTerminal(ctx, ac.actor, *tenant, *ext); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("tenant %s has no extension %s", *tenant, *ext)
		} else if err != nil {
			return ac.explain(err, *tenant)
		}
		fmt.Fprintf(stdout, "Default terminal of extension %s (tenant %s) reset: click-to-call rings the extension itself.\n", *ext, *tenant)
		return nil
	}
}

// terminals lists the default terminals of a tenant's extensions that have
// one, ordered by extension, from every page of the users table.
func (ac *adminCmd) terminals(ctx context.Context, tenant string) ([]store.Terminal, error) {
	var out []store.Terminal
	for off := 0; ; {
		rows, total, err := ac.dir.Users(ctx, ac.actor, tenant, directory.Query{Page: store.Page{Offset: off, Limit: store.MaxLimit}})
		if err != nil {
			return nil, ac.explain(err, tenant)
		}
		for _, u := range rows {
			if u.Terminal != nil {
				out = append(out, *u.Terminal)
			}
		}
		off += len(rows)
		if len(rows) == 0 || off >= total {
			return out, nil
		}
	}
}

func setAt(t store.Terminal) string {
	if t.SetAt.IsZero() {
		return "-"
	}
	return t.SetAt.UTC().Format(time.RFC3339)
}
